"""The app's running parts, made once in `create_app` and found through `services(app)`.

`Services` holds the scan classifier, the recorder, the link table and the redirect built on
them, the metrics, the schedule runner, the webhook deliverer and the `/mcp` endpoint. The
background ones are started by `start()` in that order and stopped by `stop()` in the reverse
order, each once and each within a bounded wait; `openqr.main.serve` and the tests' fixtures
make the same two calls. Some parts also start themselves when first needed (the link table at
the first redirect, the flusher at the first buffered scan, the MCP loop at the first `/mcp`
request); `stop()` stops them all the same.

This module imports no area at run time (areas import it to find their collaborators); the
area types below are named for type checkers only.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from flask import Flask, current_app

if TYPE_CHECKING:
    from .assistant.http import McpEndpoint
    from .codes.scheduler import ScheduleRunner
    from .ops.metrics import Metrics
    from .redirect.links import LinkTable
    from .redirect.views import Redirector
    from .scans.classify import ScanClassifier
    from .scans.recorder import ScanRecorder
    from .webhooks.delivery import Deliverer

log = logging.getLogger(__name__)

EXTENSION = "openqr"  # the one key in app.extensions, as Flask-SQLAlchemy keeps "sqlalchemy"
STOP_TIMEOUT = 10.0  # seconds each part may take to stop (systemd's TimeoutStopSec is 30)


class Part(Protocol):
    """A background part: `start()` and `stop()` may each be called more than once, and a stop
    of a part that never started does nothing harmful."""

    def start(self) -> None: ...

    def stop(self, timeout: float) -> None: ...


@dataclass(eq=False)
class Services:
    """Everything of one app that outlives a request."""

    classifier: ScanClassifier
    recorder: ScanRecorder
    links: LinkTable
    redirector: Redirector
    metrics: Metrics
    scheduler: ScheduleRunner
    deliverer: Deliverer
    mcp: McpEndpoint | None = None  # None while OPENQR_MCP is off
    # First path segments the app routes (openqr.codes.core.reserved_slugs), found at first use.
    reserved_slugs: frozenset[str] | None = None
    _state: str = field(default="new", init=False, repr=False)  # new -> started -> stopped
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def background(self) -> list[tuple[str, Part]]:
        """The background parts in start order: scans are taken before links are served, and
        written last, once everything that could add one has stopped."""
        parts: list[tuple[str, Part]] = [
            ("recorder", self.recorder),
            ("links", self.links),
            ("scheduler", self.scheduler),
            ("deliverer", self.deliverer),
        ]
        if self.mcp is not None:
            parts.append(("mcp", self.mcp))
        return parts

    def start(self) -> None:
        """Start every background part, in order; a second call does nothing, and a stopped
        app does not start again (its threads are gone for good)."""
        with self._lock:
            if self._state == "stopped":
                raise RuntimeError("the app's services were stopped; make a new app to serve again")
            if self._state == "started":
                return
            self._state = "started"
            for _name, part in self.background():
                part.start()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop every background part in the reverse order, each waiting at most `timeout`
        seconds; the recorder goes last and writes every scan it still holds. Once only: a
        second call returns at once."""
        with self._lock:
            if self._state == "stopped":
                return
            self._state = "stopped"
            for name, part in reversed(self.background()):
                try:
                    part.stop(timeout)
                except Exception:  # one part failing must not keep the others (the scans) from stopping
                    log.exception("could not stop the %s cleanly", name)

    def health(self) -> dict:
        """The parts' figures that /healthz adds to its answer."""
        return self.recorder.health()


def init_app(app: Flask, made: Services) -> Services:
    """Put the app's services where `services(app)` finds them."""
    app.extensions[EXTENSION] = made
    return made


def services(app: Flask) -> Services:
    """The services of `app` (made by `create_app`)."""
    return app.extensions[EXTENSION]


def current_services() -> Services:
    """The services of the app handling this request or command."""
    return current_app.extensions[EXTENSION]
