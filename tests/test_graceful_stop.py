"""No scan lost: the real server (`python app.py`) answers N scans from several threads,
gets SIGTERM, and leaves exactly N scans stored, raw rows and roll-ups alike."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
from sqlalchemy import create_engine, func, select, text

from openqr.models import Scan, ScanDay, ScanDayValue

ROOT = Path(__file__).resolve().parent.parent
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
THREADS, PER_THREAD = 8, 200
COUNTRIES = ("FR", "DE")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(tmp_path: Path, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "OPENQR_DATABASE_URL": f"sqlite:///{tmp_path / 'openqr.db'}",
        "OPENQR_INSTANCE_PATH": str(tmp_path / "instance"),
        "OPENQR_SECRET_KEY": "graceful-stop-test",
        "OPENQR_PORT": str(port),
        "OPENQR_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [sys.executable, "app.py"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return server
        except requests.ConnectionError:
            time.sleep(0.1)
    server.kill()
    raise AssertionError(f"server did not start: {server.communicate()[1]}")


def test_sigterm_after_n_answered_scans_leaves_exactly_n_stored(tmp_path):
    port = free_port()
    server = start_server(tmp_path, port)
    engine = create_engine(f"sqlite:///{tmp_path / 'openqr.db'}")
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO accounts (email, created_at, session_version, lock_seq) "
                    "VALUES ('load@example.com', '2025-01-01 00:00:00', 0, 0)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO codes (id, account_id, slug, destination, style, status, "
                    "created_at, updated_at) VALUES ('c0de', 1, 'load-test', "
                    "'https://example.com/', '{}', 'active', '2025-01-01', '2025-01-01')"
                )
            )
        answered, errors = [], []

        def scan_many():
            with requests.Session() as session:
                for i in range(PER_THREAD):
                    try:
                        response = session.get(
                            f"http://127.0.0.1:{port}/load-test",
                            allow_redirects=False,
                            headers={"User-Agent": IPHONE, "CF-IPCountry": COUNTRIES[i % 2]},
                        )
                    except requests.RequestException as err:
                        errors.append(err)
                        continue
                    if response.status_code == 302:
                        answered.append(1)

        workers = [threading.Thread(target=scan_many) for _ in range(THREADS)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert not errors
        server.send_signal(signal.SIGTERM)
        _out, err = server.communicate(timeout=30)
        assert server.returncode == 0, err
        n = len(answered)
        assert n == THREADS * PER_THREAD
        with engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(Scan.__table__)).scalar_one() == n
            assert connection.execute(select(func.sum(ScanDay.__table__.c.n))).scalar_one() == n
            per_dimension = dict(
                connection.execute(
                    select(ScanDayValue.__table__.c.dimension, func.sum(ScanDayValue.__table__.c.n)).group_by(
                        ScanDayValue.__table__.c.dimension
                    )
                ).all()
            )
            assert per_dimension == {"country": n, "device": n, "referrer": n}
        assert "Task queue depth" not in err  # no log line per request, not even waitress's
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        engine.dispose()
