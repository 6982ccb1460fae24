"""The scan buffer: batches, overflow counted and logged, retries after a failed write, flush on stop."""

from __future__ import annotations

import datetime as dt
import logging
import time

import pytest
from sqlalchemy import func, select

from openqr.extensions import db
from openqr.models import Scan, ScanDay
from openqr.scans import recorder as recorder_module
from openqr.scans import store as scans
from openqr.scans.recorder import ScanRecorder
from openqr.services import services
from tests.conftest import Api, new_key

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"


@pytest.fixture
def code(app, client):
    return Api(client, new_key(app)).create("https://example.com/poster")


def scan_environ(**extra):
    return {"REQUEST_METHOD": "GET", "REMOTE_ADDR": "8.8.8.8", "HTTP_USER_AGENT": IPHONE, **extra}


def stored(app) -> tuple[int, int]:
    with app.app_context():
        rows = db.session.execute(select(func.count()).select_from(Scan)).scalar_one()
        days = db.session.execute(select(func.coalesce(func.sum(ScanDay.n), 0))).scalar_one()
        return rows, days


def slow_recorder(app, **kwargs) -> ScanRecorder:
    """A buffered recorder whose flusher would wait a minute: the test decides when to flush."""
    return ScanRecorder(app, services(app).classifier, **{"interval": 60.0, "capacity": 1000, **kwargs})


def test_scans_wait_in_the_buffer_until_a_flush_writes_them_all(app, code):
    recorder = slow_recorder(app)
    for _ in range(7):
        recorder.add(code["id"], scan_environ(HTTP_CF_IPCOUNTRY="DE", HTTP_REFERER="https://t.co/x"))
    assert stored(app) == (0, 0)
    assert recorder.health()["scans"]["buffered"] == 7
    assert recorder.flush() == 7
    assert stored(app) == (7, 7)
    with app.app_context():
        assert set(db.session.execute(select(Scan.country, Scan.device, Scan.referrer))) == {
            ("DE", "mobile", "t.co")
        }
    assert recorder.health()["scans"] == {"buffered": 0, "flushed": 7, "dropped": 0, "failed": 0}
    recorder.stop()


def test_full_buffer_still_counts_and_logs_the_overflow_once(app, code, caplog):
    recorder = slow_recorder(app, capacity=100)
    with caplog.at_level(logging.WARNING, logger="openqr.scans.recorder"):
        for _ in range(130):
            recorder.add(code["id"], scan_environ())
    assert recorder.health()["scans"] == {"buffered": 100, "flushed": 0, "dropped": 30, "failed": 0}
    warnings = [record for record in caplog.records if "buffer full" in record.getMessage()]
    assert len(warnings) == 1  # rate-limited, not one line per lost scan
    assert IPHONE not in caplog.text  # the buffer's request facts are never logged
    recorder.stop()
    assert stored(app) == (100, 100)


def test_a_failed_write_keeps_the_events_and_the_next_flush_stores_them(app, code, monkeypatch):
    recorder = slow_recorder(app)
    real = scans.store_scans

    def down(_events):
        raise RuntimeError("database is down")

    monkeypatch.setattr(scans, "store_scans", down)
    for _ in range(5):
        recorder.add(code["id"], scan_environ())
    assert recorder.flush() == 0
    assert recorder.health()["scans"]["buffered"] == 5
    recorder.add(code["id"], scan_environ())
    monkeypatch.setattr(scans, "store_scans", real)
    assert recorder.flush() == 6
    assert stored(app) == (6, 6)
    recorder.stop()


def test_retries_are_bounded_and_a_given_up_batch_is_counted(app, code, monkeypatch):
    recorder = slow_recorder(app)
    monkeypatch.setattr(recorder_module, "MAX_ATTEMPTS", 3)
    monkeypatch.setattr(scans, "store_scans", lambda _events: 1 / 0)
    for _ in range(4):
        recorder.add(code["id"], scan_environ())
    for _ in range(3):
        recorder.flush()
    assert recorder.health()["scans"] == {"buffered": 0, "flushed": 0, "dropped": 0, "failed": 4}


def test_stop_writes_everything_still_buffered(app, code):
    recorder = slow_recorder(app)
    for _ in range(25):
        recorder.add(code["id"], scan_environ())
    recorder.stop()
    assert stored(app) == (25, 25)
    recorder.add(code["id"], scan_environ())  # a late scan after stop is written at once
    assert stored(app) == (26, 26)


def test_the_background_thread_flushes_within_the_interval(app, code):
    recorder = ScanRecorder(app, services(app).classifier, interval=0.05, capacity=1000)
    for _ in range(3):
        recorder.add(code["id"], scan_environ())
    deadline = time.monotonic() + 5
    while stored(app) != (3, 3) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert stored(app) == (3, 3)
    recorder.stop()


def test_scan_time_is_the_request_time_not_the_flush_time(app, code):
    recorder = slow_recorder(app)
    recorder.add(code["id"], scan_environ())
    before = time.time()
    time.sleep(0.3)
    recorder.flush()
    with app.app_context():
        at = db.session.execute(select(Scan.scanned_at)).scalar_one()
    added_by = dt.datetime.fromtimestamp(before, dt.UTC).replace(tzinfo=None)
    assert dt.timedelta(0) <= added_by - at < dt.timedelta(seconds=0.2)
    recorder.stop()


def test_healthz_shows_the_buffer(client):
    body = client.get("/healthz").get_json()
    assert body["scans"] == {"buffered": 0, "flushed": 0, "dropped": 0, "failed": 0}
