"""Every short link in memory, kept exact by the database's change feed: slug -> Link.

Each process loads the links once (at start, or at its first request), then follows the
feed that database triggers write (migration 0003): every change of a code gives it a new,
higher `codes.version`, and a delete or a slug change leaves a tombstone. A thread polls
`version > cursor` every `OPENQR_LINK_POLL_INTERVAL` seconds with one indexed query, so
another process's change is served within a second; a change made in this process calls
`changed()`, which catches up at once, so the very next scan sees it. No scan queries the
database, except the first scan of a slug that is not in memory: one raw look-up, outside
Flask's request machinery. While the database is unreachable every link in memory keeps
answering; a look-up raises `DatabaseUnavailable` (a 503 page, since nobody can know).

A link with smart destinations carries its compiled plan (openqr.codes.smart), so rules, split,
schedule, expiry and UTM are decided from memory too. For a code with a scan cap the table
also keeps its stored scan count, re-read with each poll, plus the scans this process
counted since: across processes the cap may overshoot by the scans of one flush interval each.

`OPENQR_LINK_TABLE_SIZE` caps the table: beyond it the least recently scanned links leave
memory and come back through a look-up (then they depend on the database being up).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import bindparam, cast, create_engine, event, func, literal, null, select, union_all
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.urls import iri_to_uri

from ..codes import smart
from ..codes.core import slugs_changed_signal
from ..errors import DatabaseUnavailable
from ..models import Code, LinkTombstone
from ..scans import analytics
from ..services import services

log = logging.getLogger(__name__)

# The one column list a link is built from (`link_from_row`): a new field is one edit here and there.
COLUMNS = (Code.slug, Code.id, Code.destination, Code.status, Code.smart)
RETRY_AFTER_FAILURE = 1.0  # seconds look-ups answer "unavailable" at once after a failed query
CONNECT_TIMEOUT = 2  # seconds; a scan never waits longer than this for an unreachable database


@dataclass(frozen=True, slots=True)
class Link:
    code_id: str
    destination: str
    location: str  # the destination as sent in a Location header (an IRI made a URI)
    status: str  # active | disabled
    plan: smart.Plan | None = None  # rules, split, schedule, expiry, cap, utm; None for a plain link


# A URL that werkzeug's iri_to_uri leaves as it is (most destinations): checked in 1 us, not 17.
_ALREADY_URI = re.compile(
    r"https?://[a-z0-9.\-]+(?::[0-9]+)?(?:/[\w.\-~%!$&'()*+,/:;=@]*)?"
    r"(?:\?[\w.\-~%!$&'()*+,/:;=@?]+)?(?:#[\w.\-~%!$&'()*+,/:;=@?#]+)?",
    re.ASCII,
)


def location_of(destination: str) -> str:
    """A destination as sent in a Location header: werkzeug's IRI-to-URI, skipped when it changes nothing."""
    if _ALREADY_URI.fullmatch(destination):
        return destination  # one string, not two equal ones: memory per link matters here
    return iri_to_uri(destination)


def link_from_row(row) -> tuple[str, Link]:
    """(slug, Link) from a row of `COLUMNS`: the one place a database row becomes a link."""
    slug, code_id, destination, status, smart_fields = row
    plan = smart.compile_plan(smart_fields, destination) if smart_fields else None
    return slug, Link(code_id, destination, location_of(destination), sys.intern(status), plan)


def _capped(link: Link) -> bool:
    return link.plan is not None and link.plan.max_scans is not None


def _engine(url: str):
    """A small engine of the table's own: short timeouts, so an outage fails fast instead of hanging."""
    if url.startswith("sqlite"):
        engine = create_engine(url)

        @event.listens_for(engine, "connect")
        def _short_wait(dbapi_connection, _record):
            # After the app-wide pragmas (openqr/__init__.py): wait 1 s for a lock, not 10.
            dbapi_connection.execute("PRAGMA busy_timeout=1000")
    else:
        engine = create_engine(
            url,
            pool_pre_ping=True,
            pool_size=2,
            max_overflow=32,
            pool_timeout=CONNECT_TIMEOUT,
            connect_args={"connect_timeout": CONNECT_TIMEOUT},
        )
    return engine


def _changes_query():
    """Rows changed and slugs gone since `:cursor`, in version order: one statement, one snapshot."""
    cursor = bindparam("cursor")
    rows = select(Code.version, literal(False).label("gone"), *COLUMNS).where(Code.version > cursor)
    gone = select(
        LinkTombstone.version,
        literal(True).label("gone"),
        *(LinkTombstone.slug if column is Code.slug else cast(null(), column.type) for column in COLUMNS),
    ).where(LinkTombstone.version > cursor)
    return union_all(rows, gone).order_by("version")


_CHANGES = _changes_query()
_BY_SLUG = select(*COLUMNS).where(Code.slug == bindparam("slug"))
_ALL = select(*COLUMNS)
_NEWEST_FIRST = select(*COLUMNS).order_by(Code.version.desc())
_HIGHEST = union_all(
    select(func.max(Code.version).label("version")), select(func.max(LinkTombstone.version))
).subquery()
_CURSOR = select(func.coalesce(func.max(_HIGHEST.c.version), 0))


class LinkTable:
    """The links of one app. Reads take no lock: a dict read is atomic."""

    def __init__(self, database_url: str, *, poll_interval: float = 0.5, max_links: int = 0):
        self.database_url, self.poll_interval, self.max_links = database_url, poll_interval, max_links
        self._links: dict[str, Link] = OrderedDict() if max_links else {}
        self.get = self._get_recent if max_links else self._links.get
        self.cursor = 0
        self.loaded = False
        self.last_poll = 0.0  # monotonic time of the last successful poll
        self._generation = 0  # bumped by every applied change, so a look-up racing one is not kept
        self._down_until = 0.0
        self._engine = None
        self._lock = threading.Lock()  # one poll (or load) at a time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Codes with a scan cap: their stored scans at the last read, with this process's tally then.
        self._capped: dict[str, tuple[int, int]] = {}
        self._tallies: dict[str, int] = {}  # scans this process counted, per capped code

    def __len__(self) -> int:
        return len(self._links)

    @property
    def engine(self):
        if self._engine is None:
            self._engine = _engine(self.database_url)
        return self._engine

    def _get_recent(self, slug: str) -> Link | None:
        """With a size cap: a hit makes the link the most recently used."""
        link = self._links.get(slug)
        if link is not None:
            try:
                self._links.move_to_end(slug)
            except KeyError:  # evicted meanwhile
                pass
        return link

    # Scan caps ---------------------------------------------------------------------

    def count(self, code_id: str) -> None:
        """One more scan of a capped code, counted here (a lost increment under a race only
        delays the cap, within the documented overshoot)."""
        self._tallies[code_id] = self._tallies.get(code_id, 0) + 1

    def scans_of(self, code_id: str) -> int:
        """A capped code's scans as far as this process knows: stored at the last read plus
        those counted here since."""
        stored, tally_then = self._capped.get(code_id, (0, 0))
        return stored + self._tallies.get(code_id, 0) - tally_then

    def _read_scan_counts(self, connection, code_ids) -> None:
        """Re-read the stored scans of capped codes. Each tally is taken before the read: a scan
        flushed in between is then counted once (in the store), never twice."""
        ids = list(code_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            tallies = {code_id: self._tallies.get(code_id, 0) for code_id in chunk}
            stored = analytics.stored_scans(chunk, connection=connection)
            for code_id in chunk:
                self._capped[code_id] = (stored[code_id], tallies[code_id])

    def _note(self, connection, links) -> None:
        """Keep the scan counts of the capped codes among `links` (new or changed)."""
        capped = [link.code_id for link in links if _capped(link)]
        if capped:
            self._read_scan_counts(connection, capped)

    def _put(self, slug: str, link: Link) -> None:
        links = self._links
        links[slug] = link
        if self.max_links and len(links) > self.max_links:
            try:
                links.popitem(last=False)
            except KeyError:
                pass

    # Loading and following the feed ------------------------------------------------

    def start(self) -> None:
        """Load every link (up to the cap) and start following the feed; idempotent."""
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is not None:
                return
            if not self.loaded:
                self._load()
            thread = threading.Thread(
                target=_follow, args=(weakref.ref(self), self._stop), name="openqr-link-feed", daemon=True
            )
            thread.start()
            self._thread = thread

    def _load(self) -> None:
        started = time.monotonic()
        try:
            with self.engine.connect() as connection:
                cursor = connection.execute(_CURSOR).scalar_one()
                query = _NEWEST_FIRST.limit(self.max_links) if self.max_links else _ALL
                result = connection.execution_options(stream_results=True, yield_per=10_000).execute(query)
                for row in result:
                    slug, link = link_from_row(row)
                    self._links[slug] = link
                self._note(connection, self._links.values())
        except (DBAPIError, PoolTimeout):
            # Serve anyway: links come through look-ups, and the feed thread loads when it can.
            log.warning("could not load the links; will retry", exc_info=True)
            self._down_until = time.monotonic() + RETRY_AFTER_FAILURE
            return
        self.cursor, self.loaded, self.last_poll = cursor, True, time.monotonic()
        self._generation += 1
        log.info("%d links in memory, loaded in %.1f s", len(self._links), time.monotonic() - started)

    def poll(self) -> int:
        """Apply every change since the cursor; return how many. Raises DatabaseUnavailable."""
        with self._lock:
            if not self.loaded:
                self._load()
                if not self.loaded:
                    raise DatabaseUnavailable("the links could not be loaded")
                return 0
            try:
                with self.engine.connect() as connection:
                    changes = connection.execute(_CHANGES, {"cursor": self.cursor}).all()
                    if self._capped:
                        self._read_scan_counts(connection, list(self._capped))
            except (DBAPIError, PoolTimeout) as err:
                self._down_until = time.monotonic() + RETRY_AFTER_FAILURE
                raise DatabaseUnavailable(str(err)) from err
            self._down_until, self.last_poll = 0.0, time.monotonic()
            if changes:
                applied = self._apply(changes)
                new_caps = [link for link in applied if _capped(link) and link.code_id not in self._capped]
                if new_caps:
                    try:
                        with self.engine.connect() as connection:
                            self._note(connection, new_caps)
                    except (DBAPIError, PoolTimeout):
                        pass  # read again at the next poll
            return len(changes)

    def _apply(self, changes) -> list[Link]:
        """Apply feed rows; return the links now in memory that changed."""
        self._generation += 1
        links, capped, applied = self._links, bool(self.max_links), []
        for _version, gone, *columns in changes:
            if gone:
                links.pop(columns[0], None)
                continue
            slug, link = link_from_row(columns)
            if capped and slug not in links:
                continue  # a capped table keeps what is scanned; the rest waits for a look-up
            links[slug] = link
            applied.append(link)
        self.cursor = changes[-1][0]
        return applied

    def stop(self, timeout: float = 10.0) -> None:
        """Stop following the feed (waiting at most `timeout` seconds for a poll under way) and
        close the table's connections; the links in memory stay readable."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        if self._engine is not None:
            self._engine.dispose()

    # Look-ups ------------------------------------------------------------------------

    def find(self, slug: str) -> Link | None:
        """The link of a slug not in memory, from the database (None: no such code).

        Raises DatabaseUnavailable when the database cannot answer now.
        """
        if time.monotonic() < self._down_until:
            raise DatabaseUnavailable("the database was unreachable a moment ago")
        generation = self._generation
        try:
            with self.engine.connect() as connection:
                row = connection.execute(_BY_SLUG, {"slug": slug}).first()
                found = None if row is None else link_from_row(row)
                if found is not None:
                    self._note(connection, [found[1]])
        except (DBAPIError, PoolTimeout) as err:
            self._down_until = time.monotonic() + RETRY_AFTER_FAILURE
            raise DatabaseUnavailable(str(err)) from err
        if found is None:
            return None  # unknown slugs are not kept: a code created a moment later must resolve
        slug, link = found
        with self._lock:
            if generation == self._generation:
                self._put(slug, link)
        return link

    def changed(self, *slugs: str) -> None:
        """After a commit in this process: forget these slugs and catch up with the feed now."""
        with self._lock:
            self._generation += 1
            for slug in slugs:
                self._links.pop(slug, None)
        if self._thread is None:
            return  # not serving (a CLI command): nothing in memory to keep exact
        try:
            self.poll()
        except DatabaseUnavailable:
            log.warning("could not catch up with the link feed after a change; the feed thread will")


def _follow(table_ref, stop: threading.Event) -> None:
    """The feed thread: poll until the table stops or is gone; log an outage once, and its end."""
    failing = False
    while True:
        table = table_ref()
        if table is None or stop.wait(table.poll_interval):
            return
        try:
            table.poll()
            if failing:
                log.warning("link feed: database reachable again (%d links in memory)", len(table))
            failing = False
        except DatabaseUnavailable:
            if not failing:
                log.warning("link feed: database unreachable; serving the %d links in memory", len(table))
            failing = True
        except Exception:  # the thread must outlive any surprise; say what it was
            log.exception("link feed: unexpected error")
        del table


def create(config) -> LinkTable:
    """The app's link table, as its settings say."""
    return LinkTable(
        config["SQLALCHEMY_DATABASE_URI"],
        poll_interval=config["OPENQR_LINK_POLL_INTERVAL"],
        max_links=config["OPENQR_LINK_TABLE_SIZE"],
    )


@slugs_changed_signal.connect
def _on_slugs_changed(app, slugs: tuple[str, ...]) -> None:
    """A commit changed what these slugs resolve to (sent by the codes area)."""
    services(app).links.changed(*slugs)


def resolve(slug: str) -> Link | None:
    """The link a slug points to now, or None. Raises DatabaseUnavailable when it cannot know."""
    table = services(current_app).links
    table.start()
    link = table.get(slug)
    return link if link is not None else table.find(slug)
