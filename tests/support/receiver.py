"""A real webhook receiver for tests: `http.server` in a thread on a free port.

It checks every request's signature the way the README tells receivers to, keeps what
it was sent, and can be told to answer 500 for a while, or to stop listening (its port
then refuses connections) and to come back on the same port. With `tls=(certificate, key)` it
speaks HTTPS under the name `host` and records the name each client asked for (SNI).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.waiting import wait_for


class Receiver:
    def __init__(self, secret: str = "", *, host: str = "127.0.0.1", tls: tuple[str, str] | None = None):
        self.secret = secret
        self.host, self.tls = host, tls
        self.server_names: list[str | None] = []  # SNI of each TLS handshake
        self.requests: list[dict] = []  # every request: status answered, signature ok, events
        self.fail_next = 0  # answer 500 to this many requests
        self.answer = 200
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.port = 0
        self.up()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}/hook"

    def up(self) -> None:
        """Listen (again, on the same port once it has one)."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver._take(self, body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        if self.tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self.tls)
            context.sni_callback = lambda _sock, name, _context: self.server_names.append(name)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self) -> None:
        """Stop listening: connections to the port are refused until `up()`."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def verified(self, headers, body: bytes) -> bool:
        """The receiver's check, as the README shows it."""
        timestamp = headers.get("X-OpenQR-Timestamp", "")
        expected = hmac.new(self.secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) < 300
        return fresh and hmac.compare_digest(headers.get("X-OpenQR-Signature", ""), f"sha256={expected}")

    def _take(self, handler, body: bytes) -> None:
        with self.lock:
            status = self.answer
            if self.fail_next > 0:
                self.fail_next -= 1
                status = 500
            events = json.loads(body)["events"]
            self.requests.append(
                {
                    "status": status,
                    "verified": self.verified(handler.headers, body),
                    "events": events,
                    "path": handler.path,
                    "host": handler.headers.get("Host"),
                }
            )
        handler.send_response(status)
        if 300 <= status < 400:
            handler.send_header("Location", "http://127.0.0.1:9/elsewhere")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def accepted_events(self) -> list[dict]:
        """Events of the requests answered 2xx, in order (duplicates included)."""
        with self.lock:
            return [event for req in self.requests if 200 <= req["status"] < 300 for event in req["events"]]

    def unique_events(self) -> dict[str, dict]:
        """Accepted events de-duplicated by id, as a receiver would keep them."""
        return {event["id"]: event for event in self.accepted_events()}

    def wait_for(self, predicate, timeout: float = 20.0) -> bool:
        return wait_for(predicate, timeout)
