"""No scan lost: the real server (`python app.py`, and the built binary) answers N scans from
several threads and, after SIGTERM, leaves exactly N stored, raw rows and roll-ups alike. (A hard
kill and outages: tests/scans/test_durability.py.)"""

from __future__ import annotations

import threading

import pytest
import requests
from sqlalchemy import create_engine, func, select

from openqr.models import Scan, ScanDay, ScanDayValue
from tests.support import databases
from tests.support.servers import PHONE, AppProcess

THREADS, PER_THREAD = 8, 200
COUNTRIES = ("FR", "DE")
FLUSH_INTERVAL = 0.2


def serve_one_code(tmp_path, kind="source"):
    """A server on its own SQLite file with one code, `load-test`; returns (server, engine)."""
    url = f"sqlite:///{tmp_path / 'openqr.db'}"
    server = AppProcess(tmp_path, "server", url, kind=kind, OPENQR_SCAN_FLUSH_INTERVAL=str(FLUSH_INTERVAL))
    server.wait_ready()
    databases.add_one_code(url)
    engine = create_engine(url)
    return server, engine


def stored(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(Scan.__table__)).scalar_one()


@pytest.mark.parametrize("kind", ["source", "binary"])
def test_sigterm_after_n_answered_scans_leaves_exactly_n_stored(tmp_path, kind):
    server, engine = serve_one_code(tmp_path, kind)
    try:
        answered, errors = [], []

        def scan_many():
            with requests.Session() as session:
                for i in range(PER_THREAD):
                    try:
                        response = session.get(
                            f"{server.url}/load-test",
                            allow_redirects=False,
                            headers={"User-Agent": PHONE, "CF-IPCountry": COUNTRIES[i % 2]},
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
        assert server.stop() == 0, server.log()
        n = len(answered)
        assert n == THREADS * PER_THREAD
        assert stored(engine) == n
        with engine.connect() as connection:
            assert connection.execute(select(func.sum(ScanDay.__table__.c.n))).scalar_one() == n
            values = ScanDayValue.__table__.c
            per_dimension = dict(
                connection.execute(
                    select(values.dimension, func.sum(values.n)).group_by(values.dimension)
                ).all()
            )
            assert per_dimension == {"country": n, "device": n, "referrer": n, "dest": n}
        assert "Task queue depth" not in server.log()  # no log line per request, not even waitress's
    finally:
        server.stop()
        engine.dispose()
