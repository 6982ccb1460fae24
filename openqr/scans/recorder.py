"""Scan writes off the request path: a bounded in-memory buffer that one thread flushes in batches.

A request only appends the few request facts classification needs (country header, client
address, user agent, referrer) with its time; the flusher classifies them and stores them
with `scans.store_scans`, every `OPENQR_SCAN_FLUSH_INTERVAL` seconds. Nothing of the buffer
is ever logged. A graceful stop (`stop()`, also run at exit) writes everything still held;
a hard kill loses at most one flush interval.
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import threading
import time
from collections import deque

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from . import classify, visitors
from . import store as scans

log = logging.getLogger(__name__)

BATCH = 5_000  # events per transaction
MAX_ATTEMPTS = 40  # a batch that failed this often (about 3 minutes of back-off) is given up, loudly
MAX_BACKOFF = 5.0  # seconds between retries of a failing write, at most
DROP_LOG_EVERY = 10.0  # seconds between "buffer full" log lines


def _utc(timestamp: float) -> dt.datetime:
    """A Unix time as the naive UTC datetime the database stores."""
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).replace(tzinfo=None)


class ScanRecorder:
    """The buffer and its flusher for one app. `add` never blocks on the database and never raises."""

    def __init__(
        self,
        app: Flask,
        classifier: classify.ScanClassifier,
        *,
        interval: float = 0.2,
        capacity: int = 50_000,
        sync: bool = False,
    ):
        self.app, self.interval, self.capacity, self.sync = app, interval, capacity, sync
        self._classifier = classifier
        self._country_key = classifier.country_key
        self._forwarded = bool(classifier.trusted_proxies)  # X-Forwarded-For matters only then
        self._buffer: deque[tuple] = deque()
        self._pending: list[classify.ScanEvent] = []  # classified, waiting for a successful write
        self._attempts = 0
        self.dropped = self.flushed = self.failed = 0
        self._last_drop_log = 0.0
        self._flush_lock = threading.Lock()  # one writer at a time
        self._state_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self.observe_flush = lambda seconds: None  # openqr.ops.metrics sets its histogram here
        self._visitors_day: dt.date | None = None  # the UTC day whose ended predecessors were forgotten

    # The request side -------------------------------------------------------------

    def add(self, code_id: str, environ: dict, destination: str | None = None) -> None:
        """Count one scan of a code, from the request's WSGI environ, sent to `destination`."""
        if len(self._buffer) + len(self._pending) >= self.capacity:
            self._overflow()
            return
        get = environ.get
        self._buffer.append(
            (
                code_id,
                time.time(),
                get(self._country_key, "") if self._country_key else "",
                get("REMOTE_ADDR", ""),
                get("HTTP_X_FORWARDED_FOR", "") if self._forwarded else "",
                get("HTTP_USER_AGENT", ""),
                get("HTTP_REFERER", ""),
                destination,
            )
        )
        if self.sync or self._stopped:
            self.flush()
        elif self._thread is None:
            self._start()

    def _overflow(self) -> None:
        with self._state_lock:
            self.dropped += 1
            now = time.monotonic()
            if now - self._last_drop_log < DROP_LOG_EVERY:
                return
            self._last_drop_log = now
        log.warning("scan buffer full (%d held): %d scans not recorded so far", self.capacity, self.dropped)

    # The flusher ------------------------------------------------------------------

    def start(self) -> None:
        """Start the flusher now rather than at the first scan (nothing to start when `sync`)."""
        if not self.sync:
            self._start()

    def _start(self) -> None:
        with self._state_lock:
            if self._thread is not None or self._stopped:
                return
            self._thread = threading.Thread(target=self._run, name="openqr-scan-flusher", daemon=True)
            self._thread.start()
        atexit.register(self.stop)

    def _run(self) -> None:
        delay = self.interval
        while not self._wake.wait(delay):
            self.flush()
            # Back off while writes fail, so a database outage is not hammered.
            delay = min(self.interval * 2**self._attempts, MAX_BACKOFF) if self._pending else self.interval

    def _event(self, raw: tuple) -> classify.ScanEvent:
        code_id, at, country, address, forwarded, agent, referer, destination = raw
        environ = {"REMOTE_ADDR": address, "HTTP_USER_AGENT": agent, "HTTP_REFERER": referer}
        if self._country_key:
            environ[self._country_key] = country
        if forwarded:
            environ["HTTP_X_FORWARDED_FOR"] = forwarded
        return self._classifier.classify(code_id, environ, _utc(at), destination)

    def flush(self) -> int:
        """Write what is buffered now, in batches; return how many scans were stored.

        A failed write keeps its events for the next flush; after MAX_ATTEMPTS they are
        given up, counted as `failed` and logged.
        """
        stored = 0
        with self._flush_lock:
            self._forget_ended_days()
            while self._pending or self._buffer:
                while self._buffer and len(self._pending) < BATCH:
                    self._pending.append(self._event(self._buffer.popleft()))
                written = self._write(self._pending)
                if written is None:
                    break
                stored += written
                self._pending = []
        return stored

    def _forget_ended_days(self) -> None:
        """Once a UTC day, even with no scans to write: delete the visitor keys and hashes of the
        days that have ended (a failure is retried at the next flush)."""
        today = _utc(time.time()).date()
        if today == self._visitors_day:
            return
        with self.app.app_context():
            try:
                visitors.forget_ended_days(today)
                db.session.commit()
            except SQLAlchemyError:  # the database is away: the next flush tries again
                db.session.rollback()
                log.debug("could not delete the visitor keys of ended days; will retry", exc_info=True)
                return
        self._visitors_day = today

    def _write(self, events: list[classify.ScanEvent]) -> int | None:
        started = time.perf_counter()
        with self.app.app_context():
            try:
                written = scans.store_scans(events)
                self.observe_flush(time.perf_counter() - started)
            except Exception:  # any database failure: keep the events, retry later (logged below)
                db.session.rollback()
                self._attempts += 1
                if self._attempts < MAX_ATTEMPTS:
                    log.warning(
                        "could not store %d scans (attempt %d); will retry",
                        len(events),
                        self._attempts,
                        exc_info=self._attempts == 1,
                    )
                    return None
                log.error(
                    "giving up on %d scans after %d failed writes", len(events), self._attempts, exc_info=True
                )
                self.failed += len(events)
                written = 0
        self._attempts = 0
        self.flushed += written
        return written

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the flusher and write everything still held (retrying a few times)."""
        self._stopped = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        for attempt in range(5):
            self.flush()
            if not (self._pending or self._buffer):
                break
            time.sleep(0.2 * (attempt + 1))
        if self._pending or self._buffer:
            log.error("stopping with %d scans not stored", len(self._pending) + len(self._buffer))

    def health(self) -> dict:
        """Numbers for /healthz: held in memory, written, not recorded (buffer full), given up."""
        return {
            "scans": {
                "buffered": len(self._buffer) + len(self._pending),
                "flushed": self.flushed,
                "dropped": self.dropped,
                "failed": self.failed,
            }
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
    )
