"""What `/mcp` costs the server: start-up, memory and the redirect, with the endpoint off, on
(the SDK not loaded yet: nobody has called it) and loaded (after one tool call).

One `python app.py` at a time on one database, the three kinds alternated round after round;
medians are reported. Each round: time from spawn to the first 200 from /healthz, RSS when
ready, a wrk run on a known short link, then (kind "loaded" only, before its wrk run) one
tool call through the SDK's client.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path
from statistics import median

import anyio
import httpx2
import requests
from sqlalchemy import create_engine

from tests.bench.redirect import ROOT, free_port, insert_bench_code, rss_mb, wrk
from tests.support.databases import bench_database

KINDS = ("off", "on", "loaded")


def start(
    env: dict, log, command: list[str] | None = None, cwd: Path = ROOT
) -> tuple[subprocess.Popen, str, float]:
    """Spawn a server (`python app.py` unless `command` says otherwise) on a free port; returns
    (process, base URL, seconds from spawn to the first 200 from /healthz)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    process = subprocess.Popen(
        command or [sys.executable, "app.py"],
        cwd=cwd,
        env={**env, "OPENQR_PORT": str(port)},
        stdout=log,
        stderr=log,
    )
    try:
        while True:
            if process.poll() is not None:
                raise SystemExit(f"server exited early (see {log.name})")
            try:
                if requests.get(url + "/healthz", timeout=1).status_code == 200:
                    return process, url, time.monotonic() - started
            except requests.RequestException:  # not listening yet, or too busy to answer within 1 s
                time.sleep(0.01)
            if time.monotonic() - started > 60:
                raise SystemExit("server not ready after 60 s")
    except BaseException:
        process.kill()  # a bench that gives up leaves no server behind
        process.wait()
        raise


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(30)


def _tool_call(url: str, key: str) -> float:
    """Connect with the SDK's client and call `list_folders` once; returns the wall time (seconds)."""
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async def go():
        started = time.monotonic()
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
            async with Client(streamable_http_client(url + "/mcp", http_client=http)) as client:
                result = await client.call_tool("list_folders", {})
                assert not result.is_error, result.content
                return time.monotonic() - started

    return anyio.run(go)


def dispatch_overhead_ns() -> float:
    """What the `/mcp` layer adds to every other request, timed in-process (best of 5 repeats)."""
    from openqr.assistant.http import McpEndpoint

    def inner(environ, start_response):
        return environ

    layered = McpEndpoint(None, inner)
    environ = {"PATH_INFO": "/k7Pm2qR", "REQUEST_METHOD": "GET"}
    number = 200_000
    bare = min(timeit.repeat(lambda: inner(environ, None), number=number, repeat=5))
    wrapped = min(timeit.repeat(lambda: layered(environ, None), number=number, repeat=5))
    return (wrapped - bare) / number * 1e9


def run(quick: bool) -> list[tuple]:
    # Many short runs rather than a few long ones: on a shared machine the load drifts.
    seconds, rounds = (3, 1) if quick else (5, 6)
    samples = {
        kind: {"start": [], "rss": [], "rps": [], "p99": [], "rss_after": [], "first_call": []}
        for kind in KINDS
    }
    with tempfile.TemporaryDirectory() as tmp, bench_database(Path(tmp)) as database_url:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("OPENQR_", "FLASK_"))}
        base.update(OPENQR_DATABASE_URL=database_url, OPENQR_INSTANCE_PATH=str(Path(tmp) / "instance"))
        subprocess.run(
            [sys.executable, "-m", "flask", "db", "upgrade"],
            cwd=ROOT,
            env=base,
            check=True,
            capture_output=True,
        )
        key = subprocess.run(
            [sys.executable, "-m", "flask", "keys", "create", "bench@example.com", "--name", "bench"],
            cwd=ROOT,
            env=base,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        engine = create_engine(database_url)
        with engine.begin() as connection:
            insert_bench_code(connection)  # for account 1, made by `keys create` above
        engine.dispose()
        with open(Path(tmp) / "servers.log", "w") as log:
            for round_no in range(rounds):
                for kind in KINDS if round_no % 2 == 0 else tuple(reversed(KINDS)):
                    env = {**base, "OPENQR_MCP": "false" if kind == "off" else "true"}
                    process, url, startup = start(env, log)
                    try:
                        got = samples[kind]
                        got["start"].append(startup)
                        got["rss"].append(rss_mb(process.pid))
                        if kind == "loaded":
                            got["first_call"].append(_tool_call(url, key))
                            got["rss_after"].append(rss_mb(process.pid))
                        assert (
                            requests.get(url + "/k7Pm2qR", allow_redirects=False, timeout=5).status_code
                            == 302
                        )
                        result = wrk(url + "/k7Pm2qR", seconds)
                        got["rps"].append(result["rps"])
                        got["p99"].append(result["p99"])
                        print(
                            f"  round {round_no + 1} {kind:6s} start {startup:.2f} s,",
                            f"RSS {got['rss'][-1]:.0f} MB, {result['rps']:.0f} req/s,",
                            f"p99 {result['p99']:.2f} ms",
                            flush=True,
                        )
                    finally:
                        stop(process)

    def med(kind, key):
        return median(samples[kind][key])

    rows = []
    for kind in KINDS:
        label = {"off": "OPENQR_MCP=false", "on": "/mcp mounted, unused", "loaded": "/mcp after one call"}[
            kind
        ]
        rps_ratio = med(kind, "rps") / med("off", "rps")
        rows.append((f"start-up to /healthz 200 ({label})", f"{med(kind, 'start'):.2f} s", "", "", None))
        rows.append(
            (
                f"redirect req/s ({label})",
                f"{med(kind, 'rps'):.0f}",
                ">= 0.95x off" if kind != "off" else "",
                f"{rps_ratio:.2f}x off",
                rps_ratio >= 0.95 if kind != "off" else None,
            )
        )
        rows.append((f"redirect p99 ({label})", f"{med(kind, 'p99'):.2f} ms", "", "", None))
        rows.append((f"RSS when ready ({label})", f"{med(kind, 'rss'):.0f} MB", "", "", None))
    spread = samples["off"]["rps"]
    rows.append(
        (
            "redirect req/s, OPENQR_MCP=false, slowest..fastest run",
            f"{min(spread):.0f}..{max(spread):.0f}",
            "",
            "noise",
            None,
        )
    )
    rows.append(("RSS after the first tool call", f"{med('loaded', 'rss_after'):.0f} MB", "", "", None))
    rows.append(
        (
            "first connect + tool call (loads the SDK)",
            f"{med('loaded', 'first_call') * 1000:.0f} ms",
            "",
            "",
            None,
        )
    )
    return rows
