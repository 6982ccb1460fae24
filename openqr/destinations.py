"""The destination guard: which URLs a QR code may point at.

A destination must be an absolute http(s) URL to a public host. The host is judged
the way a browser would parse it (WHATWG URL rules, UTS-46 non-transitional IDNA), so
that no spelling of a private address slips through and blocklists see the host the
visitor will reach. No DNS look-up is made unless asked for.
"""

import ipaddress
import socket
import unicodedata
from urllib.parse import unquote_to_bytes

import idna

MAX_LENGTH = 2048
MAX_LABEL_LENGTH = 63
# The guard in one sentence, as the OpenAPI document describes a destination field.
RULES = (
    "Absolute http(s) URL to a public host: no user info, no private, loopback, link-local, reserved "
    "or multicast address in any spelling, no local names (`localhost`, `*.local`, `*.internal`, "
    "`*.home.arpa`, names without a dot), not this server, not a blocked domain."
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def url_schema(description: str | None = None) -> dict:
    """A URL as the guard bounds it, in JSON Schema (what else it checks, `RULES` says)."""
    schema = {"type": "string", "minLength": 1, "maxLength": MAX_LENGTH}
    return {**schema, "description": description} if description else schema


class DestinationError(ValueError):
    """A destination was refused; str(err) is one sentence a person can read, saying why."""


# Names that only mean something on the local machine or network.
# "localdomain" is not in the brief's list, but /etc/hosts often maps it to loopback.
_LOCAL_SUFFIXES = ("localhost", "local", "internal", "home.arpa", "localdomain")
# Public DNS names that answer with loopback, or with whatever address the name spells
# (10.0.0.1.nip.io is 10.0.0.1): private addresses in disguise, refused without DNS.
_ADDRESS_ECHO_DOMAINS = (
    "localtest.me", "lvh.me", "vcap.me", "nip.io", "sslip.io", "xip.io", "traefik.me",
    "localhost.direct", "lacolhost.com", "1u.ms", "rbndr.us",
)  # fmt: skip

# Every range that is not globally reachable unicast, by the word a message uses.
# Listed by hand: `ipaddress.is_global` misses some (multicast, 192.88.99/24, ...).
_NON_PUBLIC_RANGES = {
    "an unspecified": "0.0.0.0/8 ::/128",
    "a private": "10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fc00::/7",
    "a shared (carrier-grade NAT)": "100.64.0.0/10",
    "a loopback": "127.0.0.0/8 ::1/128",
    "a link-local": "169.254.0.0/16 fe80::/10",
    "a protocol-assignment": "192.0.0.0/24 2001::/23",
    "a documentation": "192.0.2.0/24 198.51.100.0/24 203.0.113.0/24 2001:db8::/32 3fff::/20",
    "a 6to4 relay": "192.88.99.0/24",
    "a benchmarking": "198.18.0.0/15 2001:2::/48",
    "a multicast": "224.0.0.0/4 ff00::/8",
    "a reserved or broadcast": "240.0.0.0/4",
    "a local-use NAT64": "64:ff9b:1::/48",
    "a discard-only": "100::/64",
    "a segment-routing": "5f00::/16",
    "a site-local": "fec0::/10",
}
_NON_PUBLIC = [
    (ipaddress.ip_network(net), kind) for kind, nets in _NON_PUBLIC_RANGES.items() for net in nets.split()
]
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Cc controls, Cf invisible formatting (bidi overrides, zero-width),
# Cs lone surrogates (unencodable), Z* spaces.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp"})
# What a host name may hold after IDNA: browsers allow more, but no real host needs it.
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")


def check_destination(
    url: str,
    *,
    own_hosts: frozenset[str] = frozenset(),
    blocked_domains: frozenset[str] = frozenset(),
    resolve: bool = False,
) -> str:
    """Return `url` unchanged when it is an acceptable public http(s) destination.

    Raise DestinationError, whose message says why, otherwise. `own_hosts` are this
    app's host names (self-loops), `blocked_domains` are refused with their subdomains,
    and `resolve=True` also refuses a name that resolves to any non-public address.
    """
    if not isinstance(url, str):
        raise DestinationError("The destination must be a URL given as text.")
    if len(url) > MAX_LENGTH:
        raise DestinationError(f"The destination is longer than {MAX_LENGTH} characters.")
    host = browser_host(url)
    if host in {_canonical_entry(h) for h in own_hosts}:
        raise DestinationError("The destination points back at this server.")
    for domain in {_canonical_entry(d) for d in blocked_domains}:
        if host == domain or (isinstance(host, str) and host.endswith("." + domain)):
            raise DestinationError(f"The domain {domain} is blocked on this server.")
    if isinstance(host, str):
        _check_name(host)
        if resolve:
            _check_resolved(host)
    else:
        _check_ip(host, "The destination address")
    return url


def browser_host(url: str) -> str | IPAddress:
    """The host a browser visits for `url` (an IP address, or an ASCII name without a trailing
    dot): the host every rule here judges. Raises DestinationError when there is none."""
    if not isinstance(url, str):
        raise DestinationError("The destination must be a URL given as text.")
    _check_characters(url, "The destination")
    return _host_of(url)


def _check_characters(text: str, subject: str) -> None:
    """Refuse whitespace, control, invisible characters and backslashes anywhere."""
    for char in text:
        if char.isspace() or unicodedata.category(char) in _INVISIBLE:
            raise DestinationError(f"{subject} contains a space, control or invisible character.")
        if char == "\\":
            # Browsers read a backslash as a slash, other parsers do not: ambiguous.
            raise DestinationError(f"{subject} contains a backslash.")


def _host_of(url: str) -> str | IPAddress:
    """The host of an absolute http(s) URL: an IP address, or an ASCII name."""
    scheme, colon, rest = url.partition(":")
    if not colon or scheme.lower() not in ("http", "https") or not rest.startswith("//"):
        raise DestinationError("The destination must be an absolute URL starting with http:// or https://.")
    authority = rest[2:]
    for end in "/?#":
        authority = authority.partition(end)[0]
    if "@" in authority:
        raise DestinationError("The destination must not contain a user name or password.")
    is_ipv6 = authority.startswith("[")
    if is_ipv6:
        inside, bracket, after = authority[1:].partition("]")
        if not bracket or after[:1] not in ("", ":"):
            raise DestinationError("The destination has a malformed IPv6 address.")
    else:
        inside, colon, port = authority.partition(":")
        after = colon + port
    if after:
        _check_port(after[1:])
    return _parse_ipv6(inside) if is_ipv6 else _parse_host(inside)


def _check_port(port: str) -> None:
    """Refuse a port that is not 1-65535; browsers allow an empty one, we do not."""
    if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise DestinationError("The destination has an invalid port; use a number from 1 to 65535.")


def _parse_ipv6(text: str) -> ipaddress.IPv6Address:
    """Parse a bracketed IPv6 literal; a zone id is judged after the address itself."""
    text, percent, _zone = text.partition("%")
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        raise DestinationError("The destination has a malformed IPv6 address.") from None
    if percent:
        _check_ip(address, "The destination address")
        raise DestinationError("The destination must not use an IPv6 zone id.")
    return address


def _parse_host(host: str) -> str | IPAddress:
    """Decode a host as a browser does: percent-decoding, IDNA, then IPv4 parser."""
    # Invalid UTF-8 becomes U+FFFD, which IDNA then refuses, as in browsers.
    host = unquote_to_bytes(host).decode("utf-8", errors="replace")
    _check_characters(host, "The destination host")
    if not host:
        raise DestinationError("The destination has no host name.")
    name = _domain_to_ascii(host)
    if _ends_in_number(name):
        address = _parse_ipv4_whatwg(name)
        if address is None:
            raise DestinationError(f"The destination host {name} is not a valid IPv4 address.")
        return address
    return name.removesuffix(".")


def _domain_to_ascii(host: str) -> str:
    """UTS-46 non-transitional processing, as browsers do: `faß.example` is `xn--fa-hia.example`
    (IDNA 2003 would say `fass.example`, another host), `ς` stays `ς`, full-width letters
    and dots are folded. ASCII labels pass as they are (browsers allow `_` and `-x`); `xn--`
    labels must decode; other labels must be valid IDNA 2008 (joiners in context, bidi)."""
    try:
        mapped = idna.uts46_remap(host, std3_rules=False, transitional=False)
        labels = mapped.removesuffix(".").split(".")
        ascii_labels = [_label_to_ascii(label) for label in labels]
    except UnicodeError:  # idna.IDNAError and its kinds
        raise DestinationError("The destination host is not a valid domain name.") from None
    return ".".join(ascii_labels) + ("." if mapped.endswith(".") else "")


def _label_to_ascii(label: str) -> str:
    if label.startswith("xn--"):
        idna.ulabel(label)  # raises on punycode that does not decode to a valid label
    elif not label.isascii():
        label = idna.alabel(label).decode("ascii")
    if not label or len(label) > MAX_LABEL_LENGTH:
        raise idna.IDNAError("empty or over-long label")
    return label


def _ends_in_number(name: str) -> bool:
    """WHATWG "ends in a number": such a host must be an IPv4 address or nothing."""
    labels = name.split(".")
    if labels[-1] == "" and len(labels) > 1:
        labels.pop()
    last = labels[-1]
    all_digits = last.isascii() and last.isdigit()
    return all_digits or _parse_ipv4_number(last) is not None


def _parse_ipv4_number(part: str) -> int | None:
    """A WHATWG IPv4 number: decimal, 0x-prefixed hex or 0-prefixed octal."""
    if part == "":
        return None
    radix = 10
    if part[:2] in ("0x", "0X"):
        part, radix = part[2:], 16
    elif len(part) > 1 and part[0] == "0":
        part, radix = part[1:], 8
    if part == "":
        return 0
    digits = "0123456789abcdef"[:radix]
    if not all(c in digits for c in part.lower()):
        return None
    return int(part, radix)


def _parse_ipv4_whatwg(name: str) -> ipaddress.IPv4Address | None:
    """The WHATWG IPv4 parser: 1-4 parts, the last fills the rest (127.1 = 127.0.0.1)."""
    parts = name.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    numbers = [_parse_ipv4_number(part) for part in parts]
    if len(numbers) > 4 or None in numbers:
        return None
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last + sum(n * 256 ** (3 - i) for i, n in enumerate(head))
    return ipaddress.IPv4Address(value)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses a mapped, compatible, NAT64, 6to4 or Teredo address holds."""
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        return list(address.teredo)  # the server and the (de-obfuscated) client
    # 64:ff9b::a.b.c.d, or the deprecated ::a.b.c.d (:: and ::1 are judged as such)
    if address in _NAT64 or 1 < int(address) < 2**32:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    return []


def _non_public_kind(address: IPAddress) -> str | None:
    """Why `address` is not globally reachable unicast ("a private"), or None if it is.

    An IPv6 address that embeds IPv4 addresses is judged by them alone.
    """
    embedded = _embedded_ipv4(address) if address.version == 6 else []
    if embedded:
        kinds = [_non_public_kind(ipv4) for ipv4 in embedded]
        return next((kind for kind in kinds if kind), None)
    for network, kind in _NON_PUBLIC:
        if address in network:
            return kind
    if address.version == 6 and address not in _GLOBAL_UNICAST_V6:
        return "an unassigned"
    return None if address.is_global else "a non-public"


def _check_ip(address: IPAddress, subject: str) -> None:
    """Refuse an address that is not globally reachable unicast."""
    kind = _non_public_kind(address)
    if kind:
        embedded = _embedded_ipv4(address) if address.version == 6 else []
        shown = f"{address} ({', '.join(map(str, embedded))})" if embedded else address
        raise DestinationError(f"{subject} {shown} is {kind} address, not a public one.")


def _check_name(name: str) -> None:
    """Refuse host names that only make sense on a local network."""
    if not name:
        raise DestinationError("The destination has no host name.")
    if not set(name) <= _NAME_CHARS or len(name) > 253:
        raise DestinationError("The destination host is not a valid domain name.")
    if any(name == s or name.endswith("." + s) for s in _LOCAL_SUFFIXES):
        raise DestinationError(f"The destination host {name} is a local name, not a public one.")
    if "." not in name:
        raise DestinationError(f"The destination host {name} has no dot, so it is not a public name.")
    echo = next((d for d in _ADDRESS_ECHO_DOMAINS if name == d or name.endswith("." + d)), None)
    if echo:
        raise DestinationError(
            f"The destination host {name} is under {echo}, which answers with private addresses."
        )


def _check_resolved(name: str) -> None:
    """Refuse a name that does not resolve, or resolves to any non-public address."""
    check_addresses(name, resolve(name))


def resolve(name: str, port: int | None = None) -> list[IPAddress]:
    """The addresses `name` resolves to, in the resolver's order; DestinationError when none."""
    try:
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        infos = []
    addresses = [ipaddress.ip_address(str(sockaddr[0]).partition("%")[0]) for *_, sockaddr in infos]
    if not addresses:
        raise DestinationError(f"The destination host {name} could not be resolved.")
    return list(dict.fromkeys(addresses))


def check_addresses(name: str, addresses: list[IPAddress]) -> None:
    """Refuse when any of the addresses `name` resolved to is not public (one is enough to reach)."""
    for address in addresses:
        kind = _non_public_kind(address)
        if kind:
            raise DestinationError(f"The destination host {name} resolves to {address}, {kind} address.")


def _canonical_entry(entry: str) -> str | IPAddress:
    """An own-host or blocked-domain entry, normalised like a destination host."""
    text = entry.strip("[]")
    try:
        return ipaddress.IPv6Address(text) if ":" in text else _parse_host(text)
    except ValueError:  # DestinationError included
        return text.lower().removesuffix(".")
