"""Where a webhook may go, and the request that goes there: resolve, check every address, pin.

A webhook is a request this server makes, so its URL is judged by where the connection lands, not
by its spelling. Creation runs the destination guard (or the operator's allow list); delivery then
resolves the host itself, refuses when any address is not public (unless the host, or host and
port, is in OPENQR_WEBHOOK_ALLOW_HOSTS), and opens the TCP connection to one of exactly those
addresses: there is no second look-up between check and connect for a rebinding DNS server to
answer differently. TLS is verified against the host name (SNI and certificate), not the address.
This server's own base, short and listening addresses are never a target, allowed or not. No proxy
from the environment is used; a redirect is an answer, never followed.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from urllib.parse import quote, urlsplit

from ..config import host_port
from ..destinations import (
    MAX_LENGTH,
    DestinationError,
    IPAddress,
    browser_host,
    check_addresses,
    check_destination,
    resolve,
)

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_ANSWER_BYTES = 65536  # of a receiver's answer body, read and dropped


class SelfLoop(DestinationError):
    """The URL names this server itself: refused whatever the allow list says."""


class Outcome(Enum):
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # no 2xx: another status, no answer, or an address refused; retried with back-off
    REFUSED = "refused"  # the URL itself is not allowed (any more): its events fail at once


@dataclass(frozen=True)
class Attempt:
    """What one delivery attempt came to: the receiver's status (if it answered) and why it failed."""

    outcome: Outcome
    status: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class Target:
    """A webhook URL taken apart the way every check here and the connection read it."""

    url: str
    scheme: str
    host: str | IPAddress  # an ASCII name or an address, as a browser parses the URL
    port: int
    path: str  # path and query, ASCII

    @property
    def host_text(self) -> str:
        return str(self.host)

    @property
    def host_header(self) -> str:
        shown = f"[{self.host}]" if isinstance(self.host, ipaddress.IPv6Address) else self.host_text
        return shown if self.port == DEFAULT_PORTS[self.scheme] else f"{shown}:{self.port}"


def parse(url: str) -> Target:
    """The target of an absolute http(s) URL; DestinationError (saying why) when it has none."""
    if len(url) > MAX_LENGTH:
        raise DestinationError(f"The URL is longer than {MAX_LENGTH} characters.")
    host = browser_host(url)  # refuses other schemes, user info, bad ports, spaces and controls
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    # Non-ASCII characters travel percent-encoded as UTF-8, as a browser sends them.
    path = "".join(char if char.isascii() else quote(char) for char in path)
    return Target(url, scheme, host, parts.port or DEFAULT_PORTS[scheme], path)


def _allowed(config: Mapping, target: Target) -> bool:
    entries = config.get("OPENQR_WEBHOOK_ALLOW_HOSTS") or frozenset()
    return target.host_text in entries or host_port(target.host_text, target.port) in entries


def _own_endpoints(config: Mapping) -> set[tuple[str, int]]:
    """(host, port) of the base and short URLs, and of the address waitress listens on."""
    own = {(_canonical(config["OPENQR_HOST"]), config["OPENQR_PORT"])}
    for name in ("OPENQR_BASE_URL", "OPENQR_SHORT_BASE_URL"):
        parts = urlsplit(config[name])
        try:
            host = parse(config[name]).host_text  # as a webhook URL's host is read
        except DestinationError:  # a base host no browser would accept: compare it as written
            host = _canonical(parts.hostname or "")
        own.add((host, parts.port or DEFAULT_PORTS[parts.scheme]))
    return own


def _canonical(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return host.lower().rstrip(".")


def _is_own(config: Mapping, host: str | IPAddress, port: int) -> bool:
    own = _own_endpoints(config)
    if (str(host), port) in own:
        return True
    # Listening on every address (0.0.0.0, ::) makes each loopback address this server at that port.
    everywhere = any(p == port and h in ("0.0.0.0", "::") for h, p in own)
    return everywhere and isinstance(host, IPAddress) and host.is_loopback


def check_url(config: Mapping, url: str, *, resolve_name: bool = False) -> Target:
    """The target of a webhook URL this server may send to; DestinationError saying why not.

    An allowed host (or host:port) skips the public-host rules; this server's own hosts never
    do. `resolve_name=True` (OPENQR_RESOLVE_DESTINATIONS at creation) also refuses a name that
    resolves to a non-public address.
    """
    target = parse(url)
    allowed = _allowed(config, target)
    if _is_own(config, target.host, target.port) or (
        not allowed and target.host_text in config["OPENQR_OWN_HOSTS"]
    ):
        raise SelfLoop("The URL points back at this server.")
    if not allowed:
        check_destination(url, resolve=resolve_name)
    return target


def checked_addresses(config: Mapping, target: Target) -> list[IPAddress]:
    """Resolve the target once and check every address: the addresses to connect to, and no other."""
    if isinstance(target.host, IPAddress):
        addresses = [target.host]
    else:
        addresses = resolve(target.host, target.port)
    if any(_is_own(config, address, target.port) for address in addresses):
        raise SelfLoop(f"The host {target.host} resolves to this server's own address.")
    if not _allowed(config, target):
        check_addresses(target.host_text, addresses)
    return addresses


class _PinnedConnection(http.client.HTTPConnection):
    """HTTP(S) to an address chosen beforehand: no name is looked up here; TLS checks the name."""

    def __init__(self, address: IPAddress, target: Target, timeout: float, tls: ssl.SSLContext | None):
        super().__init__(str(address), target.port, timeout=timeout)
        self.address, self.tls, self.tls_name = address, tls, target.host_text

    def connect(self) -> None:
        family = socket.AF_INET6 if self.address.version == 6 else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect((str(self.address), self.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls is not None:
            # Handshake after `self.sock` is the TLS socket, so the watchdog can cut a slow one.
            self.sock = self.tls.wrap_socket(
                self.sock, server_hostname=self.tls_name, do_handshake_on_connect=False
            )
            self.sock.do_handshake()

    def cut(self) -> None:
        """End the attempt from another thread: a blocked read or handshake fails at once."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except (AttributeError, OSError):  # not connected yet, or closed already
            pass


def tls_context(ca_file: str = "") -> ssl.SSLContext:
    """Certificates checked against the system's authorities, or only `ca_file`'s when given."""
    return ssl.create_default_context(cafile=ca_file or None)


def post(
    target: Target,
    addresses: list[IPAddress],
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    tls: ssl.SSLContext,
) -> Attempt:
    """POST `body` to the first of `addresses` that takes the connection, within `timeout` in all."""
    deadline = time.monotonic() + timeout
    attempt = Attempt(Outcome.FAILED, error="no address to connect to")
    for address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return Attempt(Outcome.FAILED, error="timed out")
        connection = _PinnedConnection(address, target, remaining, tls if target.scheme == "https" else None)
        # Socket timeouts bound each step, not their sum: a receiver trickling its answer a byte
        # at a time is cut off when the attempt's time is up.
        watchdog = threading.Timer(remaining, connection.cut)
        watchdog.daemon = True
        watchdog.start()
        try:
            try:
                connection.connect()
            except OSError as err:
                attempt = Attempt(Outcome.FAILED, error=_reason(err, deadline))
                continue  # the next checked address, if there is one
            return _exchange(connection, target, body, headers, deadline)
        finally:
            watchdog.cancel()
            connection.close()
    return attempt


def _exchange(connection: _PinnedConnection, target: Target, body: bytes, headers: dict, deadline: float):
    """Send the request on the connected socket and read the receiver's status."""
    try:
        connection.request("POST", target.path, body=body, headers={"Host": target.host_header, **headers})
        response = connection.getresponse()
        response.read(MAX_ANSWER_BYTES)
    except (OSError, http.client.HTTPException) as err:
        return Attempt(Outcome.FAILED, error=_reason(err, deadline))
    if 200 <= response.status < 300:
        return Attempt(Outcome.DELIVERED, status=response.status)
    return Attempt(Outcome.FAILED, status=response.status, error=f"HTTP {response.status}")


def _reason(err: BaseException, deadline: float) -> str:
    """The failure in a few words for the dashboard's delivery list."""
    if isinstance(err, ssl.SSLCertVerificationError):
        return f"TLS certificate refused: {err.verify_message}"[:200]
    if isinstance(err, TimeoutError) or time.monotonic() >= deadline:
        return "timed out"
    return (str(err) or type(err).__name__)[:200]
