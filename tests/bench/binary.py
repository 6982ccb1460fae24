"""The single binary against `python app.py`, in the same run: its size, its start-up and its
redirects.

- Size of dist/openqr (one file) and of dist/openqr-dir/ (one folder); each is built first when
  missing (`deploy/build.py`, so from the cache when the sources have not changed).
- Start-up: spawn to the first 200 from /healthz, several starts of each kind alternated
  (one file, one folder, `python app.py`), medians. The one file unpacks itself at each start:
  its start-up minus the folder's; and it removes that copy at exit: a whole `openqr --version`
  of the one file minus the folder's is both.
- Redirects: wrk on a known short link, the binary and `python app.py` alternated round after
  round on one SQLite database, one server at a time, scans recorded; medians and their ratio
  (the target: the binary no more than 10% behind).

The binaries run from an empty folder with only PATH, HOME and OPENQR_* in their environment.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path
from statistics import median

from sqlalchemy import create_engine

from tests.bench.mcp import start, stop
from tests.bench.redirect import insert_bench_code, wrk
from tests.support.servers import bare_env, build_binary

KINDS = ("onefile", "onedir", "source")


def _built(onedir: bool) -> Path:
    """The binary to measure: OPENQR_BINARY for the one file, else the checkout's own (built, or
    taken from the build cache; never a dist/ left over from older sources)."""
    given = os.environ.get("OPENQR_BINARY", "").strip()
    if given and not onedir:
        return Path(given).resolve()
    return build_binary(onedir)


def _size_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6


def _version_seconds(command: list[str], folder: Path) -> float:
    started = time.monotonic()
    subprocess.run(
        [*command, "--version"], cwd=folder, env=bare_env(folder), check=True, capture_output=True, timeout=60
    )
    return time.monotonic() - started


def run(quick: bool) -> list[tuple]:
    starts, seconds, rounds = (3, 3, 1) if quick else (5, 10, 2)
    onefile, onedir = _built(onedir=False), _built(onedir=True)
    commands = {"onefile": [str(onefile)], "onedir": [str(onedir)], "source": None}
    samples = {kind: {"start": [], "version": [], "rps": [], "p99": []} for kind in KINDS}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = tmp / "run"  # where the binaries run: empty but for their instance folder
        folder.mkdir()
        database_url = f"sqlite:///{tmp / 'bench.db'}"
        settings = {"OPENQR_DATABASE_URL": database_url, "OPENQR_LOG_LEVEL": "WARNING"}
        made = subprocess.run(
            [str(onefile), "keys", "create", "bench@example.com", "--name", "bench"],
            cwd=folder,
            env=bare_env(folder, **settings),
            check=True,
            capture_output=True,
            timeout=120,
        )  # the binary makes the database (migrations first) and account 1
        assert made.stdout.startswith(b"oqr_live_"), made
        engine = create_engine(database_url)
        with engine.begin() as connection:
            insert_bench_code(connection)
        engine.dispose()
        source_env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENQR_", "FLASK_"))}
        source_env.update(settings, OPENQR_INSTANCE_PATH=str(tmp / "source-instance"))

        with open(tmp / "servers.log", "w") as log:

            def started(kind):
                if kind == "source":
                    return start(source_env, log)
                return start(bare_env(folder, **settings), log, commands[kind], folder)

            for round_no in range(starts):
                for kind in KINDS if round_no % 2 == 0 else tuple(reversed(KINDS)):
                    if kind != "source":
                        samples[kind]["version"].append(_version_seconds(commands[kind], folder))
                    process, url, startup = started(kind)
                    stop(process)
                    samples[kind]["start"].append(startup)
                    print(f"  start {round_no + 1} {kind:8s} {startup:.2f} s to /healthz", flush=True)
            for round_no in range(rounds * 2):
                for kind in ("onefile", "source") if round_no % 2 == 0 else ("source", "onefile"):
                    process, url, _startup = started(kind)
                    try:
                        result = wrk(url + "/k7Pm2qR", seconds)
                    finally:
                        stop(process)
                    samples[kind]["rps"].append(result["rps"])
                    samples[kind]["p99"].append(result["p99"])
                    print(
                        f"  round {round_no + 1} {kind:8s} {result['rps']:9.0f} req/s",
                        f"p99 {result['p99']:.2f} ms",
                        flush=True,
                    )

    def med(kind, key):
        return median(samples[kind][key])

    size = _size_mb(onefile)
    # Start-up differs by the unpacking alone; a whole `--version` run also removes the copy at exit.
    unpack = med("onefile", "start") - med("onedir", "start")
    unpack_and_clean = med("onefile", "version") - med("onedir", "version")
    rps_ratio = med("onefile", "rps") / med("source", "rps")
    p99_ratio = med("onefile", "p99") / med("source", "p99")
    return [
        ("binary size (dist/openqr, one file)", f"{size:.1f} MB", "<= 60 MB", "", size <= 60),
        ("binary size (dist/openqr-dir/, one folder)", f"{_size_mb(onedir.parent):.1f} MB", "", "", None),
        (
            "start to /healthz 200 (one file)",
            f"{med('onefile', 'start'):.2f} s",
            "<= 2 s median",
            f"{med('onefile', 'start') / med('source', 'start'):.2f}x python app.py",
            med("onefile", "start") <= 2,
        ),
        ("start to /healthz 200 (one folder)", f"{med('onedir', 'start'):.2f} s", "", "", None),
        ("start to /healthz 200 (python app.py)", f"{med('source', 'start'):.2f} s", "", "", None),
        (
            "unpacking at each start (one file)",
            f"{unpack:.2f} s",
            "",
            "start-up, one file - folder",
            None,
        ),
        (
            "unpacking and removing at exit (one file)",
            f"{unpack_and_clean:.2f} s",
            "",
            f"--version {med('onefile', 'version'):.2f} vs {med('onedir', 'version'):.2f} s",
            None,
        ),
        (
            "redirect req/s (binary, recording scans)",
            f"{med('onefile', 'rps'):.0f}",
            ">= 0.9x python app.py",
            f"{rps_ratio:.2f}x ({med('source', 'rps'):.0f})",
            rps_ratio >= 0.9,
        ),
        (
            "redirect p99 (binary)",
            f"{med('onefile', 'p99'):.2f} ms",
            "<= 1.1x python app.py",
            f"{p99_ratio:.2f}x ({med('source', 'p99'):.2f} ms)",
            p99_ratio <= 1.1,
        ),
    ]
