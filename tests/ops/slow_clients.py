"""Idle and header-trickling clients against a real server, and the redirects answered meanwhile.

`Flood` holds sockets open: `idle` ones that never send a byte, `trickling` ones that send a request
line and then one header line every `every` seconds (never the blank line that ends the headers).
`probe` times redirects made the way a phone makes them (a new connection each). Run as a module
it measures a server started with the settings given on the command line:

    .venv/bin/python -m tests.ops.slow_clients [--idle 300] [--trickling 300] [OPENQR_X=value ...]
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import ssl
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from openqr import create_app
from openqr.auth.accounts import get_or_create_account
from openqr.codes.core import create_code
from tests.conftest import close_app
from tests.support.servers import PHONE, AppProcess

PROBE_TIMEOUT = 2.0  # seconds: the contract's bound on a redirect under this load


class Flood:
    def __init__(
        self, port: int, idle: int, trickling: int, every: float = 1.0, tls: ssl.SSLContext | None = None
    ):
        self.port, self.counts, self.every, self.tls = port, (idle, trickling), every, tls
        self.idle: list[socket.socket] = []
        self.trickling: list[socket.socket] = []
        self.cut = 0  # trickling sockets the server closed or reset
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, name="trickle", daemon=True)

    def __enter__(self) -> Flood:
        idle, trickling = self.counts
        for _ in range(idle):
            self.idle.append(self._connect())
        for _ in range(trickling):
            sock = self._connect()
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: slow.test\r\n")
            self.trickling.append(sock)
        self._thread.start()
        return self

    def _connect(self) -> socket.socket:
        # The handshake completes in the kernel even when waitress does not accept (yet): a socket
        # queued in the backlog counts as held from the client's side, as an attacker's would.
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        return self.tls.wrap_socket(sock, server_hostname="127.0.0.1") if self.tls else sock

    def _trickle(self) -> None:
        line = 0
        while not self._stop.wait(self.every):
            line += 1
            for sock in list(self.trickling):
                try:
                    sock.sendall(f"X-Slow-{line}: a\r\n".encode())
                except OSError:
                    self.trickling.remove(sock)
                    self.cut += 1
                    sock.close()

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock in self.idle + self.trickling:
            sock.close()


def probe(
    port: int, slug: str, count: int, pause: float = 0.2, tls: ssl.SSLContext | None = None
) -> list[float | None]:
    """Seconds each of `count` redirects took (a 302 within PROBE_TIMEOUT), or None for a miss."""
    timings: list[float | None] = []
    for _ in range(count):
        started = time.monotonic()
        if tls:
            connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT, context=tls)
        else:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT)
        try:
            connection.request("GET", f"/{slug}", headers={"User-Agent": PHONE})
            status = connection.getresponse().status
            timings.append(time.monotonic() - started if status == 302 else None)
        except OSError:
            timings.append(None)
        finally:
            connection.close()
        time.sleep(pause)
    return timings


def sockets_held(pid: int) -> int:
    """Sockets open in the server process (its listener and database connections included)."""
    fds = Path(f"/proc/{pid}/fd")
    count = 0
    for fd in fds.iterdir():
        try:
            count += os.readlink(fd).startswith("socket:")
        except OSError:
            pass  # closed while we looked
    return count


def serve_with_code(folder: Path, **settings: str) -> tuple[AppProcess, str]:
    """A server on a SQLite file of its own with one code; (server, slug)."""
    url = f"sqlite:///{folder / 'openqr.db'}"
    server = AppProcess(folder, "server", url, **settings)
    server.wait_ready()  # and the database migrated
    app = create_app(
        {"OPENQR_DATABASE_URL": url, "OPENQR_SECRET_KEY": "test-secret"}, instance_path=str(folder)
    )
    try:
        with app.app_context():
            account = get_or_create_account("slow@example.com")
            code, _budget = create_code(account, {"destination": "https://example.com/"})
            slug = code.slug
    finally:
        close_app(app)
    return server, slug


def summary(timings: list[float | None]) -> str:
    answered = [t for t in timings if t is not None]
    if not answered:
        return f"0/{len(timings)} redirects answered within {PROBE_TIMEOUT:g} s"
    return (
        f"{len(answered)}/{len(timings)} redirects answered within {PROBE_TIMEOUT:g} s, "
        f"p50 {statistics.median(answered) * 1000:.1f} ms, max {max(answered) * 1000:.1f} ms"
    )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--idle", type=int, default=300)
    parser.add_argument("--trickling", type=int, default=300)
    parser.add_argument("--probes", type=int, default=25)
    parser.add_argument("settings", nargs="*", help="OPENQR_NAME=value for the server")
    args = parser.parse_args(argv)
    settings = dict(item.split("=", 1) for item in args.settings)
    with tempfile.TemporaryDirectory() as folder:
        server, slug = serve_with_code(Path(folder), **settings)
        try:
            print("idle server:", summary(probe(server.port, slug, args.probes)))
            with Flood(server.port, args.idle, args.trickling) as flood:
                time.sleep(2)  # the trickle has sent a line or two
                held = sockets_held(server.process.pid)
                timings = probe(server.port, slug, args.probes)
            print(f"{args.idle} idle + {args.trickling} trickling clients: server holds {held} sockets;")
            print("   ", summary(timings), f"; trickling sockets closed by the server: {flood.cut}")
        finally:
            server.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
