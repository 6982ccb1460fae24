"""The background step that writes due schedule entries into the database, in every process.

The redirect never waits for it: it already sends visitors to a due entry's destination from
the in-memory link (`smart.current_destination`). This step makes the change durable, once:
`codes.apply_due_schedule` is a conditional UPDATE, so of several processes one wins.
"""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask

from ..extensions import db
from . import core as codes

log = logging.getLogger(__name__)

INTERVAL = 1.0  # seconds between passes


class ScheduleRunner:
    """One thread that runs `run_once` each second; the server starts it once migrations are
    applied. Commands and tests do without: API reads apply a code's due entries themselves
    (`codes.get_code`)."""

    def __init__(self, app: Flask, interval: float = INTERVAL):
        self.app, self.interval = app, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the thread; idempotent, and nothing starts once stopped."""
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="openqr-schedule", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """End the thread, waiting for a pass under way (at most `timeout` seconds)."""
        with self._lock:
            self._stop.set()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def run_once(self) -> int:
        """Apply every due entry now; return how many codes changed."""
        with self.app.app_context():
            try:
                return codes.apply_all_due_schedules()
            except Exception:  # a database outage: the redirect already honours the entry; retry next pass
                db.session.rollback()
                log.warning("could not apply due schedule entries; will retry", exc_info=True)
                return 0
            finally:
                db.session.remove()

    def _run(self) -> None:
        # Wake just after each whole second, when entries (whole seconds) fall due.
        while not self._stop.wait(self.interval - time.time() % self.interval + 0.05):
            self.run_once()
