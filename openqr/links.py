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
from sqlalchemy import func, select

from . import smart
from .extensions import db
from .models import Code, ScanDay

TTL = 1.0  # seconds a cached look-up is believed: the bound on cross-process staleness
MAX_ENTRIES = 100_000  # about 20 MB at most; a full cache is emptied, not grown


@dataclass(frozen=True, slots=True)
class Link:
    code_id: str
    destination: str
    status: str
    plan: smart.Plan | None = None  # rules, split, schedule, expiry, cap, utm; None for a plain link
    scans: int = 0  # stored scans at look-up time (read only for a code with a scan cap)
    tally: int = 0  # this process's scan tally of the code at look-up time (see LinkCache.count)


def link_of(code_id: str, destination: str, status: str, smart_fields: dict | None, scans: int = 0) -> Link:
    """One database row's worth of a code as the redirect uses it."""
    return Link(code_id, destination, status, smart.compile_plan(smart_fields, destination), scans)


class LinkCache:
    """Recent look-ups of one app. Reads take no lock: a dict read is atomic."""

    def __init__(self, ttl: float = TTL, max_entries: int = MAX_ENTRIES):
        self.ttl, self.max_entries = ttl, max_entries
        self._entries: dict[str, tuple[float, Link]] = {}
        self._generation = 0  # bumped by every drop, so a look-up racing a change is not kept
        self._lock = threading.Lock()
        # Scans this process counted per capped code, so a cap holds between look-ups.
        self.tallies: dict[str, int] = {}

    def count(self, link: Link) -> None:
        """One more counted scan of a capped code (a lost increment under a race only delays the cap)."""
        self.tallies[link.code_id] = self.tallies.get(link.code_id, 0) + 1

    def scans_of(self, link: Link) -> int:
        """The code's scans now, as far as this process knows: stored at look-up plus counted since."""
        return link.scans + self.tallies.get(link.code_id, 0) - link.tally

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
    row = db.session.execute(
        select(Code.id, Code.destination, Code.status, Code.smart).where(Code.slug == slug)
    ).first()
    if row is None:
        return None  # unknown slugs are not kept: a code created a moment later must resolve
    link = link_of(*row)
    if link.plan is not None and link.plan.max_scans is not None:
        # The tally is read before the count so a scan flushed in between is not missed twice.
        tally = cache.tallies.get(link.code_id, 0)
        stored = db.session.execute(
            select(func.sum(ScanDay.n)).where(ScanDay.code_id == link.code_id)
        ).scalar()
        link = Link(link.code_id, link.destination, link.status, link.plan, int(stored or 0), tally)
    cache.put(slug, link, started, generation)
    return link


def changed(*slugs: str) -> None:
    """Called after a commit that changed what these slugs resolve to."""
    cache_of(current_app).drop(*slugs)
