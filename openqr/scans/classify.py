"""Recording scans: classify a request into coarse, anonymous facts, then store them.

A scan keeps time, country, device class and referrer host. The IP address and the
user agent are used only in memory to derive those and are never stored or logged.
Distinct visitors are counted per code and UTC day with a keyed hash under a key that
lives one day (`openqr.scans.visitors`); only the counts outlive the day.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit

import iptocc
import ua_parser
from crawlerdetect import CrawlerDetect

from ..models import (
    utcnow,
)

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
DEVICES = ("mobile", "tablet", "desktop")  # what device_class answers, when it knows
COUNTRY = re.compile("[A-Z]{2}")  # what country answers, when it knows (ISO 3166 alpha-2)


@dataclass(frozen=True)
class ScanEvent:
    code_id: str
    at: dt.datetime
    country: str | None
    device: str | None
    referrer: str | None
    destination: str | None = None  # where the scan was sent, without utm parameters
    # "address\nuser agent", held in memory only until the flusher has hashed it (never stored).
    visitor: str | None = field(default=None, repr=False)
    digest: str | None = None  # the visitor already hashed under its day's key (openqr.scans.visitors)
    seq: int = 0  # its number in the scan journal it came from (openqr.scans.journal)


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


# What a referrer counts as when its host is not a host name (`http://=1+2*cmd|'x'!a0/p`): stored
# and shown as this word, never as typed. Capitalised, so no real host (always lower case) is it.
UNKNOWN_REFERRER = "Unknown"
# A host name as browsers send it: dot-separated ASCII labels of letters, digits, `-` and `_`.
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")


def referrer_host(referer: str) -> str | None:
    """The host of a Referer header (None when there is no host), or UNKNOWN_REFERRER when it is
    neither a host name nor an IP address."""
    if not referer:
        return None
    try:
        host = urlsplit(referer.strip()).hostname
    except ValueError:
        return UNKNOWN_REFERRER  # a malformed authority, such as an unclosed `[`
    host = (host or "").removesuffix(".")  # `example.com.` is example.com
    if not host:
        return None
    if len(host) <= 253 and _HOST_NAME.fullmatch(host):
        return host  # IPv4 addresses too
    try:
        ipaddress.IPv6Address(host)  # a bracketed IPv6 literal, which urlsplit hands over unbracketed
    except ValueError:
        return UNKNOWN_REFERRER
    return host


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

    def country(self, environ: dict, address: str | None = None) -> str | None:
        """From the trusted header, else the client `address` (default: worked out here)."""
        if self.country_key:
            value = environ.get(self.country_key, "").strip().upper()
            if COUNTRY.fullmatch(value) and value not in _NOT_COUNTRIES:
                return value
        try:
            return iptocc.country_code(self.client_address(environ) if address is None else address)
        except ValueError:
            return None

    def visitor(self, needs: frozenset, environ: dict) -> Visitor:
        """What smart-destination rules look at, computing only the facts in `needs` (cached by agent)."""
        agent = environ.get("HTTP_USER_AGENT", "")
        return Visitor(
            device_class(agent) if "device" in needs else None,
            os_name(agent) if "os" in needs else None,
            self.country(environ) if "country" in needs else None,
            language_of(environ.get("HTTP_ACCEPT_LANGUAGE", "")) if "language" in needs else None,
        )

    def facts(self, environ: dict) -> tuple[str | None, str | None, str | None, str]:
        """What a scan keeps of a request, (country, device, referrer host), and the visitor
        ("address\nuser agent") that only its day's keyed hash may outlive."""
        agent = environ.get("HTTP_USER_AGENT", "")
        address = self.client_address(environ)
        return (
            self.country(environ, address),
            device_class(agent),
            referrer_host(environ.get("HTTP_REFERER", "")),
            f"{address}\n{agent}",
        )

    def classify(
        self, code_id: str, environ: dict, at: dt.datetime | None = None, destination: str | None = None
    ) -> ScanEvent:
        """The scan of `code_id` a request makes, at `at` (default: now, UTC), sent to `destination`."""
        country, device, referrer, visitor = self.facts(environ)
        return ScanEvent(code_id, at or utcnow(), country, device, referrer, destination, visitor)


class Visitor(NamedTuple):
    """What a rule may look at; None where unknown (or not needed by any rule). A tuple: the
    hot path makes one per scan, and rules read its fields by position."""

    device: str | None = None
    os: str | None = None
    country: str | None = None
    language: str | None = None


def language_of(accept_language: str) -> str | None:
    """The primary subtag of the first Accept-Language entry, lower case ('de-AT,en;q=0.8' -> 'de')."""
    first = accept_language.split(",", 1)[0].split(";", 1)[0].strip()
    primary = first.split("-", 1)[0].lower()
    return primary if 2 <= len(primary) <= 8 and primary.isascii() and primary.isalpha() else None
