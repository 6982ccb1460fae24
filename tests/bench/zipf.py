"""The redirect under realistic traffic: many codes, scans spread over them by a Zipf law.

10,000 codes seeded directly into the database; a fixed, seeded sequence of paths drawn with
Zipf s = 1 (a few popular posters, a long tail) fed to wrk by a Lua script; wrk runs alternate
between OpenQR as shipped (`python app.py`, scans recorded) and a bare Flask 302 app fed the
same paths; then again with every code carrying 3 rules, a 2-way split and UTM parameters
(`redirect.SMART`), requested as a desktop browser. Then the size of the link table: RSS with
100,000 codes, and RSS, start-up and throughput with 1,000,000.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from itertools import accumulate
from pathlib import Path
from statistics import median

from sqlalchemy import create_engine

from tests.bench.redirect import DESKTOP, ROOT, SMART, free_port, rss_mb, wait_ready, wrk
from tests.support.databases import bench_database, upgrade

CODES = 10_000
PATHS = 100_000  # length of the fixed request sequence (wrk cycles through it)
SEED = 20_251_125
LUA = """
local paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def slug(rank: int) -> str:
    return f"z{rank:07d}"


def seed_codes(url: str, count: int, smart: dict | None = None) -> None:
    """`count` active codes (slugs z0000000...), written straight into the database; each with
    the smart destinations `smart` when given."""
    engine = create_engine(url)
    mark = "?" if engine.dialect.name == "sqlite" else "%s"
    smart_json = "NULL" if smart is None else "'" + json.dumps(smart).replace("'", "''") + "'"
    insert = (
        "INSERT INTO codes (id, workspace_id, slug, destination, style, status, created_at, updated_at, "
        "smart) "
        f"VALUES ({mark}, 1, {mark}, {mark}, '{{}}', 'active', '2025-01-01', '2025-01-01', {smart_json})"
    )
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO accounts (email, created_at, session_version) "
                "VALUES ('bench@example.com', '2025-01-01 00:00:00', 0)"
            )
            connection.exec_driver_sql(
                "INSERT INTO workspaces (id, name, created_at) VALUES (1, 'bench', '2025-01-01')"
            )
            for start in range(0, count, 50_000):
                rows = [
                    (f"{n:016x}", slug(n), f"https://example.com/products/{n}?ref=qr")
                    for n in range(start, min(count, start + 50_000))
                ]
                connection.exec_driver_sql(insert, rows)
    finally:
        engine.dispose()


def zipf_script(folder: Path, codes: int) -> Path:
    """A Lua script for wrk that requests a fixed Zipf(s=1) sequence of paths over `codes` slugs."""
    rng = random.Random(SEED)
    weights = list(accumulate(1 / rank for rank in range(1, codes + 1)))
    ranks = list(range(codes))
    rng.shuffle(ranks)  # popular codes are spread over the table, not the first rows
    paths = folder / f"zipf-{codes}.txt"
    picks = rng.choices(ranks, cum_weights=weights, k=PATHS)
    paths.write_text("".join(f"/{slug(n)}\n" for n in picks))
    script = folder / f"zipf-{codes}.lua"
    script.write_text(LUA % paths)
    return script


class Server:
    """`python app.py` on a seeded database, or the bare Flask baseline; RSS sampled while wrk runs."""

    def __init__(self, tmp: Path, database_url: str | None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if database_url is None:
            command, env, ready = (
                [sys.executable, "-m", "tests.bench.baselines", "flask", str(self.port)],
                None,
                "/",
            )
        else:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENQR_", "FLASK_"))}
            env.update(
                OPENQR_DATABASE_URL=database_url,
                OPENQR_INSTANCE_PATH=str(tmp / "instance"),
                OPENQR_PORT=str(self.port),
                OPENQR_LOG_LEVEL="WARNING",
            )
            command, ready = [sys.executable, "app.py"], "/healthz"
        started = time.monotonic()
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
        try:
            wait_ready(self.url + ready, self.process, timeout=300)
        except BaseException:
            self.stop()
            raise
        self.startup = time.monotonic() - started
        self.peak_rss = 0.0

    def rss(self) -> float:
        return rss_mb(self.process.pid)

    def run(self, script: Path, seconds: int, agent: str | None = None) -> dict:
        sampling = threading.Event()

        def sample():
            while not sampling.wait(0.25):
                self.peak_rss = max(self.peak_rss, self.rss())

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            return wrk(self.url + "/", seconds, script, agent)
        finally:
            sampling.set()
            sampler.join()

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def both_servers(tmp: Path, database_url: str) -> tuple[Server, Server]:
    """The bare Flask baseline and OpenQR on `database_url`; neither is left running on a failure."""
    flask = Server(tmp, None)
    try:
        return flask, Server(tmp, database_url)
    except BaseException:
        flask.stop()
        raise


def stored_scans(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.exec_driver_sql("SELECT count(*) FROM scans").scalar_one()
    finally:
        engine.dispose()


def _database(tmp: Path, codes: int, smart: dict | None = None):
    """A migrated database with `codes` codes (context manager yielding its URL)."""
    folder = tmp / f"db-{codes}{'-smart' if smart else ''}"
    folder.mkdir()
    context = bench_database(folder)
    url = context.__enter__()
    upgrade(url, folder)
    started = time.monotonic()
    seed_codes(url, codes, smart)
    print(f"  seeded {codes:,} codes in {time.monotonic() - started:.0f} s", flush=True)
    return context, url


def zipf_traffic(tmp: Path, quick: bool, smart: dict | None = None) -> list[tuple]:
    seconds, rounds = (3, 1) if quick else (10, 3)
    context, url = _database(tmp, CODES, smart)
    script = zipf_script(tmp, CODES)
    kind_of_codes = "smart codes (3 rules, split, UTM)" if smart else "codes"
    agent, label = (DESKTOP, "zipf smart") if smart else (None, "zipf")
    results = {"flask": [], "openqr": []}
    flask, openqr = both_servers(tmp, url)
    try:
        for round_no in range(rounds):
            order = ("flask", "openqr") if round_no % 2 == 0 else ("openqr", "flask")
            for kind in order:
                result = (flask if kind == "flask" else openqr).run(script, seconds, agent)
                results[kind].append(result)
                rps, p99 = result["rps"], result["p99"]
                print(f"  {label} round {round_no + 1} {kind:7s} {rps:9.0f} req/s p99 {p99:.2f} ms")
    finally:
        flask.stop()
        exit_status = openqr.stop()
    answered = sum(result["requests"] for result in results["openqr"])
    stored = stored_scans(url)
    context.__exit__(None, None, None)

    def med(kind, key):
        return median(result[key] for result in results[kind])

    ratio, p99_ratio = med("openqr", "rps") / med("flask", "rps"), med("openqr", "p99") / med("flask", "p99")
    bad = sum(result["bad"] for result in results["openqr"])
    return [
        (
            f"redirect req/s, Zipf over {CODES:,} {kind_of_codes}",
            f"{med('openqr', 'rps'):.0f}",
            ">= 1.5x bare Flask",
            f"{ratio:.2f}x Flask ({med('flask', 'rps'):.0f})",
            ratio >= 1.5,
        ),
        (
            f"Zipf{' smart' if smart else ''} p99 latency (OpenQR / Flask)",
            f"{med('openqr', 'p99'):.2f} / {med('flask', 'p99'):.2f} ms",
            "<= 1.5x",
            f"{p99_ratio:.2f}x",
            p99_ratio <= 1.5,
        ),
        (f"Zipf{' smart' if smart else ''} non-302 answers (OpenQR)", str(bad), "0", "", bad == 0),
        (
            f"Zipf{' smart' if smart else ''} scans stored / answered",
            f"{stored} / {answered}",
            ">= answered (none lost)",
            f"exit {exit_status}",
            stored >= answered and exit_status == 0,
        ),
    ]


def table_scale(tmp: Path, codes: int, seconds: int, rss_target: float | None) -> list[tuple]:
    """RSS (and throughput against bare Flask) with `codes` links in memory, Zipf traffic over them."""
    context, url = _database(tmp, codes)
    script = zipf_script(tmp, codes)
    flask, openqr = both_servers(tmp, url)
    try:
        loaded_rss = openqr.rss()
        base = flask.run(script, seconds)
        ours = openqr.run(script, seconds)
    finally:
        flask.stop()
        openqr.stop()
        context.__exit__(None, None, None)
    print(
        f"  {codes:,} codes: start {openqr.startup:.1f} s, RSS {loaded_rss:.0f} MB loaded, "
        f"{openqr.peak_rss:.0f} MB peak; {ours['rps']:.0f} req/s (Flask {base['rps']:.0f})",
        flush=True,
    )
    rows = [
        (
            f"server RSS peak with {codes:,} codes",
            f"{openqr.peak_rss:.0f} MB",
            f"<= {rss_target:.0f} MB" if rss_target else "report",
            f"{loaded_rss:.0f} MB after start ({openqr.startup:.0f} s)",
            openqr.peak_rss <= rss_target if rss_target else None,
        )
    ]
    if rss_target is None:
        rows.append(
            (
                f"redirect req/s, Zipf over {codes:,} codes",
                f"{ours['rps']:.0f}",
                "report",
                f"{ours['rps'] / base['rps']:.2f}x Flask, p99 {ours['p99']:.1f} ms",
                None,
            )
        )
    return rows


def run(quick: bool) -> list[tuple]:
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        rows = zipf_traffic(tmp, quick)
        rows += zipf_traffic(tmp, quick, SMART)
        rows += table_scale(tmp, 100_000, 3 if quick else 5, 200)
        if quick:
            rows.append(("1,000,000 codes", "skipped", "report", "not in quick mode", None))
        else:
            rows += table_scale(tmp, 1_000_000, 10, None)
    return rows
