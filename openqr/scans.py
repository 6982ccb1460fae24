"""Recording scans: classify a request into coarse, anonymous facts, then store them.

A scan keeps time, country, device class and referrer host. The IP address and the
user agent are used only in memory to derive those and are never stored or logged.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

import iptocc
import ua_parser
from crawlerdetect import CrawlerDetect
from flask import current_app
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from . import smart, webhooks
from .extensions import db
from .models import Code, Scan, ScanDay, ScanDayValue, utcnow

log = logging.getLogger(__name__)

# Values CDNs send when they do not know the country (unknown, Tor, anonymous proxy...).
_NOT_COUNTRIES = {"XX", "T1", "A1", "A2", "O1", "ZZ", "EU", "AP"}
_DESKTOP_OS = (
    "Windows",
    "Mac OS X",
    "Linux",
    "Ubuntu",
    "Chrome OS",
    "ChromeOS",
    "Fedora",
    "FreeBSD",
    "Debian",
    "OpenBSD",
    "NetBSD",
)
_crawlers = CrawlerDetect()


@dataclass(frozen=True)
class ScanEvent:
    code_id: str
    at: dt.datetime
    country: str | None
    device: str | None
    referrer: str | None
    destination: str | None = None  # where the scan was sent, without utm parameters


@lru_cache(maxsize=8192)
def is_bot(user_agent: str) -> bool:
    """Crawlers and link-preview bots: redirected, never counted."""
    return bool(user_agent) and _crawlers.isCrawler(user_agent)


@lru_cache(maxsize=8192)
def device_class(user_agent: str) -> str | None:
    """mobile, tablet, desktop, or None when the user agent says nothing useful."""
    if not user_agent:
        return None
    result = ua_parser.parse(user_agent)
    device = (result.device.family if result.device else "Other") or "Other"
    os_family = (result.os.family if result.os else "Other") or "Other"
    lowered = device.lower()
    if "ipad" in lowered or "tablet" in lowered or "kindle" in lowered or "Tablet" in user_agent:
        return "tablet"
    if os_family == "Android" and "Mobile" not in user_agent:
        return "tablet"
    if os_family in ("iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS") or (
        device not in ("Other", "Mac", "Spider") and os_family not in _DESKTOP_OS
    ):
        return "mobile"
    if os_family in _DESKTOP_OS or device == "Mac":
        return "desktop"
    return None


_OS_NAMES = {
    "iOS": "ios",
    "iPadOS": "ios",
    "Android": "android",
    "Windows": "windows",
    "Mac OS X": "macos",
    "macOS": "macos",
    "Linux": "linux",
    "Ubuntu": "linux",
    "Fedora": "linux",
    "Debian": "linux",
}


@lru_cache(maxsize=8192)
def os_name(user_agent: str) -> str | None:
    """ios, android, windows, macos, linux (what smart-destination rules match), or None."""
    if not user_agent:
        return None
    parsed = ua_parser.parse_os(user_agent)
    return _OS_NAMES.get(parsed.family) if parsed else None


def warm_up() -> None:
    """Load the user-agent and crawler rules now rather than on the first scan."""
    device_class("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148")
    os_name("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148")
    is_bot("Mozilla/5.0 (compatible; Googlebot/2.1)")


def referrer_host(referer: str) -> str | None:
    if not referer:
        return None
    try:
        host = urlsplit(referer.strip()).hostname
    except ValueError:
        return None
    return host[:255] if host else None


class ScanClassifier:
    """Turns a WSGI environ into (country, device, referrer) under the configured trust rules."""

    def __init__(self, country_header: str, trusted_proxies: tuple):
        self.country_key = "HTTP_" + country_header.upper().replace("-", "_") if country_header else None
        self.trusted_proxies = trusted_proxies

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted_proxies)

    def client_address(self, environ: dict) -> str:
        """The visitor's address: X-Forwarded-For is believed only hop by hop through trusted proxies."""
        address = environ.get("REMOTE_ADDR", "")
        if not self.trusted_proxies or not self._trusted(address):
            return address
        hops = [hop.strip() for hop in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        for hop in reversed(hops):
            address = hop
            if not self._trusted(hop):
                break
        return address

    def country(self, environ: dict) -> str | None:
        if self.country_key:
            value = environ.get(self.country_key, "").strip().upper()
            if len(value) == 2 and value.isalpha() and value.isascii() and value not in _NOT_COUNTRIES:
                return value
        try:
            return iptocc.country_code(self.client_address(environ))
        except ValueError:
            return None

    def visitor(self, needs: frozenset, environ: dict) -> smart.Visitor:
        """What smart-destination rules look at, computing only the facts in `needs` (cached by agent)."""
        agent = environ.get("HTTP_USER_AGENT", "")
        return smart.Visitor(
            device_class(agent) if "device" in needs else None,
            os_name(agent) if "os" in needs else None,
            self.country(environ) if "country" in needs else None,
            smart.language_of(environ.get("HTTP_ACCEPT_LANGUAGE", "")) if "language" in needs else None,
        )

    def classify(
        self, code_id: str, environ: dict, at: dt.datetime | None = None, destination: str | None = None
    ) -> ScanEvent:
        """The scan of `code_id` a request makes, at `at` (default: now, UTC), sent to `destination`."""
        return ScanEvent(
            code_id=code_id,
            at=at or utcnow(),
            country=self.country(environ),
            device=device_class(environ.get("HTTP_USER_AGENT", "")),
            referrer=referrer_host(environ.get("HTTP_REFERER", "")),
            destination=destination,
        )


def _insert(table):
    module = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(table)


def _add_counts(table, keys: tuple[str, ...], counts: Counter) -> None:
    if not counts:
        return
    rows = [{**dict(zip(keys, key, strict=True)), "n": n} for key, n in counts.items()]
    statement = _insert(table).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=list(keys), set_={"n": table.c.n + statement.excluded.n}
    )
    db.session.execute(statement)


_RAW_COLUMNS = ("code_id", "scanned_at", "country", "device", "referrer", "destination")
DESTINATION = "dest"  # the roll-up dimension of where scans were sent (fits the 8-character column)


def _insert_raw(events: list[ScanEvent]) -> None:
    """The raw rows, in the session's transaction. PostgreSQL gets COPY: far less server work
    per row than one INSERT each, and the server shares the machine with the app."""
    rows = [(e.code_id, e.at, e.country, e.device, e.referrer, e.destination) for e in events]
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        import psycopg  # the PostgreSQL driver, present whenever this branch runs

        cursor = connection.connection.driver_connection.cursor()
        try:
            with cursor.copy(f"COPY scans ({', '.join(_RAW_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        except psycopg.IntegrityError as err:  # as SQLAlchemy would raise it: store_scans retries
            raise IntegrityError("COPY scans", None, err) from err
    else:
        connection.execute(
            Scan.__table__.insert(), [dict(zip(_RAW_COLUMNS, row, strict=True)) for row in rows]
        )


def store_scans(events: list[ScanEvent]) -> int:
    """Write raw rows and daily roll-ups in one transaction; return how many were stored.

    Scans of codes deleted meanwhile are dropped (their code, and so their analytics, is gone).
    """
    for _attempt in range(2):
        ids = {event.code_id for event in events}
        live = set(db.session.execute(select(Code.id).where(Code.id.in_(ids))).scalars())
        kept = [event for event in events if event.code_id in live]
        if not kept:
            return 0
        _insert_raw(kept)
        per_day = Counter((e.code_id, e.at.date()) for e in kept)
        per_value = Counter()
        for e in kept:
            day = e.at.date()
            per_value[(e.code_id, day, "country", e.country or "")] += 1
            per_value[(e.code_id, day, "device", e.device or "")] += 1
            per_value[(e.code_id, day, "referrer", e.referrer or "")] += 1
            if e.destination:
                per_value[(e.code_id, day, DESTINATION, e.destination)] += 1
        _add_counts(ScanDay.__table__, ("code_id", "day"), per_day)
        _add_counts(ScanDayValue.__table__, ("code_id", "day", "dimension", "value"), per_value)
        webhooks.scans_stored(kept)  # their `scan` events, in the same transaction
        try:
            db.session.commit()
            return len(kept)
        except IntegrityError:
            # A code was deleted between the check and the insert: look again.
            db.session.rollback()
    return 0


def record_scan(code_id: str, environ: dict, destination: str | None = None) -> None:
    """Count one scan of a code sent to `destination`: queued for the app's recorder; never raises."""
    current_app.extensions["openqr.recorder"].add(code_id, environ, destination)
