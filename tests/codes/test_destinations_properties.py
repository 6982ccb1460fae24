"""Properties of the destination guard over generated addresses, spellings and names."""

import ipaddress

import idna
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from openqr.destinations import DestinationError, check_destination

BOUNDED = settings(max_examples=200, deadline=None)

# Written out here rather than imported, so the tests do not share the module's table.
V4_NON_GLOBAL = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.88.99.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
]
V6_NON_GLOBAL = [
    "::/128",
    "::1/128",
    "64:ff9b:1::/48",
    "100::/64",
    "2001:2::/48",
    "2001:db8::/32",
    "fc00::/7",
    "fe80::/10",
    "fec0::/10",
    "ff00::/8",
]
# IPv6 ranges judged by the IPv4 address inside them, and a documentation range
# (RFC 9637, 2024) newer than Python 3.11's `is_global` table.
V6_NOT_CANONICAL_PUBLIC = [ipaddress.ip_network(n) for n in ["2002::/16", "2001::/32", "3fff::/20"]]


def addresses_in(networks):
    """Addresses drawn from one of `networks`, each range equally likely."""
    nets = [ipaddress.ip_network(n) for n in networks]
    return st.sampled_from(nets).flatmap(
        lambda net: st.integers(int(net.network_address), int(net.broadcast_address)).map(
            type(net.network_address)
        )
    )


non_global_v4 = addresses_in(V4_NON_GLOBAL)


def is_public_v4(address: ipaddress.IPv4Address) -> bool:
    """Oracle: Python's view, plus the /24s it still counts as global but IANA does not."""
    return (
        address.is_global
        and not address.is_multicast
        and address not in ipaddress.ip_network("192.0.0.0/24")
        and address not in ipaddress.ip_network("192.88.99.0/24")
    )


@st.composite
def spelled_number(draw, value: int) -> str:
    """`value` as a browser's IPv4 parser reads it: decimal, octal or hex."""
    radix = draw(st.sampled_from(["dec", "oct", "hex"]))
    zeros = "0" * draw(st.integers(0, 3))
    if radix == "dec":
        return str(value)
    if radix == "oct":
        return "0" + zeros + format(value, "o")
    if value == 0 and draw(st.booleans()):
        return draw(st.sampled_from(["0x", "0X"]))
    digits = format(value, draw(st.sampled_from(["x", "X"])))
    return draw(st.sampled_from(["0x", "0X"])) + zeros + digits


@st.composite
def spelled_ipv4(draw, address: ipaddress.IPv4Address) -> str:
    """A host for `address` in 1-4 parts, any radix mix, maybe a trailing dot."""
    value = int(address)
    parts = draw(st.integers(1, 4))
    head = [(value >> (24 - 8 * i)) & 0xFF for i in range(parts - 1)]
    last = value & (256 ** (5 - parts) - 1)
    host = ".".join(draw(spelled_number(n)) for n in [*head, last])
    return host + ("." if draw(st.booleans()) else "")


@st.composite
def percent_encoded(draw, host: str) -> str:
    """Some characters of `host` percent-encoded, which browsers decode first."""
    flags = draw(st.lists(st.booleans(), min_size=len(host), max_size=len(host)))
    hexcase = draw(st.sampled_from(["%{:02X}", "%{:02x}"]))
    return "".join(hexcase.format(ord(c)) if flag else c for c, flag in zip(host, flags, strict=True))


@st.composite
def url_for(draw, host: str) -> str:
    """An http(s) URL around `host`, with a random scheme case, port and path."""
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "Https"]))
    port = draw(st.sampled_from(["", ":80", ":443", ":8080"]))
    path = draw(st.sampled_from(["", "/", "/a/b?c=d#e"]))
    return f"{scheme}://{host}{port}{path}"


@BOUNDED
@given(st.data(), non_global_v4)
def test_non_global_ipv4_is_refused_in_every_spelling(data, address):
    host = data.draw(spelled_ipv4(address))
    if data.draw(st.booleans()):
        host = data.draw(percent_encoded(host))
    with pytest.raises(DestinationError) as excinfo:
        check_destination(data.draw(url_for(host)))
    assert f"address {address} is " in str(excinfo.value)


@st.composite
def embedding_non_global_v4(draw) -> ipaddress.IPv6Address:
    """An IPv6 address standing for a non-global IPv4 address."""
    v4 = int(draw(non_global_v4))
    form = draw(st.sampled_from(["mapped", "compatible", "nat64", "6to4", "teredo"]))
    if form == "mapped":
        return ipaddress.IPv6Address(0xFFFF << 32 | v4)
    if form == "compatible":
        return ipaddress.IPv6Address(v4)
    if form == "nat64":
        return ipaddress.IPv6Address(0x64FF9B << 96 | v4)
    if form == "6to4":
        return ipaddress.IPv6Address(0x2002 << 112 | v4 << 80 | draw(st.integers(0, 2**80 - 1)))
    other = int(draw(st.ip_addresses(v=4)))
    server, client = (v4, other) if draw(st.booleans()) else (other, v4)
    flags_port = draw(st.integers(0, 2**32 - 1))
    return ipaddress.IPv6Address(0x20010000 << 96 | server << 64 | flags_port << 32 | (client ^ 0xFFFFFFFF))


# How mapped, compatible and NAT64 addresses are usually written, with a dotted tail.
DOTTED_PREFIXES = {0: "::", 0xFFFF: "::ffff:", 0x64FF9B << 64: "64:ff9b::"}


@st.composite
def spelled_ipv6(draw, address: ipaddress.IPv6Address) -> str:
    """A bracketed literal for `address`: compressed, exploded or dotted tail."""
    spellings = [address.compressed, address.exploded]
    tail = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    spellings.append(address.exploded[:30] + str(tail))  # 0000:...:ffff:127.0.0.1
    prefix = DOTTED_PREFIXES.get(int(address) >> 32)
    if prefix:
        spellings.append(f"{prefix}{tail}")
    text = draw(st.sampled_from(spellings))
    if draw(st.booleans()):
        text = text.upper()
    if draw(st.booleans()):
        text += "%25" + draw(st.sampled_from(["eth0", "en1", "1", "lo"]))
    return f"[{text}]"


@BOUNDED
@given(st.data(), st.one_of(addresses_in(V6_NON_GLOBAL), embedding_non_global_v4()))
def test_non_global_ipv6_is_refused_in_every_form(data, address):
    host = data.draw(spelled_ipv6(address))
    assert ipaddress.IPv6Address(host.strip("[]").split("%")[0]) == address
    with pytest.raises(DestinationError):
        check_destination(data.draw(url_for(host)))


@BOUNDED
@given(st.data(), st.ip_addresses(v=4).filter(is_public_v4))
def test_public_ipv4_is_accepted(data, address):
    url = data.draw(url_for(str(address)))
    assert check_destination(url) == url
    # Any other spelling of a public address is still that address, so still accepted.
    url = data.draw(url_for(data.draw(spelled_ipv4(address))))
    assert check_destination(url) == url


def is_public_v6(address: ipaddress.IPv6Address) -> bool:
    """Oracle: Python's view, minus the ranges judged by their embedded IPv4."""
    return (
        address.is_global
        and not address.is_multicast
        and not any(address in net for net in V6_NOT_CANONICAL_PUBLIC)
    )


# 2000::/3 is the only block of global unicast that IANA has handed out.
global_unicast_v6 = st.integers(0x2 << 124, (0x4 << 124) - 1).map(ipaddress.IPv6Address)


@BOUNDED
@given(st.data(), global_unicast_v6.filter(is_public_v6))
def test_public_ipv6_is_accepted(data, address):
    url = data.draw(url_for(f"[{address}]"))
    assert check_destination(url) == url


label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True).filter(
    lambda text: not text.startswith("xn--")
)
names = st.lists(label, min_size=1, max_size=3).map(".".join)
public_tlds = st.sampled_from(["com", "org", "net", "de", "io", "dev", "co.uk", "jp"])
public_names = st.builds("{}.{}".format, names, public_tlds)
local_suffixes = st.sampled_from(["localhost", "local", "internal", "home.arpa"])


@st.composite
def respelled(draw, name: str) -> str:
    """`name` in another case, maybe with a trailing dot; both mean the same host."""
    name = "".join(c.upper() if draw(st.booleans()) else c for c in name)
    return name + ("." if draw(st.booleans()) else "")


@BOUNDED
@given(st.data(), public_names)
def test_public_names_are_accepted(data, name):
    url = data.draw(url_for(data.draw(respelled(name))))
    assert check_destination(url) == url


@BOUNDED
@given(st.data(), names, local_suffixes)
def test_local_names_are_refused(data, name, suffix):
    host = data.draw(respelled(f"{name}.{suffix}"))
    with pytest.raises(DestinationError, match="local name"):
        check_destination(data.draw(url_for(host)))


@BOUNDED
@given(st.data(), label)
def test_single_labels_are_refused(data, name):
    with pytest.raises(DestinationError):
        check_destination(data.draw(url_for(data.draw(respelled(name)))))


@BOUNDED
@given(st.text(st.characters(categories=["Ll", "Lu", "Lo"]), min_size=1, max_size=8))
def test_unicode_and_punycode_spellings_are_judged_alike(text):
    try:  # as browsers spell it: UTS-46, non-transitional
        ascii_label = idna.encode(text, uts46=True, transitional=False).decode("ascii")
    except UnicodeError:
        assume(False)
    outcomes = []
    for host in (f"{text}.example.com", f"{ascii_label}.example.com"):
        try:
            outcomes.append(check_destination(f"https://{host}/") and "accepted")
        except DestinationError:
            # Both refused is alike, even when each spelling trips a different rule first
            # (an invisible letter such as U+3164 vs the name it decodes to).
            outcomes.append("refused")
    assert outcomes[0] == outcomes[1]


@BOUNDED
@given(st.data(), public_names, label)
def test_own_hosts_are_refused_but_their_subdomains_are_not(data, own, sub):
    own_hosts = frozenset({own, "other.example"})
    url = data.draw(url_for(data.draw(respelled(own))))
    with pytest.raises(DestinationError, match="back at this server"):
        check_destination(url, own_hosts=own_hosts)
    url = f"https://{sub}.{own}/"
    assert check_destination(url, own_hosts=own_hosts) == url


@BOUNDED
@given(st.data(), public_names, names, label)
def test_blocked_domains_cover_subdomains_only(data, blocked, sub, prefix):
    blocked_domains = frozenset({blocked})
    for host in (blocked, f"{sub}.{blocked}"):
        url = data.draw(url_for(data.draw(respelled(host))))
        with pytest.raises(DestinationError, match="blocked on this server"):
            check_destination(url, blocked_domains=blocked_domains)
    lookalike = f"https://{prefix}{blocked}/"  # notevil.com is not evil.com
    assert check_destination(lookalike, blocked_domains=blocked_domains) == lookalike


url_alphabet = st.sampled_from([*"htps:/[]@%.0123456789abcdefx-?#\\ ", "::", "%25"])


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.lists(url_alphabet).map("".join)), st.booleans())
def test_any_text_is_accepted_or_refused_with_a_sentence(text, with_scheme):
    url = ("http://" if with_scheme else "") + text
    try:
        assert check_destination(url) == url
    except DestinationError as error:
        assert str(error).endswith(".")
