"""Scans kept from the answer to the database: a journal on disk, and one thread that stores it.

`add` runs on the request path, before the redirect is answered: it classifies the scan into
the anonymous facts a scan row keeps (country, device, referrer host, destination, and the
visitor hashed under the day's key when this process knows it) and appends them to this
process's journal (`openqr.scans.journal`) with one write. The flusher syncs the journal and
stores what it holds with `scans.store_scans` every `OPENQR_SCAN_FLUSH_INTERVAL` seconds, in
batches. A batch that fails waits and is tried again, with back-off, for as long as the
database takes to come back: nothing is given up, and memory stays bounded because the
journal, not a list in memory, holds the backlog. Each record is numbered in its journal, so
a batch stored twice (a replay after a kill, a commit whose answer was lost) counts once.

At start the recorder takes over the journals of processes that are gone and stores them too.
A journal that cannot be written (a full disk, a folder that is not writable) never stops the
redirect: its scans wait in memory instead (at most `OPENQR_SCAN_BUFFER_SIZE`), counted
(`journal.write_failures`) and logged; beyond that they are counted as dropped. Nothing of a
request is ever logged, and its address and user agent never reach the disk.
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import threading
import time
import uuid
from collections import deque
from pathlib import Path

from flask import Flask
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ..errors import DatabaseUnavailable
from ..extensions import db
from . import classify, visitors
from . import journal as journals
from . import store as scans

log = logging.getLogger(__name__)

BATCH = 5_000  # events per transaction
STOP_PATIENCE = 3.0  # seconds a stop waits for the database; the journal keeps the rest
LOG_EVERY = 10.0  # seconds between two log lines about the same trouble
ADOPT_EVERY = 60.0  # seconds between two looks for journals of processes that are gone
REOPEN_EVERY = 5.0  # seconds between two attempts to write the journal again after a failure
# The database cannot be reached or cannot write now: wait and try the same batch again. Any other
# error is a batch the database refuses; `_isolate` finds the scans it refuses and sets them aside.
OUTAGE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout, DatabaseUnavailable, OSError)
SECONDS_A_DAY = 86_400


def _utc(timestamp: float) -> dt.datetime:
    """A Unix time as the naive UTC datetime the database stores."""
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).replace(tzinfo=None)


class Memory:
    """Scans the journal could not take, in order, as a stream of their own (numbered too, so
    a batch retried after a commit whose answer was lost still counts once)."""

    def __init__(self, name: str):
        self.name = name
        self.seq = 0
        self.records: deque[tuple[tuple, str]] = deque()  # (record, visitor)
        self._lock = threading.Lock()  # numbers in the order of the deque: a mark skips what is below it

    def append(self, fields: tuple, visitor: str) -> None:
        with self._lock:
            self.seq += 1
            self.records.append(((self.seq, *fields), visitor))

    def take(self, limit: int) -> list[tuple[tuple, str]]:
        records = self.records
        return [records.popleft() for _ in range(min(limit, len(records)))]


class ScanRecorder:
    """The journal and its flusher for one app. `add` never blocks on the database and never raises."""

    def __init__(
        self,
        app: Flask,
        classifier: classify.ScanClassifier,
        *,
        interval: float = 0.2,
        capacity: int = 50_000,
        sync: bool = False,
        journal_dir: str | Path | None = None,
        max_backoff: float = 5.0,
    ):
        self.app, self.interval, self.capacity, self.sync = app, interval, capacity, sync
        self.max_backoff = max_backoff  # seconds between retries of a failing write, at most
        self._classifier = classifier
        self.name = uuid.uuid4().hex  # this process's journal, and its stream in `scan_streams`
        root = Path(journal_dir or Path(app.instance_path) / "scan-journal")
        self.journal = journals.Journal(root, self.name)
        self._memory = Memory(self.name + "m")
        self._orphans: list[journals.Orphan] = []
        self._orphan_done: dict[str, int] = {}  # records of each orphan stored or skipped so far
        self._unhashed: dict[int, str] = {}  # journal seq -> visitor, for scans no day key hashed yet
        self._pending: tuple | None = None  # (stream, events, position): the batch being written
        self._refused: journals.Journal | None = None  # scans the database refused, for the next start
        self._stored_seq = 0  # the last record of this process's journal that is stored
        self._keys: dict[int, object] = {}  # UTC day number -> that day's keyed HMAC
        self._key_days: frozenset[dt.date] = frozenset()
        self._visitors_day: dt.date | None = None  # the UTC day whose ended predecessors were forgotten
        self._attempts = 0  # failed writes in a row
        self.dropped = self.flushed = self.failed = 0
        self._last_log: dict[str, float] = {}
        self._flush_lock = threading.Lock()  # one writer at a time
        self._state_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = self._stopped = False
        self._next_adopt = self._next_reopen = 0.0
        self.observe_flush = lambda seconds: None  # openqr.ops.metrics sets its histogram here

    # Start ------------------------------------------------------------------------

    def start(self) -> None:
        """Open the journal, take over those of processes that are gone, and start the flusher
        (unless every `add` writes at once). Runs once; the first `add` calls it if need be, and
        waits for it. No query: the flusher learns the day's visitor key, and hashes the scans
        answered before it did."""
        with self._state_lock:
            if self._started or self._stopped:
                return
            self.journal.open()
            self._adopt()
            if not self.sync:
                self._thread = threading.Thread(target=self._run, name="openqr-scan-flusher", daemon=True)
                self._thread.start()
                atexit.register(self.stop)
            self._started = True

    def _adopt(self) -> None:
        """Take over the journals whose process is gone: their scans are stored before this one's."""
        self._next_adopt = time.monotonic() + ADOPT_EVERY
        found = journals.orphans(self.journal.root, self.name)
        for orphan in found:
            log.info("storing the %d scans left in the journal of a stopped process", orphan.records)
            self._orphan_done[orphan.name] = 0
        self._orphans += found

    # The request side -------------------------------------------------------------

    def add(self, code_id: str, environ: dict, destination: str | None = None) -> None:
        """Count one scan of a code, from the request's WSGI environ, sent to `destination`:
        on disk when this returns (or, when the disk refuses, in memory and counted)."""
        if not self._started and not self._stopped:
            self.start()
        now = time.time()
        country, device, referrer, visitor = self._classifier.facts(environ)
        day = self._keys.get(int(now // SECONDS_A_DAY))
        digest = visitors.digest(day, visitor, code_id) if day is not None else None
        fields = (code_id, now, country, device, referrer, destination, digest)
        seq = 0 if self._stopped else self.journal.append(fields)
        if seq:
            # The flusher hashes it once it knows the day's key (bounded like the memory buffer).
            if digest is None and len(self._unhashed) < self.capacity:
                self._unhashed[seq] = visitor
        else:
            self._keep_in_memory(fields, visitor)
        if self.sync or self._stopped:
            self.flush()

    def _keep_in_memory(self, fields: tuple, visitor: str) -> None:
        pending = self._pending
        held = len(self._memory.records) + (len(pending[1]) if pending and pending[0] is self._memory else 0)
        if held >= self.capacity:
            with self._state_lock:
                self.dropped += 1
            if self._due("dropped"):
                log.warning(
                    "scan journal unwritable and memory full (%d held): %d scans not recorded so far",
                    self.capacity,
                    self.dropped,
                )
            return
        self._memory.append(fields, visitor)

    def _due(self, topic: str) -> bool:
        """Whether a log line about `topic` is due: at most one per LOG_EVERY seconds."""
        now = time.monotonic()
        if now - self._last_log.get(topic, -LOG_EVERY) < LOG_EVERY:
            return False
        self._last_log[topic] = now
        return True

    # The flusher ------------------------------------------------------------------

    def _run(self) -> None:
        retry_at = 0.0
        while not self._wake.wait(self.interval):
            self.journal.sync()  # what was answered since the last round is on the disk now
            now = time.monotonic()
            if now >= retry_at:
                self.flush()
                # Back off while writes fail, so an outage is not hammered; never give up.
                retry_at = 0.0
                if self._pending is not None:
                    retry_at = now + min(self.interval * 2 ** min(self._attempts, 16), self.max_backoff)
            if not self.journal.writable and now >= self._next_reopen:
                self._next_reopen = now + REOPEN_EVERY
                self.journal.reopen()
            if self._pending is None and now >= self._next_adopt:
                self._adopt()

    def _event(self, record: tuple, visitor: str | None) -> classify.ScanEvent:
        seq, code_id, at, country, device, referrer, destination, digest = record
        return classify.ScanEvent(
            code_id, _utc(at), country, device, referrer, destination, visitor, digest=digest, seq=seq
        )

    def _next_batch(self) -> tuple | None:
        """The next batch to store: journals of stopped processes first, then this one's, then memory."""
        for orphan in list(self._orphans):
            records, position = orphan.read(BATCH)
            if records:
                return orphan, [self._event(record, None) for record in records], position
            orphan.advance(position)
            self._retire(orphan)
        records, position = self.journal.read(BATCH)
        if records:
            unhashed = self._unhashed
            events = [
                self._event(record, unhashed.pop(record[0], None) if record[7] is None else None)
                for record in records
            ]
            return self.journal, events, position
        self.journal.advance(position)
        held = self._memory.take(BATCH)
        if held:
            return self._memory, [self._event(record, visitor) for record, visitor in held], None
        return None

    def _retire(self, orphan: journals.Orphan) -> None:
        self._orphans.remove(orphan)
        self._orphan_done.pop(orphan.name, None)
        if orphan.pending_bytes():
            orphan.release()  # a segment it could not read (logged): tried again at the next adoption
            return
        orphan.retire()
        self._forget_streams(orphan.name, orphan.name + "m")

    def flush(self) -> int:
        """Store everything the journals and memory hold now, in batches; return how many scans
        were stored. A batch the database cannot take stays for the next flush."""
        stored = 0
        with self._flush_lock:
            self._daily()
            while True:
                if self._pending is None:
                    self._pending = self._next_batch()
                    if self._pending is None:
                        break
                stream, events, position = self._pending
                written = self._store(stream.name, events)
                if written is None:
                    break
                if position is not None:
                    stream.advance(position)
                if stream is self.journal:
                    self._stored_seq = events[-1].seq
                    self._forget_unhashed()
                elif stream.name in self._orphan_done:
                    self._orphan_done[stream.name] += len(events)
                self._pending = None
                stored += written
        return stored

    def _forget_unhashed(self) -> None:
        """Visitors noted just after the flusher read their scan (a race with `add`) are never
        asked for: drop those of stored scans, so the notes stay few."""
        if self._unhashed:
            stored = self._stored_seq
            for seq in [seq for seq in list(self._unhashed) if seq <= stored]:
                self._unhashed.pop(seq, None)

    def _daily(self) -> None:
        """Once a UTC day, even with no scans to write: delete the visitor keys and hashes of the
        days that have ended, and learn today's key (late in the day tomorrow's too, so an outage
        over midnight still hashes its visitors). A failure is retried at the next flush."""
        now = time.time()
        today = _utc(now).date()
        wanted = {today}
        if now % SECONDS_A_DAY >= SECONDS_A_DAY - 3600:
            wanted.add(today + dt.timedelta(days=1))
        if today == self._visitors_day and wanted <= self._key_days:
            return
        with self.app.app_context():
            try:
                if today != self._visitors_day:
                    visitors.forget_ended_days(today)
                keys = {day: visitors.day_key(day) for day in sorted(wanted)}
                db.session.commit()
            except SQLAlchemyError:  # the database is away: the next flush tries again
                db.session.rollback()
                log.debug("could not renew the visitor keys; will retry", exc_info=True)
                return
        epoch = dt.date(1970, 1, 1)
        self._keys = {(day - epoch).days: visitors.keyed(key) for day, key in keys.items()}
        self._key_days = frozenset(wanted)
        if self._visitors_day is not None and today != self._visitors_day:
            self.journal.rotate()  # the ended day's digests leave the disk with its segment
        self._visitors_day = today

    def _store(self, stream: str, events: list[classify.ScanEvent]) -> int | None:
        """Store a batch of a stream; None (the batch is kept) while the database cannot take it."""
        started = time.perf_counter()
        with self.app.app_context():
            try:
                written = scans.store_scans(events, stream)
            except OUTAGE:
                db.session.rollback()
                self._attempts += 1
                if self._due("outage"):
                    log.warning(
                        "could not store %d scans (attempt %d); they wait in the journal and are tried again",
                        len(events),
                        self._attempts,
                        exc_info=self._attempts == 1,
                    )
                return None
            except Exception:  # refused, not unreachable: find which scans, keep the others
                db.session.rollback()
                if self._due("refused"):
                    log.warning("the database refused a batch of %d scans", len(events), exc_info=True)
                return self._isolate(stream, events)
        self.observe_flush(time.perf_counter() - started)
        if self._attempts:
            log.info("scans are stored again after %d failed attempts", self._attempts)
        self._attempts = 0
        self.flushed += written
        return written

    def _isolate(self, stream: str, events: list[classify.ScanEvent]) -> int | None:
        """Store a refused batch in halves, down to the single scans the database refuses while it
        takes an empty write: those are set aside in a journal of their own, which the next start
        tries again (counted as `failed`, logged). None when nothing can be written now."""
        if len(events) == 1:
            if not self._database_writes(stream):
                self._attempts += 1
                return None
            self._set_aside(events[0])
            return 0
        half = len(events) // 2
        first = self._store(stream, events[:half])
        if first is None:
            return None
        second = self._store(stream, events[half:])  # the first half is marked stored: a retry skips it
        return None if second is None else first + second

    def _set_aside(self, event: classify.ScanEvent) -> None:
        if self._refused is None:
            self._refused = journals.Journal(self.journal.root, self.name + "r")
            self._refused.open()
        at = event.at.replace(tzinfo=dt.UTC).timestamp()
        fields = (
            event.code_id,
            at,
            event.country,
            event.device,
            event.referrer,
            event.destination,
            event.digest,
        )
        kept = self._refused.append(fields)
        self.failed += 1
        log.error(
            "the database refused a scan of code %s at %s; %s",
            event.code_id,
            event.at,
            "it is set aside, and tried again at the next start" if kept else "it could not be kept",
        )

    def _database_writes(self, stream: str) -> bool:
        with self.app.app_context():
            try:
                scans.store_scans([], stream)
            except Exception:  # any failure here means: not now
                db.session.rollback()
                log.debug("the database does not take writes now", exc_info=True)
                return False
        return True

    def _forget_streams(self, *streams: str) -> None:
        with self.app.app_context():
            try:
                scans.forget_streams(*streams)
                db.session.commit()
            except SQLAlchemyError:  # a leftover row of a few bytes; harmless
                db.session.rollback()

    # Stop -------------------------------------------------------------------------

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the flusher and store what is held, waiting for the database STOP_PATIENCE seconds
        at most (and `timeout` for all of it); what it cannot store now stays in the journal,
        which the next start stores (logged)."""
        with self._state_lock:
            if self._stopped:
                return
            self._stopped = True
            if not self._started:
                return  # nothing was ever held
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)  # a write in progress finishes first
        deadline = time.monotonic() + min(timeout, STOP_PATIENCE)
        self.flush()
        attempt = 0
        while self._held() and time.monotonic() < deadline:
            attempt += 1
            time.sleep(min(0.2 * attempt, max(0.0, deadline - time.monotonic())))
            self.flush()
        for record, _visitor in self._memory.take(len(self._memory.records)):
            # Scans only memory held: into the journal if the disk takes them now, else lost.
            if not (self.journal.writable and self.journal.append(record[1:])):
                self.dropped += 1
        left = self._held()
        if self.journal.close():
            self._forget_streams(self.name, self._memory.name)
        for each in (self._refused, *self._orphans):
            if each is not None:
                each.release()  # the next process to start takes them over
        if left:
            log.warning(
                "stopping with %d scans not yet stored: they wait in the scan journal (%s), and the "
                "next start stores them",
                left,
                self.journal.root,
            )

    def _held(self) -> int:
        """Scans answered and not yet stored, wherever they wait."""
        orphans = sum(orphan.records - self._orphan_done.get(orphan.name, 0) for orphan in self._orphans)
        memory = len(self._memory.records)
        if self._pending is not None and self._pending[0] is self._memory:
            memory += len(self._pending[1])
        return (self.journal.seq - self._stored_seq) + orphans + memory

    # Numbers ----------------------------------------------------------------------

    def health(self) -> dict:
        """Numbers for /healthz: scans not yet stored, stored, dropped (memory full), refused;
        and what the journal holds."""
        journal = self.journal
        orphans = list(self._orphans)
        return {
            "scans": {
                "buffered": self._held(),
                "flushed": self.flushed,
                "dropped": self.dropped,
                "failed": self.failed,
            },
            "journal": {
                "writable": journal.error is None,  # no write (or opening) failed since the last success
                "pending_records": (journal.seq - self._stored_seq)
                + sum(orphan.records - self._orphan_done.get(orphan.name, 0) for orphan in orphans),
                "pending_bytes": journal.pending_bytes() + sum(orphan.pending_bytes() for orphan in orphans),
                "segments": journal.segments() + sum(orphan.segments() for orphan in orphans),
                "write_failures": journal.write_failures,
                "stopped_processes": len(orphans),
            },
        }


def create(app: Flask, classifier: classify.ScanClassifier) -> ScanRecorder:
    """The app's recorder, as its settings say."""
    config = app.config
    return ScanRecorder(
        app,
        classifier,
        interval=config["OPENQR_SCAN_FLUSH_INTERVAL"],
        capacity=config["OPENQR_SCAN_BUFFER_SIZE"],
        # Tests see their scans at once unless they ask for the background flusher.
        sync=config.get("OPENQR_SCAN_SYNC", app.testing),
        journal_dir=config.get("OPENQR_SCAN_JOURNAL_DIR"),
        max_backoff=config["OPENQR_SCAN_RETRY_MAX"],
    )
