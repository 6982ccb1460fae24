"""Sign-in timing: `POST /login` for an address with an account and one without (sign-ups closed),
alternated, with an SMTP server (aiosmtpd in a process of its own, as a mail server would be)
taking the links. The two answers should take the same time."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

from sqlalchemy import func, select

from openqr.auth.accounts import get_or_create_account
from openqr.extensions import db
from openqr.models import LoginToken
from openqr.services import services
from tests.bench.common import bench_app
from tests.support.servers import free_port


def _wait_listening(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def run(quick: bool) -> list[tuple]:
    repeat = 60 if quick else 300
    port = free_port()
    smtp = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink", "-l", f"127.0.0.1:{port}"]
    )
    _wait_listening(port)
    settings = {
        "WTF_CSRF_ENABLED": False,
        "OPENQR_SIGNUPS": "closed",
        "OPENQR_SMTP_HOST": "127.0.0.1",
        "OPENQR_SMTP_PORT": port,
        "OPENQR_SMTP_SECURITY": "none",
        "OPENQR_LOGIN_LIMIT_PER_EMAIL": 1_000_000,
        "OPENQR_LOGIN_LIMIT_PER_CLIENT": 1_000_000,
    }
    try:
        with tempfile.TemporaryDirectory() as tmp, bench_app(Path(tmp), **settings) as (app, _auth):
            with app.app_context():
                get_or_create_account("member@example.com")
                db.session.commit()
            client = app.test_client()
            queue = services(app).mail
            # Wall time, and the CPU time of the thread that answered (the test client answers in
            # this thread): on a shared machine the second shows the work without the waiting.
            wall, cpu = {"known": [], "unknown": []}, {"known": [], "unknown": []}
            for _ in range(repeat):
                for name, email in (("known", "member@example.com"), ("unknown", "nobody@example.com")):
                    # An unmeasured request first: what the last link's writes left behind (the
                    # database's page cache of another connection) falls on it, not on the sample.
                    assert client.post("/login", data={"email": "neutral@example.com"}).status_code == 200
                    queue.wait_idle()
                    started, started_cpu = time.perf_counter(), time.thread_time()
                    assert client.post("/login", data={"email": email}).status_code == 200
                    cpu[name].append((time.thread_time() - started_cpu) * 1000)
                    wall[name].append((time.perf_counter() - started) * 1000)
                    queue.wait_idle()  # the mail thread's work is not the answer's: done between samples
            queue.stop()
            with app.app_context():
                links = db.session.scalar(select(func.count()).select_from(LoginToken))
    finally:
        smtp.terminate()
        smtp.wait(10)
    known, unknown = median(wall["known"]), median(wall["unknown"])
    known_cpu, unknown_cpu = median(cpu["known"]), median(cpu["unknown"])
    return [
        (
            "POST /login, address with an account (closed sign-ups)",
            f"{known:.2f} ms",
            "",
            f"CPU {known_cpu:.2f} ms; {links} links mailed",
            None,
        ),
        ("POST /login, address without one", f"{unknown:.2f} ms", "", f"CPU {unknown_cpu:.2f} ms", None),
        (
            "POST /login, with minus without an account",
            f"{known - unknown:+.2f} ms",
            "same time (CPU within 0.5 ms)",
            f"CPU {known_cpu - unknown_cpu:+.2f} ms",
            abs(known_cpu - unknown_cpu) < 0.5,
        ),
    ]
