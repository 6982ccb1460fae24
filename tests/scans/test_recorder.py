"""The recorder: scans in the journal until stored, never given up, each stored once, and the
redirect unharmed by a disk that refuses them."""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import os
import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DataError, OperationalError

from openqr.extensions import db
from openqr.models import Scan, ScanDay, ScanStream
from openqr.scans import journal as journals
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
        db.session.remove()
        return rows, days


def referrers(app) -> list[str]:
    with app.app_context():
        found = sorted(db.session.scalars(select(Scan.referrer)))
        db.session.remove()
        return found


def slow_recorder(app, **kwargs) -> ScanRecorder:
    """A recorder whose flusher would wait a minute: the test decides when to flush."""
    return ScanRecorder(app, services(app).classifier, **{"interval": 60.0, "capacity": 1000, **kwargs})


def outage(*_args, **_kwargs):
    raise OperationalError("INSERT", {}, Exception("connection refused"))


def kill(recorder: ScanRecorder) -> None:
    """What SIGKILL leaves of a recorder: its journal's files, the lock free, no stop at exit."""
    atexit.unregister(recorder.stop)
    recorder.journal.release()


def journal_folders(app) -> list[str]:
    root = os.path.join(app.instance_path, "scan-journal")
    return (
        sorted(name for name in os.listdir(root) if not name.startswith(".")) if os.path.isdir(root) else []
    )


def test_scans_wait_in_the_journal_until_a_flush_stores_them_all(app, code):
    recorder = slow_recorder(app)
    for _ in range(7):
        recorder.add(code["id"], scan_environ(HTTP_CF_IPCOUNTRY="DE", HTTP_REFERER="https://t.co/x"))
    assert stored(app) == (0, 0)
    health = recorder.health()
    assert health["scans"]["buffered"] == 7
    assert health["journal"]["pending_records"] == 7 and health["journal"]["pending_bytes"] > 0
    assert health["journal"]["writable"] is True and health["journal"]["segments"] == 1
    assert recorder.flush() == 7
    assert stored(app) == (7, 7)
    with app.app_context():
        assert set(db.session.execute(select(Scan.country, Scan.device, Scan.referrer))) == {
            ("DE", "mobile", "t.co")
        }
    health = recorder.health()
    assert health["scans"] == {"buffered": 0, "flushed": 7, "dropped": 0, "failed": 0}
    assert (health["journal"]["pending_records"], health["journal"]["pending_bytes"]) == (0, 0)
    recorder.stop()
    assert journal_folders(app) == []  # everything stored: the stop deletes the journal


def test_nothing_is_given_up_however_many_writes_fail(app, code, monkeypatch):
    recorder = slow_recorder(app)
    monkeypatch.setattr(scans, "store_scans", outage)
    for _ in range(4):
        recorder.add(code["id"], scan_environ())
    for _ in range(100):  # the old recorder gave a batch up after 40
        assert recorder.flush() == 0
    assert recorder.health()["scans"] == {"buffered": 4, "flushed": 0, "dropped": 0, "failed": 0}
    monkeypatch.undo()
    assert recorder.flush() == 4
    assert stored(app) == (4, 4)
    recorder.stop()


def test_a_commit_whose_answer_was_lost_is_not_stored_twice(app, code, monkeypatch):
    """The database committed, then the connection broke before saying so: the retry skips it."""
    recorder = slow_recorder(app)
    real = scans.store_scans
    answers = []

    def committed_then_lost(events, stream=None):
        answers.append(real(events, stream))
        if len(answers) == 1:
            raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))
        return answers[-1]

    monkeypatch.setattr(scans, "store_scans", committed_then_lost)
    for n in range(6):
        recorder.add(code["id"], scan_environ(HTTP_REFERER=f"https://r{n}.example/"))
    assert recorder.flush() == 0  # the answer was lost
    assert recorder.flush() == 0  # the retry finds every scan stored already
    assert answers == [6, 0]
    assert stored(app) == (6, 6)
    assert referrers(app) == sorted(f"r{n}.example" for n in range(6))
    recorder.stop()


def test_a_journal_left_by_a_killed_process_is_stored_once_by_the_next(app, code):
    """Stored, then killed before the journal was trimmed: the next process replays it, and the
    scans already stored are skipped; the ones never stored are stored."""
    first = slow_recorder(app)
    for n in range(5):
        first.add(code["id"], scan_environ(HTTP_REFERER=f"https://r{n}.example/"))
    assert first.flush() == 5
    for n in range(5, 8):
        first.add(code["id"], scan_environ(HTTP_REFERER=f"https://r{n}.example/"))
    kill(first)
    assert journal_folders(app) == [first.name]

    second = slow_recorder(app)
    second.start()
    assert second.health()["journal"]["stopped_processes"] == 1
    assert second.health()["journal"]["pending_records"] == 8  # all of it, until it is read
    assert second.flush() == 3
    assert referrers(app) == sorted(f"r{n}.example" for n in range(8))
    assert stored(app) == (8, 8)
    assert journal_folders(app) == [second.name]  # the stopped process's journal is deleted
    with app.app_context():
        assert db.session.scalars(select(ScanStream)).all() == []  # and its mark with it
        db.session.remove()
    second.stop()


def test_the_journal_of_a_live_process_is_left_alone(app, code):
    alive = slow_recorder(app)
    alive.add(code["id"], scan_environ())
    other = slow_recorder(app)
    other.start()
    assert other.health()["journal"]["stopped_processes"] == 0
    assert other.flush() == 0
    assert alive.flush() == 1
    alive.stop()
    other.stop()


def test_a_stop_while_the_database_is_down_leaves_the_scans_for_the_next_start(
    app, code, monkeypatch, caplog
):
    recorder = slow_recorder(app)
    for n in range(10):
        recorder.add(code["id"], scan_environ(HTTP_REFERER=f"https://r{n}.example/"))
    monkeypatch.setattr(scans, "store_scans", outage)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="openqr.scans.recorder"):
        recorder.stop(timeout=0.5)
    assert time.monotonic() - started < 5
    assert "10 scans not yet stored" in caplog.text and "next start stores them" in caplog.text
    assert journal_folders(app) == [recorder.name]
    monkeypatch.undo()

    after = slow_recorder(app)
    after.start()
    assert after.flush() == 10
    assert stored(app) == (10, 10) and len(set(referrers(app))) == 10
    after.stop()
    assert journal_folders(app) == []
    with app.app_context():
        assert db.session.scalars(select(ScanStream)).all() == []  # no mark outlives its journal
        db.session.remove()


def test_stop_writes_everything_still_held(app, code):
    recorder = slow_recorder(app)
    for _ in range(25):
        recorder.add(code["id"], scan_environ())
    recorder.stop()
    assert stored(app) == (25, 25)
    recorder.add(code["id"], scan_environ())  # a late scan after stop is written at once
    assert stored(app) == (26, 26)


def test_an_unwritable_journal_folder_keeps_redirecting_and_counts_what_only_memory_holds(
    app, code, tmp_path, caplog
):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with caplog.at_level(logging.WARNING, logger="openqr.scans"):
        recorder = slow_recorder(app, journal_dir=blocker / "journal")
        for _ in range(5):
            recorder.add(code["id"], scan_environ())
    health = recorder.health()
    assert health["journal"]["writable"] is False and health["journal"]["write_failures"] == 5
    assert health["scans"]["buffered"] == 5
    errors = [r for r in caplog.records if "scan journal" in r.getMessage() and r.levelno >= logging.ERROR]
    assert len(errors) == 1  # said once, not once a scan
    assert IPHONE not in caplog.text and "8.8.8.8" not in caplog.text
    assert recorder.flush() == 5  # memory still gets them to the database
    assert stored(app) == (5, 5)
    recorder.stop()


def test_memory_full_while_the_journal_is_unwritable_counts_and_logs_the_overflow_once(
    app, code, tmp_path, caplog
):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    recorder = slow_recorder(app, capacity=100, journal_dir=blocker / "journal")
    with caplog.at_level(logging.WARNING, logger="openqr.scans.recorder"):
        for _ in range(130):
            recorder.add(code["id"], scan_environ())
    assert recorder.health()["scans"] == {"buffered": 100, "flushed": 0, "dropped": 30, "failed": 0}
    assert recorder.health()["journal"]["write_failures"] == 130
    warnings = [record for record in caplog.records if "memory full" in record.getMessage()]
    assert len(warnings) == 1
    recorder.stop()
    assert stored(app) == (100, 100)


def test_a_full_disk_keeps_the_scans_in_memory_until_the_journal_has_room_again(app, code, monkeypatch):
    """A segment's blocks are taken when it begins: a full disk refuses the segment, never half a
    record. Meanwhile scans wait in memory (counted); once there is room the journal goes on."""
    recorder = slow_recorder(app)
    recorder.journal.segment_bytes = 1000  # a few records a segment
    monkeypatch.setattr(journals, "SEGMENT_RETRY", 0.0)
    recorder.add(code["id"], scan_environ(HTTP_REFERER="https://r0.example/"))

    def full(_fd, _offset, _length):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(journals.os, "posix_fallocate", full)
    for n in range(1, 20):
        recorder.add(code["id"], scan_environ(HTTP_REFERER=f"https://r{n}.example/"))
    failed = recorder.health()["journal"]["write_failures"]
    assert failed > 0 and recorder.health()["journal"]["writable"] is False
    assert recorder.health()["scans"]["buffered"] == 20
    monkeypatch.undo()
    for n in range(20, 30):
        recorder.add(code["id"], scan_environ(HTTP_REFERER=f"https://r{n}.example/"))
    assert recorder.health()["journal"]["write_failures"] == failed  # room again: journaled
    assert recorder.health()["journal"]["writable"] is True
    assert recorder.flush() == 30
    assert referrers(app) == sorted(f"r{n}.example" for n in range(30))
    assert recorder.journal.corrupt == 0
    recorder.stop()


def test_a_scan_the_database_refuses_is_set_aside_and_the_others_are_stored(app, code, monkeypatch, caplog):
    """One scan the database will not take must not hold up the rest for ever, nor be lost: it
    waits in a journal of its own, which the next start tries again."""
    real = scans.store_scans

    def refuses_one(events, stream=None):
        if any(event.referrer == "poison.example" for event in events):
            raise DataError("INSERT", {}, Exception("invalid byte sequence"))
        return real(events, stream)

    monkeypatch.setattr(scans, "store_scans", refuses_one)
    recorder = slow_recorder(app)
    for n in range(9):
        recorder.add(code["id"], scan_environ(HTTP_REFERER=f"https://r{n}.example/"))
        if n == 4:
            recorder.add(code["id"], scan_environ(HTTP_REFERER="https://poison.example/"))
    with caplog.at_level(logging.ERROR, logger="openqr.scans.recorder"):
        assert recorder.flush() == 9
    assert recorder.health()["scans"]["failed"] == 1
    assert "set aside" in caplog.text
    recorder.stop()
    assert journal_folders(app) == [recorder.name + "r"]

    monkeypatch.undo()  # a later version takes it
    later = slow_recorder(app)
    later.start()
    assert later.flush() == 1
    assert "poison.example" in referrers(app) and stored(app) == (10, 10)
    later.stop()
    assert journal_folders(app) == []


def test_a_record_cut_short_at_the_end_of_a_stopped_journal_is_skipped(app, code, caplog):
    first = slow_recorder(app)
    for _ in range(3):
        first.add(code["id"], scan_environ())
    segment = first.journal.path / "00000001.seg"
    kill(first)
    with segment.open("ab") as handle:
        handle.write(journals.encode(4, (code["id"], time.time(), None, None, None, None, None))[:-3])
    later = slow_recorder(app)
    with caplog.at_level(logging.ERROR, logger="openqr.scans.journal"):
        later.start()
        assert later.flush() == 3
    assert "incomplete" in caplog.text
    assert journal_folders(app) == [later.name]
    later.stop()


def test_segments_roll_over_and_are_deleted_once_stored(app, code):
    recorder = slow_recorder(app)
    recorder.journal.segment_bytes = 1000  # several records a segment
    for _ in range(40):
        recorder.add(code["id"], scan_environ())
    assert recorder.health()["journal"]["segments"] >= 3
    assert recorder.flush() == 40
    assert recorder.health()["journal"]["segments"] == 1  # only the one being written remains
    assert len(list(recorder.journal.path.glob("*.seg"))) == 1
    recorder.stop()


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


def test_healthz_shows_the_scans_and_the_journal(client):
    body = client.get("/healthz").get_json()
    assert body["scans"] == {"buffered": 0, "flushed": 0, "dropped": 0, "failed": 0}
    assert body["journal"] == {
        "writable": True,
        "pending_records": 0,
        "pending_bytes": 0,
        "segments": 0,
        "write_failures": 0,
        "stopped_processes": 0,
    }
