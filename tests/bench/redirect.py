"""Redirect throughput under waitress, measured with wrk against two baselines in the same run.

Three servers, each its own process: a plain WSGI callable (the ceiling), a bare Flask route
(the baseline; both on waitress defaults) and OpenQR as shipped (`python app.py`, SQLite in a
temporary folder or PostgreSQL with OPENQR_BENCH_DATABASE_URL, scans recorded). wrk runs
alternate between them, round after round. OpenQR is measured twice: a plain code, and a smart
one (3 rules by OS and country, a 2-way split, UTM) scanned by a desktop browser, so every scan
runs the whole decision (the rules miss, the split picks, UTM is appended).

With OPENQR_BENCH_WEBHOOK=1 the benchmark code also has a webhook subscribed to `scan`,
delivered to a sink in this process: the figures then include writing every scan's event
to the outbox and delivering the batches.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from statistics import median

import requests
from sqlalchemy import create_engine, text

from tests.support.databases import bench_database

ROOT = Path(__file__).resolve().parents[2]
CONNECTIONS = 16
DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36"
)
SMART = {
    "rules": [
        {"when": {"os": ["ios"]}, "destination": "https://apps.example.com/ios"},
        {"when": {"os": ["android"]}, "destination": "https://apps.example.com/android"},
        {"when": {"country": ["DE", "AT"], "device": ["desktop"]}, "destination": "https://example.de/"},
    ],
    "split": [
        {"destination": "https://example.com/a", "weight": 70},
        {"destination": "https://example.com/b", "weight": 30},
    ],
    "utm": {"source": "poster", "medium": "qr", "campaign": "bench"},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited early: {process.args}")
        try:
            requests.get(url, timeout=1, allow_redirects=False)
            return
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or busy starting
            time.sleep(0.1)
    raise SystemExit(f"server not ready: {process.args}")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, seconds: int, script: Path | None = None, agent: str | None = None) -> dict:
    """One wrk run (16 connections); `script`: a Lua file that picks each request's path;
    `agent`: the User-Agent every request sends."""
    extra = ["-s", str(script)] if script else []
    headers = ["-H", f"User-Agent: {agent}"] if agent else []
    out = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", *extra, *headers, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p99": _ms(*p99.groups()),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "bad": int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0,
    }


def insert_bench_code(connection) -> None:
    """The short link every redirect benchmark asks for: /k7Pm2qR of workspace 1."""
    connection.exec_driver_sql(
        "INSERT INTO codes (id, workspace_id, slug, destination, style, status, created_at, "
        "updated_at) "
        "VALUES ('b3nch', 1, 'k7Pm2qR', 'https://example.com/', '{}', 'active', "
        "'2025-01-01', '2025-01-01')"
    )


WEBHOOK = os.environ.get("OPENQR_BENCH_WEBHOOK", "") not in ("", "0")


class Sink:
    """A webhook receiver that answers 204 and counts the scan events it was sent."""

    def __init__(self):
        sink = self
        self.events = self.requests = 0

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                sink.requests += 1
                sink.events += body.count(b'"type":"scan"')
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Servers:
    def __init__(self, tmp: Path, database_url: str):
        self.tmp, self.processes = tmp, {}
        self.sink = Sink() if WEBHOOK else None
        self.database = create_engine(database_url)
        self.openqr_log = tmp / "openqr.log"

    def start(self) -> dict[str, str]:
        urls = {}
        for kind in ("wsgi", "flask"):
            port = free_port()
            command = [sys.executable, "-m", "tests.bench.baselines", kind, str(port)]
            # Waitress defaults warn about their queue on every request under this load: not shown.
            self.processes[kind] = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.DEVNULL)
            urls[kind] = f"http://127.0.0.1:{port}/k7Pm2qR"
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENQR_", "FLASK_"))}
        env.update(
            OPENQR_DATABASE_URL=self.database.url.render_as_string(hide_password=False),
            OPENQR_INSTANCE_PATH=str(self.tmp / "instance"),
            OPENQR_PORT=str(port),
        )
        env.update({k: v for k, v in os.environ.items() if k == "OPENQR_THREADS"})  # to compare sizes
        if self.sink:
            env["OPENQR_WEBHOOK_ALLOW_HOSTS"] = "127.0.0.1"
        self.log_handle = self.openqr_log.open("w")
        self.processes["openqr"] = subprocess.Popen(
            [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=self.log_handle, stderr=subprocess.STDOUT
        )
        for kind, process in self.processes.items():
            wait_ready(urls.get(kind, f"http://127.0.0.1:{port}/healthz"), process)
        with self.database.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO accounts (email, created_at, session_version) "
                "VALUES ('bench@example.com', '2025-01-01 00:00:00', 0)"
            )
            connection.exec_driver_sql(
                "INSERT INTO workspaces (id, name, created_at) VALUES (1, 'bench', '2025-01-01')"
            )
            insert_bench_code(connection)
            connection.execute(
                text(
                    "INSERT INTO codes (id, workspace_id, slug, destination, style, status, created_at, "
                    "updated_at, smart) VALUES ('sm4rt', 1, 'sm4rtQR', 'https://example.com/', '{}', "
                    "'active', '2025-01-01', '2025-01-01', :smart)"
                ),
                {"smart": json.dumps(SMART)},
            )
            if self.sink:
                connection.exec_driver_sql(
                    "INSERT INTO webhooks (id, workspace_id, url, events, secret, created_at, next_send_at) "
                    f"VALUES ('b3nchhook', 1, '{self.sink.url}', '[\"scan\"]', 'whsec_bench', "
                    "'2025-01-01', '2025-01-01')"
                )
        urls["openqr"] = f"http://127.0.0.1:{port}/k7Pm2qR"
        urls["smart"] = f"http://127.0.0.1:{port}/sm4rtQR"
        assert requests.get(urls["openqr"], allow_redirects=False, timeout=5).status_code == 302
        smart = requests.get(urls["smart"], headers={"User-Agent": DESKTOP}, allow_redirects=False, timeout=5)
        assert smart.status_code == 302 and "utm_campaign=bench" in smart.headers["Location"]
        return urls

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        self.log_handle.close()

    def stored_scans(self) -> tuple[int, int]:
        with self.database.begin() as connection:
            rows = connection.exec_driver_sql("SELECT count(*) FROM scans").fetchone()[0]
            days = connection.exec_driver_sql("SELECT coalesce(sum(n), 0) FROM scan_days").fetchone()[0]
        return rows, days


def run(quick: bool) -> list[tuple]:
    seconds, rounds = (3, 1) if quick else (10, 2)
    results = {kind: [] for kind in ("wsgi", "flask", "openqr", "smart")}
    peak_rss = [0.0]
    with tempfile.TemporaryDirectory() as tmp, bench_database(Path(tmp)) as database_url:
        servers = Servers(Path(tmp), database_url)
        urls = servers.start()
        log_lines_before = len(servers.openqr_log.read_text().splitlines())
        pid = servers.processes["openqr"].pid
        answered = 2  # the warm-up requests above
        try:
            order = ["flask", "openqr", "smart", "wsgi"]
            for round_no in range(rounds):
                for kind in order if round_no % 2 == 0 else list(reversed(order)):
                    sampling = threading.Event()

                    def sample(sampling=sampling):
                        while not sampling.wait(0.25):
                            peak_rss[0] = max(peak_rss[0], rss_mb(pid))

                    sampler = threading.Thread(target=sample)
                    if kind in ("openqr", "smart"):
                        sampler.start()
                    result = wrk(urls[kind], seconds, agent=DESKTOP if kind == "smart" else None)
                    sampling.set()
                    if kind in ("openqr", "smart"):
                        sampler.join()
                        answered += result["requests"]
                    results[kind].append(result)
                    print(
                        f"  round {round_no + 1} {kind:7s} {result['rps']:9.0f} req/s",
                        f"p99 {result['p99']:.2f} ms",
                        flush=True,
                    )
        finally:
            servers.stop()
        log_lines = servers.openqr_log.read_text().splitlines()[log_lines_before:]
        rows, day_total = servers.stored_scans()
        if servers.sink:
            servers.sink.close()

    def med(kind, key):
        return median(result[key] for result in results[kind])

    openqr, flask, wsgi, smart = (med(k, "rps") for k in ("openqr", "flask", "wsgi", "smart"))
    p99_ratio = med("openqr", "p99") / med("flask", "p99")
    smart_p99_ratio = med("smart", "p99") / med("flask", "p99")
    bad = sum(result["bad"] for result in results["openqr"] + results["smart"])
    # Log lines while serving: only start/stop lines are expected, never one per request.
    per_request = [line for line in log_lines if "serving on" not in line and "stopped" not in line]
    webhook = []
    if servers.sink:
        webhook = [
            (
                "webhook scan events received / scans stored",
                f"{servers.sink.events} / {rows}",
                "",
                f"{servers.sink.requests} requests",
                None,
            )
        ]
    return [
        *webhook,
        (
            "redirect req/s, one slug (OpenQR, recording scans)",
            f"{openqr:.0f}",
            ">= 1.5x bare Flask",
            f"{openqr / flask:.2f}x Flask",
            openqr >= 1.5 * flask,
        ),
        (
            "redirect req/s (OpenQR, smart: 3 rules, split, UTM)",
            f"{smart:.0f}",
            ">= bare Flask",
            f"{smart / flask:.2f}x Flask",
            smart >= flask,
        ),
        ("redirect req/s (bare Flask, baseline)", f"{flask:.0f}", "", "", None),
        ("redirect req/s (plain WSGI, ceiling)", f"{wsgi:.0f}", "", f"OpenQR {openqr / wsgi:.2f}x", None),
        (
            "redirect p99 latency (OpenQR / Flask)",
            f"{med('openqr', 'p99'):.2f} / {med('flask', 'p99'):.2f} ms",
            "<= 1.5x",
            f"{p99_ratio:.2f}x",
            p99_ratio <= 1.5,
        ),
        (
            "redirect p99 latency (smart / Flask)",
            f"{med('smart', 'p99'):.2f} / {med('flask', 'p99'):.2f} ms",
            "<= 1.5x",
            f"{smart_p99_ratio:.2f}x",
            smart_p99_ratio <= 1.5,
        ),
        ("non-302 answers (OpenQR)", str(bad), "0", "", bad == 0),
        (
            "scans stored / answered after SIGTERM",
            f"{rows} / {answered}",
            ">= answered (none lost)",
            f"roll-ups {day_total}",
            rows >= answered and day_total == rows,
        ),
        (
            "server RSS peak during the redirect runs",
            f"{peak_rss[0]:.0f} MB",
            "<= 150 MB",
            "",
            peak_rss[0] <= 150,
        ),
        (
            "log lines while serving",
            str(len(per_request)),
            "0",
            "; ".join(per_request[:2])[:80],
            not per_request,
        ),
    ]
