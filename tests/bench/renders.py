"""A render burst against the redirect: `python app.py` as shipped (SQLite in a temporary folder),
the redirect measured with wrk (8 connections) idle, then while 12 more connections ask `/v1/qr`
for 4096 px PNGs of data never asked before, without pause (each waits for its image, then asks
for the next; a refusal is answered by asking again at once). Idle and loaded rounds alternate,
three of each; medians. Targets (API.md "Hostile load"): loaded p50 <= 2x idle + 2 ms,
p99 <= 3x idle + 5 ms, at least one render a second still drawn.

`OPENQR_RENDER_*` settings in the environment reach the server, to compare configurations.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import requests
from sqlalchemy import create_engine

from openqr import create_app
from openqr.auth.accounts import get_or_create_account
from openqr.auth.keys import create_key
from openqr.auth.workspaces import first_workspace
from openqr.extensions import db
from tests.bench.redirect import ROOT, _ms, free_port, insert_bench_code, wait_ready
from tests.support.databases import bench_database

REDIRECT_CONNECTIONS, RENDER_CONNECTIONS, SIZE = 8, 12, 4096

# Each request asks for data nobody asked for before, so nothing comes from a cache; statuses
# are counted per wrk thread and summed at the end.
RENDER_LUA = """
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  n, ok, busy, limited, other = 0, 0, 0, 0, 0
  key, size = os.getenv("OPENQR_BENCH_KEY"), os.getenv("OPENQR_BENCH_SIZE")
end
function request()
  n = n + 1
  local path = "/v1/qr?size=" .. size .. "&data=https%3A%2F%2Fgo.example.com%2Fburst-" .. tid .. "-" .. n
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. key})
end
function response(status, headers, body)
  if status == 200 then ok = ok + 1
  elseif status == 503 then busy = busy + 1
  elseif status == 429 then limited = limited + 1
  else other = other + 1 end
end
function done(summary, latency, requests)
  local o, b, l, x = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok"); b = b + t:get("busy"); l = l + t:get("limited"); x = x + t:get("other")
  end
  io.write(string.format("statuses ok=%d busy=%d limited=%d other=%d\\n", o, b, l, x))
end
"""


def _latency(out: str, percent: str) -> float:
    found = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
    return _ms(*found.groups())


def redirect_round(url: str, seconds: int) -> dict:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{REDIRECT_CONNECTIONS}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {
        "p50": _latency(out, "50"),
        "p99": _latency(out, "99"),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
    }


def loaded_round(url: str, base: str, key: str, script: Path, seconds: int) -> dict:
    """A redirect round while the render burst runs (it starts a second before and ends after)."""
    burst_seconds = seconds + 2
    burst = subprocess.Popen(
        # Clients that wait for their image (wrk would give up after 2 s and ask again, leaving the
        # first request in line): 30 s, more than any wait the gate allows.
        [
            "wrk",
            "-t2",
            f"-c{RENDER_CONNECTIONS}",
            f"-d{burst_seconds}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            f"{base}/v1/qr",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "OPENQR_BENCH_KEY": key, "OPENQR_BENCH_SIZE": str(SIZE)},
    )
    time.sleep(1)
    result = redirect_round(url, seconds)
    out, _ = burst.communicate(timeout=burst_seconds + 30)
    # wrk leaves its last requests in the server's line when it stops: let them be drawn, so the
    # next round starts from an empty line.
    time.sleep(3)
    counts = dict(re.findall(r"(\w+)=(\d+)", re.search(r"^statuses (.*)$", out, re.MULTILINE).group(1)))
    result.update({name: int(value) / burst_seconds for name, value in counts.items()})
    return result


def _server(tmp: Path, database_url: str) -> tuple[subprocess.Popen, str, str]:
    """OpenQR on `database_url`, with the benchmark code and a key; (process, base URL, key)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENQR_", "FLASK_"))}
    env.update({k: v for k, v in os.environ.items() if k.startswith("OPENQR_RENDER_")})
    env.update(
        OPENQR_DATABASE_URL=database_url,
        OPENQR_INSTANCE_PATH=str(tmp / "instance"),
        OPENQR_SECRET_KEY="bench",
        OPENQR_PORT=str(port),
        OPENQR_LOG_LEVEL="WARNING",
    )
    process = subprocess.Popen(
        [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    wait_ready(f"{base}/healthz", process)
    app = create_app(
        {"OPENQR_DATABASE_URL": database_url, "OPENQR_SECRET_KEY": "bench"}, instance_path=str(tmp)
    )
    with app.app_context():
        account = get_or_create_account("bench@example.com")
        _key, plain = create_key(first_workspace(account), "bench", created_by=account)
        db.session.commit()
        db.engine.dispose()
    engine = create_engine(database_url)
    with engine.begin() as connection:
        insert_bench_code(connection)
    engine.dispose()
    return process, base, plain


def run(quick: bool) -> list[tuple]:
    seconds, rounds = (4, 1) if quick else (10, 3)
    idle, loaded = [], []
    with tempfile.TemporaryDirectory() as tmp, bench_database(Path(tmp)) as database_url:
        process, base, key = _server(Path(tmp), database_url)
        script = Path(tmp) / "burst.lua"
        script.write_text(RENDER_LUA)
        url = f"{base}/k7Pm2qR"
        try:
            for _ in range(2):  # warm: the link table, the render worker
                requests.get(url, allow_redirects=False, timeout=10)
            auth = {"Authorization": f"Bearer {key}"}
            assert (
                requests.get(f"{base}/v1/qr?data=warm&size={SIZE}", headers=auth, timeout=30).status_code
                == 200
            )
            for round_no in range(rounds):
                for kind in ("idle", "loaded") if round_no % 2 == 0 else ("loaded", "idle"):
                    if kind == "idle":
                        result = redirect_round(url, seconds)
                        idle.append(result)
                    else:
                        result = loaded_round(url, base, key, script, seconds)
                        loaded.append(result)
                    extra = "".join(
                        f" {name} {result[name]:.1f}/s"
                        for name in ("ok", "busy", "limited", "other")
                        if name in result
                    )
                    latency = f"p50 {result['p50']:.2f} ms p99 {result['p99']:.2f} ms"
                    print(
                        f"  round {round_no + 1} {kind:6s} {latency} {result['rps']:.0f} req/s{extra}",
                        flush=True,
                    )
        finally:
            process.terminate()
            process.wait(30)

    def med(results, key):
        return median(result[key] for result in results)

    p50_idle, p99_idle = med(idle, "p50"), med(idle, "p99")
    p50_loaded, p99_loaded = med(loaded, "p50"), med(loaded, "p99")
    renders, refused, other = (
        med(loaded, "ok"),
        med(loaded, "busy") + med(loaded, "limited"),
        med(loaded, "other"),
    )
    return [
        (
            "redirect p50, render burst / idle",
            f"{p50_loaded:.2f} / {p50_idle:.2f} ms",
            "<= 2x idle + 2 ms",
            f"{p50_loaded / p50_idle:.2f}x",
            p50_loaded <= 2 * p50_idle + 2,
        ),
        (
            "redirect p99, render burst / idle",
            f"{p99_loaded:.2f} / {p99_idle:.2f} ms",
            "<= 3x idle + 5 ms",
            f"{p99_loaded / p99_idle:.2f}x",
            p99_loaded <= 3 * p99_idle + 5,
        ),
        (
            f"{SIZE} px renders drawn during the burst",
            f"{renders:.1f}/s",
            ">= 1/s",
            f"refused {refused:.0f}/s (429/503)",
            renders >= 1 and other == 0,
        ),
        (
            "redirect req/s, render burst / idle",
            f"{med(loaded, 'rps'):.0f} / {med(idle, 'rps'):.0f}",
            "",
            "",
            None,
        ),
    ]
