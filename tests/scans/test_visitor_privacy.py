"""Unique visitors leave nothing personal behind: no address, no agent, nothing of an ended day."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import time
import types
from pathlib import Path

import pytest
from sqlalchemy import select

from openqr.extensions import db
from openqr.models import ScanDay, VisitorHash, VisitorKey, utcnow
from openqr.scans import classify, recorder
from openqr.scans import store as scans
from tests.conftest import Api, close_app, fresh_app, new_key

PROXY = "10.20.30.40"
VISITORS = [
    (
        "81.2.69.142",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) PrivProbe/4.4.1-qx Mobile/15E148",
    ),
    ("2a02:c7f:dead:beef::77", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) PrivProbe/8.1.2-desk Chrome/120.0"),
    ("198.51.100.99", "Mozilla/5.0 (Linux; Android 14; Pixel 8) PrivProbe/2.0.0-droid Mobile Safari/537.36"),
]
SECRETS = [PROXY, "PrivProbe", "privprobe"] + [part for visitor in VISITORS for part in visitor]


class Clock:
    """One controllable UTC clock for the recorder's time stamps and the flusher's idea of today."""

    def __init__(self, now: dt.datetime):
        self.now = now

    def utcnow(self) -> dt.datetime:
        return self.now

    def time(self) -> float:
        return self.now.replace(tzinfo=dt.UTC).timestamp()


@pytest.fixture
def clock(monkeypatch):
    clock = Clock(utcnow().replace(hour=12, minute=0, second=0, microsecond=0))
    monkeypatch.setattr(scans, "utcnow", clock.utcnow)
    fake_time = types.SimpleNamespace(
        time=clock.time, monotonic=time.monotonic, perf_counter=time.perf_counter, sleep=time.sleep
    )
    monkeypatch.setattr(recorder, "time", fake_time)
    return clock


def dump(app) -> str:
    """Every column of every row of every table, as text (bytes also as hex)."""
    lines = []
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(select(table)).all():
                cells = [value.hex() if isinstance(value, bytes) else str(value) for value in row]
                lines.append(f"{table.name}: " + " | ".join(cells))
        db.session.remove()
    return "\n".join(lines)


def journal_bytes(app) -> bytes:
    """Every byte of the scan journal folder (segments of every process)."""
    root = Path(app.instance_path) / "scan-journal"
    return b"".join(path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file())


def scan_everyone(app, slug, times=2):
    client = app.test_client()
    for address, agent in VISITORS:
        for _ in range(times):
            headers = {"User-Agent": agent, "X-Forwarded-For": address, "Referer": "https://ref.example/x"}
            response = client.get(f"/{slug}", headers=headers, environ_base={"REMOTE_ADDR": PROXY})
            assert response.status_code == 302


def test_no_address_agent_or_earlier_days_visitor_value_is_stored_or_logged(tmp_path, caplog, clock):
    app = fresh_app(
        tmp_path, OPENQR_TRUSTED_PROXIES=(ipaddress.ip_network("10.0.0.0/8"),), OPENQR_LOG_LEVEL="DEBUG"
    )
    caplog.set_level(logging.DEBUG)
    try:
        api = Api(app.test_client(), new_key(app))
        code = api.create("https://example.com/landing", slug="menu")
        day_one = clock.now.date()
        scan_everyone(app, "menu")
        with app.app_context():
            earlier = [key for (key,) in db.session.execute(select(VisitorKey.key))]
            earlier += [digest for (digest,) in db.session.execute(select(VisitorHash.digest))]
            db.session.remove()
        assert len(earlier) == 1 + len(VISITORS)  # the day's key and one hash per visitor existed

        clock.now += dt.timedelta(days=1)  # the day ends; the same people scan again
        scan_everyone(app, "menu")

        stored = dump(app)
        assert "menu" in stored and "ref.example" in stored  # the dump is real
        journal = journal_bytes(app)
        assert b"ref.example" in journal  # the journal holds this day's scans (and is real)
        with app.app_context():
            days = dict(db.session.execute(select(ScanDay.day, ScanDay.visitors)).all())
            todays_key = db.session.scalars(select(VisitorKey)).all()
            db.session.remove()
        assert days == {day_one: 3, day_one + dt.timedelta(days=1): 3}  # the counts survive the day
        assert [key.day for key in todays_key] == [day_one + dt.timedelta(days=1)]
        logs = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records) + caplog.text
        for secret in SECRETS:
            assert secret not in stored, f"{secret!r} was written to the database"
            assert secret not in logs, f"{secret!r} was written to the logs"
            assert secret.encode() not in journal, f"{secret!r} was written to the scan journal"
        for value in earlier:
            assert value not in stored, "a visitor key or hash of an ended day is still stored"
            assert value not in logs, "a visitor key or hash was logged"
            assert value.encode() not in journal, "a visitor hash of an ended day is still in the journal"
        body = api.get(f"/v1/dynamic/{code['id']}/scans?days=2").get_json()["analytics"]
        assert body["daily"][-1]["day"] == day_one.isoformat()  # the API's clock was not moved
        assert (body["daily"][-1]["n"], body["daily"][-1]["unique"]) == (6, 3)
    finally:
        close_app(app)


def test_scans_flushed_after_midnight_count_but_add_no_visitor(tmp_path, clock):
    """A scan of a day whose key is gone still counts as a scan, never as a new visitor."""
    app = fresh_app(tmp_path)
    try:
        api = Api(app.test_client(), new_key(app))
        code = api.create(slug="menu")
        late = clock.now.replace(hour=23, minute=59, second=59)
        with app.app_context():
            clock.now = late + dt.timedelta(seconds=2)  # the flush runs after midnight
            event = classify.ScanEvent(code["id"], late, None, "mobile", None, visitor="81.2.69.142\nAgent")
            assert scans.store_scans([event]) == 1
            row = db.session.get(ScanDay, (code["id"], late.date()))
            assert (row.n, row.visitors) == (1, 0)
            assert db.session.scalars(select(VisitorHash)).all() == []
            db.session.remove()
    finally:
        close_app(app)
