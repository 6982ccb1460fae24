"""Short-link look-up for the redirect: slug -> (code id, destination, status).

Every change to a code's slug, destination, status or existence calls `changed()`,
which drops the slugs from this process's cache at once. Other processes on the same
database see a change when their entry expires: entries live at most `TTL` seconds.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from .extensions import db
from .models import Code

TTL = 1.0  # seconds a cached look-up is believed: the bound on cross-process staleness
MAX_ENTRIES = 100_000  # about 20 MB at most; a full cache is emptied, not grown


@dataclass(frozen=True, slots=True)
class Link:
    code_id: str
    destination: str
    status: str


class LinkCache:
    """Recent look-ups of one app. Reads take no lock: a dict read is atomic."""

    def __init__(self, ttl: float = TTL, max_entries: int = MAX_ENTRIES):
        self.ttl, self.max_entries = ttl, max_entries
        self._entries: dict[str, tuple[float, Link]] = {}
        self._generation = 0  # bumped by every drop, so a look-up racing a change is not kept
        self._lock = threading.Lock()

    def get(self, slug: str, now: float | None = None) -> Link | None:
        """The cached link, or None when the slug is not cached or its entry expired."""
        entry = self._entries.get(slug)
        if entry is None or entry[0] <= (time.monotonic() if now is None else now):
            return None
        return entry[1]

    def generation(self) -> int:
        return self._generation

    def put(self, slug: str, link: Link, started: float, generation: int) -> None:
        """Keep a look-up that began at `started` (monotonic), unless a change came meanwhile."""
        with self._lock:
            if generation != self._generation:
                return
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[slug] = (started + self.ttl, link)

    def drop(self, *slugs: str) -> None:
        with self._lock:
            self._generation += 1
            for slug in slugs:
                self._entries.pop(slug, None)


def cache_of(app) -> LinkCache:
    cache = app.extensions.get("openqr.links")
    if cache is None:
        cache = app.extensions.setdefault("openqr.links", LinkCache())
    return cache


def resolve(slug: str) -> Link | None:
    """The link a slug currently points to, or None (at most `TTL` seconds old)."""
    cache = cache_of(current_app)
    started = time.monotonic()
    link = cache.get(slug, started)
    if link is not None:
        return link
    generation = cache.generation()
    row = db.session.execute(select(Code.id, Code.destination, Code.status).where(Code.slug == slug)).first()
    if row is None:
        return None  # unknown slugs are not kept: a code created a moment later must resolve
    link = Link(*row)
    cache.put(slug, link, started, generation)
    return link


def changed(*slugs: str) -> None:
    """Called after a commit that changed what these slugs resolve to."""
    cache_of(current_app).drop(*slugs)
