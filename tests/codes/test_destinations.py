"""The destination guard: which URLs a code may point at, and what a refusal says."""

import socket

import pytest

from openqr.destinations import MAX_LENGTH, DestinationError, browser_host, check_destination

OWN = frozenset({"qr.example.org", "go.example.org"})
BLOCKED = frozenset({"evil.com", "xn--bcher-kva.example"})
OK = None  # accepted


def refused(url: str, **options) -> str:
    """The message a refusal of `url` gives (fails the test when it is accepted)."""
    with pytest.raises(DestinationError) as excinfo:
        check_destination(url, **options)
    return str(excinfo.value)


CASES = [
    # Accepted: public hosts, ports, paths, IDN, canonical public addresses.
    pytest.param("https://example.com", OK, id="plain-https"),
    pytest.param("http://example.com/a/b?c=d#e", OK, id="path-query-fragment"),
    pytest.param("HTTPS://Example.COM/Path", OK, id="upper-case-scheme-host"),
    pytest.param("https://example.com./", OK, id="trailing-dot-name"),
    pytest.param("https://example.com:8443/", OK, id="port"),
    pytest.param("https://example.com:65535/", OK, id="max-port"),
    pytest.param("https://sub.domain.example.co.uk/", OK, id="deep-subdomain"),
    pytest.param("https://my_host.example.com/", OK, id="underscore"),
    pytest.param("https://bücher.de/", OK, id="unicode-idn"),
    pytest.param("https://xn--bcher-kva.de/", OK, id="punycode-idn"),
    pytest.param("https://localhost.com/", OK, id="localhost-as-label"),
    pytest.param("https://notevil.com/", OK, id="not-a-subdomain-of-blocked"),
    pytest.param("https://example.com/?next=http://127.0.0.1/", OK, id="ip-in-query"),
    pytest.param("https://example.com/#@10.0.0.1", OK, id="at-in-fragment"),
    pytest.param("https://example.com/%20space", OK, id="encoded-space-in-path"),
    pytest.param("https://8.8.8.8/", OK, id="public-ipv4"),
    pytest.param("http://1.1.1.1:8080/dns", OK, id="public-ipv4-port"),
    pytest.param("https://[2606:4700::1111]/", OK, id="public-ipv6"),
    pytest.param("https://[2606:4700::1111]:443/", OK, id="public-ipv6-port"),
    pytest.param("https://[::ffff:8.8.8.8]/", OK, id="mapped-public-ipv4"),
    pytest.param("https://[64:ff9b::8.8.8.8]/", OK, id="nat64-public-ipv4"),
    pytest.param("https://[2002:808:808::1]/", OK, id="6to4-public-ipv4"),
    pytest.param("https://a.qr.example.org/", OK, id="subdomain-of-own-host"),
    # Input that is not an http(s) URL at all.
    pytest.param("", "http:// or https://", id="empty"),
    pytest.param("example.com", "http:// or https://", id="no-scheme"),
    pytest.param("//example.com/", "http:// or https://", id="scheme-relative"),
    pytest.param("/path/only", "http:// or https://", id="relative-path"),
    pytest.param("ftp://example.com/", "http:// or https://", id="ftp"),
    pytest.param("javascript:alert(1)", "http:// or https://", id="javascript"),
    pytest.param("data:text/html,hi", "http:// or https://", id="data"),
    pytest.param("file:///etc/passwd", "http:// or https://", id="file"),
    pytest.param("http:example.com", "http:// or https://", id="no-slashes"),
    pytest.param("http:/example.com", "http:// or https://", id="one-slash"),
    pytest.param("https://" + "a" * MAX_LENGTH + ".com", "2048", id="too-long"),
    # Characters that parsers disagree on.
    pytest.param(" https://example.com", "space", id="leading-space"),
    pytest.param("https://example.com\n", "control", id="trailing-newline"),
    pytest.param("https://exa mple.com/", "space", id="inner-space"),
    pytest.param("https://example.com/a\tb", "control", id="tab-in-path"),
    pytest.param("https://example.com/\x00", "control", id="nul"),
    pytest.param("https://example.com/\u200b", "invisible", id="zero-width-space"),
    pytest.param("https://example.com/\u202e", "invisible", id="bidi-override"),
    pytest.param("https://example.com/\u3000", "space", id="ideographic-space"),
    pytest.param("https://example.com\\@evil.com/", "backslash", id="backslash-at"),
    pytest.param("https:\\\\evil.com/", "backslash", id="backslash-slashes"),
    # User info.
    pytest.param("https://user:pass@example.com/", "user name", id="userinfo"),
    pytest.param("https://user@example.com/", "user name", id="user-only"),
    pytest.param("https://@example.com/", "user name", id="empty-userinfo"),
    pytest.param("https://example.com@10.0.0.1/", "user name", id="at-trick"),
    pytest.param("https://example.com:80@evil.com/", "user name", id="port-at-trick"),
    pytest.param("https://example.com%40evil.com/", "valid domain", id="encoded-at"),
    # Empty hosts, ports.
    pytest.param("https:///example.com", "no host", id="three-slashes"),
    pytest.param("https://", "no host", id="nothing-after-slashes"),
    pytest.param("https://:443/", "no host", id="port-without-host"),
    pytest.param("https://example.com:/", "port", id="empty-port"),
    pytest.param("https://example.com:0/", "port", id="port-zero"),
    pytest.param("https://example.com:65536/", "port", id="port-too-big"),
    pytest.param("https://example.com:80a/", "port", id="port-not-digits"),
    pytest.param("https://example.com:-1/", "port", id="negative-port"),
    pytest.param("https://example.com:８０/", "port", id="fullwidth-port"),
    pytest.param("https://example.com:80:80/", "port", id="two-ports"),
    # Local names.
    pytest.param("http://localhost/", "local name", id="localhost"),
    pytest.param("http://LOCALHOST:5000/", "local name", id="localhost-upper-port"),
    pytest.param("http://localhost./", "local name", id="localhost-trailing-dot"),
    pytest.param("http://api.localhost/", "local name", id="sub-localhost"),
    pytest.param("http://printer.local/", "local name", id="mdns-local"),
    pytest.param("http://db.internal/", "local name", id="internal"),
    pytest.param("http://metadata.google.internal/", "local name", id="gcp-metadata"),
    pytest.param("http://router.home.arpa/", "local name", id="home-arpa"),
    pytest.param("http://home.arpa/", "local name", id="home-arpa-itself"),
    pytest.param("http://ｌｏｃａｌｈｏｓｔ/", "local name", id="fullwidth-localhost"),
    pytest.param("http://loc\u00adalhost/", "invisible", id="soft-hyphen-localhost"),
    pytest.param("http://%6c%6fcalhost/", "local name", id="encoded-localhost"),
    pytest.param("http://intranet/", "no dot", id="single-label"),
    pytest.param("http://intranet./", "no dot", id="single-label-trailing-dot"),
    # Broken host names.
    pytest.param("http://a..example.com/", "valid domain", id="empty-label"),
    pytest.param("http://.example.com/", "valid domain", id="leading-dot"),
    pytest.param("http://example.com../", "valid domain", id="two-trailing-dots"),
    pytest.param("http://xn--zz.com/", "valid domain", id="bad-punycode"),
    pytest.param("http://%ff%fe.com/", "valid domain", id="invalid-utf8"),
    pytest.param("http://ex%2fample.com/", "valid domain", id="encoded-slash"),
    pytest.param("http://" + "a" * 64 + ".com/", "valid domain", id="label-too-long"),
    pytest.param("http://exa!mple.com/", "valid domain", id="odd-character"),
    pytest.param("http://example.123/", "IPv4", id="numeric-last-label"),
    pytest.param("http://example.0x1g/", OK, id="hexish-last-label-is-a-name"),
    # IPv4 literals in every spelling.
    pytest.param("http://127.0.0.1/", "loopback", id="loopback"),
    pytest.param("http://127.0.0.1:8080/", "loopback", id="loopback-port"),
    pytest.param("http://2130706433/", "127.0.0.1", id="decimal-integer"),
    pytest.param("http://0177.0.0.1/", "127.0.0.1", id="octal"),
    pytest.param("http://0x7f.1/", "127.0.0.1", id="hex-short"),
    pytest.param("http://0X7F000001/", "127.0.0.1", id="hex-integer"),
    pytest.param("http://127.1/", "127.0.0.1", id="shortened"),
    pytest.param("http://10.1/", "10.0.0.1", id="shortened-private"),
    pytest.param("http://0x7f.0.0.01/", "127.0.0.1", id="mixed-radix"),
    pytest.param("http://127.0.0.1./", "127.0.0.1", id="trailing-dot-ip"),
    pytest.param("http://%31%32%37.0.0.1/", "127.0.0.1", id="percent-encoded-ip"),
    pytest.param("http://１２７。０。０。１/", "127.0.0.1", id="fullwidth-ip"),
    pytest.param("http://0/", "0.0.0.0", id="zero"),
    pytest.param("http://0x/", "0.0.0.0", id="bare-0x"),
    pytest.param("http://10.0.0.1/", "private", id="private-10"),
    pytest.param("http://172.16.5.4/", "private", id="private-172"),
    pytest.param("http://192.168.1.1/", "private", id="private-192"),
    pytest.param("http://169.254.169.254/", "link-local", id="cloud-metadata"),
    pytest.param("http://100.64.0.1/", "shared", id="shared-cgnat"),
    pytest.param("http://0.0.0.0/", "unspecified", id="unspecified-v4"),
    pytest.param("http://240.0.0.1/", "reserved", id="reserved"),
    pytest.param("http://255.255.255.255/", "broadcast", id="broadcast"),
    pytest.param("http://224.0.0.1/", "multicast", id="multicast-v4"),
    pytest.param("http://239.255.255.250/", "multicast", id="ssdp-multicast"),
    pytest.param("http://192.0.2.1/", "documentation", id="test-net-1"),
    pytest.param("http://198.51.100.7/", "documentation", id="test-net-2"),
    pytest.param("http://203.0.113.9/", "documentation", id="test-net-3"),
    pytest.param("http://198.18.0.1/", "benchmarking", id="benchmarking-v4"),
    pytest.param("http://192.0.0.9/", "protocol", id="ietf-protocol"),
    pytest.param("http://192.88.99.1/", "6to4 relay", id="6to4-relay-anycast"),
    pytest.param("http://256.0.0.1/", "IPv4", id="octet-too-big"),
    pytest.param("http://1.2.3.4.5/", "IPv4", id="five-parts"),
    pytest.param("http://09.1.1.1/", "IPv4", id="bad-octal"),
    pytest.param("http://4294967296/", "IPv4", id="integer-too-big"),
    pytest.param("http://1.16777216/", "IPv4", id="short-part-too-big"),
    # IPv6 literals.
    pytest.param("http://[::1]/", "loopback", id="loopback-v6"),
    pytest.param("http://[::]/", "unspecified", id="unspecified-v6"),
    pytest.param("http://[fe80::1]/", "link-local", id="link-local-v6"),
    pytest.param("http://[fe80::1%25eth0]/", "link-local", id="zone-id"),
    pytest.param("http://[2606:4700::1111%25eth0]/", "zone id", id="zone-public"),
    pytest.param("http://[fc00::1]/", "private", id="unique-local"),
    pytest.param("http://[FD12:3456::1]/", "private", id="unique-local-upper"),
    pytest.param("http://[ff02::1]/", "multicast", id="multicast-v6"),
    pytest.param("http://[2001:db8::1]/", "documentation", id="documentation-v6"),
    pytest.param("http://[2001:2::1]/", "protocol", id="benchmarking-v6"),
    pytest.param("http://[fec0::1]/", "site-local", id="site-local"),
    pytest.param("http://[1::]/", "unassigned", id="outside-global-unicast"),
    pytest.param("http://[::ffff:127.0.0.1]/", "loopback", id="mapped-dotted"),
    pytest.param("http://[::ffff:7f00:1]/", "loopback", id="mapped-hex"),
    pytest.param("http://[::FFFF:10.0.0.1]/", "private", id="mapped-upper"),
    pytest.param("http://[::127.0.0.1]/", "loopback", id="compatible"),
    pytest.param("http://[64:ff9b::10.0.0.1]/", "private", id="nat64-private"),
    pytest.param("http://[64:ff9b::7f00:1]/", "loopback", id="nat64-hex"),
    pytest.param("http://[64:ff9b:1::8.8.8.8]/", "local-use", id="nat64-local-use"),
    pytest.param("http://[2002:c0a8:101::1]/", "private", id="6to4-private"),
    pytest.param("http://[2002:7f00:1::]/", "loopback", id="6to4-loopback"),
    pytest.param(
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
        "documentation",
        id="teredo-client",
    ),
    pytest.param("http://[2001:0:a00:1::]/", "private", id="teredo-server"),
    pytest.param("http://[::1/", "IPv6", id="unclosed-bracket"),
    pytest.param("http://[::1]x/", "IPv6", id="junk-after-bracket"),
    pytest.param("http://[127.0.0.1]/", "IPv6", id="ipv4-in-brackets"),
    pytest.param("http://[::1::2]/", "IPv6", id="two-double-colons"),
    pytest.param("http://::1/", "port", id="unbracketed-ipv6"),
    # Self-loops and operator blocks.
    pytest.param("https://qr.example.org/x", "back at this server", id="own-host"),
    pytest.param("https://GO.Example.ORG./", "back at this server", id="own-short"),
    pytest.param("https://go.example.org:8443/", "back at this server", id="own-port"),
    pytest.param("https://evil.com/", "blocked on this server", id="blocked"),
    pytest.param("https://a.b.evil.com/", "blocked on this server", id="blocked-sub"),
    pytest.param("https://EVIL.com./", "blocked on this server", id="blocked-upper"),
    pytest.param("https://bücher.example/", "blocked", id="blocked-idn-unicode"),
    # Names whose DNS answers with the address they spell, or loopback.
    pytest.param("http://10.0.0.1.nip.io/", "private addresses", id="nip-io"),
    pytest.param("http://127-0-0-1.sslip.io/", "private addresses", id="sslip-io"),
    pytest.param("http://LOCALTEST.ME./", "private addresses", id="localtest-me"),
    pytest.param("http://app.lvh.me/", "private addresses", id="lvh-me"),
    pytest.param("https://nip.io.example.com/", OK, id="nip-io-lookalike"),
    # Host names a browser refuses (UTS-46 with CheckJoiners), or that we refuse although a
    # browser would not: an invisible joiner makes two hosts look alike to the person reading.
    pytest.param("https://a\u200cb.example/", "invisible", id="zwnj-between-latin-letters"),
    pytest.param("https://\u0915\u094d\u200d\u0937.example/", "invisible", id="zwj-after-virama"),
    pytest.param("https://xn--ab-j1t.example/", "valid domain", id="zwnj-latin-as-punycode"),
    pytest.param("https://faß.evil.com/", "blocked on this server", id="blocked-sub-with-sharp-s"),
]

# What a browser visits (WHATWG URL host parser: UTS-46, non-transitional): every rule judges this.
BROWSER_HOSTS = [
    pytest.param("https://xn--fa-hia.example/", "xn--fa-hia.example", id="sharp-s-punycode"),
    pytest.param("https://faß.example/", "xn--fa-hia.example", id="sharp-s-is-not-ss"),
    pytest.param("https://FASS.example/", "fass.example", id="ss-is-its-own-host"),
    pytest.param("https://ｆａß。example/", "xn--fa-hia.example", id="fullwidth-sharp-s"),
    pytest.param("https://σς.example/", "xn--3xab.example", id="final-sigma-kept"),
    pytest.param("https://σσ.example/", "xn--4xaa.example", id="sigma-twice-differs"),
    pytest.param("https://ΣΑΣ.example/", "xn--mxa9ab.example", id="capital-sigma-folds"),
    pytest.param("https://аpple.com/", "xn--pple-43d.com", id="mixed-script-cyrillic-a"),
    pytest.param("https://XN--PPLE-43D.com/", "xn--pple-43d.com", id="mixed-script-punycode"),
    pytest.param("https://bücher.de/", "xn--bcher-kva.de", id="umlaut"),
    pytest.param("https://Example.COM./", "example.com", id="case-and-trailing-dot"),
]


@pytest.mark.parametrize(("url", "host"), BROWSER_HOSTS)
def test_hosts_are_judged_as_the_browser_will_visit_them(url, host):
    assert browser_host(url) == host
    assert check_destination(url) == url


def test_blocklists_and_own_hosts_see_the_browsers_host():
    """`faß.example` is `xn--fa-hia.example` to a browser, never `fass.example`."""
    assert check_destination("https://faß.example/", blocked_domains=frozenset({"fass.example"}))
    assert "blocked" in refused("https://faß.example/", blocked_domains=frozenset({"xn--fa-hia.example"}))
    assert "blocked" in refused("https://xn--fa-hia.example/", blocked_domains=frozenset({"faß.example"}))
    assert check_destination("https://fass.example/", blocked_domains=frozenset({"faß.example"}))
    assert "back at this server" in refused(
        "https://xn--fa-hia.example/x", own_hosts=frozenset({"faß.example"})
    )
    assert check_destination("https://аpple.com/", blocked_domains=frozenset({"apple.com"}))


@pytest.mark.parametrize(("url", "fragment"), CASES)
def test_destination_table(url, fragment):
    options = {"own_hosts": OWN, "blocked_domains": BLOCKED}
    if fragment is OK:
        assert check_destination(url, **options) == url
    else:
        message = refused(url, **options)
        assert fragment in message
        assert message[0].isupper() and message.endswith(".")


@pytest.mark.parametrize("value", [None, 42, b"https://example.com", ["x"], {}])
def test_non_text_is_refused(value):
    assert "text" in refused(value)


def test_length_limit_is_inclusive():
    url = "https://example.com/" + "a" * (MAX_LENGTH - len("https://example.com/"))
    assert len(url) == MAX_LENGTH
    assert check_destination(url) == url
    assert "2048" in refused(url + "a")


def test_private_message_reads_as_a_sentence():
    assert refused("http://10.0.0.1/") == (
        "The destination address 10.0.0.1 is a private address, not a public one."
    )


def test_own_hosts_match_in_any_spelling():
    own = frozenset({"bücher.example", "203.0.113.5"})
    assert "back at this server" in refused("https://xn--bcher-kva.example/", own_hosts=own)
    assert "back at this server" in refused("https://203.0.113.5/", own_hosts=own)


def fake_getaddrinfo(*addresses):
    def getaddrinfo(host, port, *args, **kwargs):
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, 1, 6, "", (a, 0)) for a in addresses]

    return getaddrinfo


def test_resolve_accepts_a_public_name(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo("93.184.215.14"))
    url = "https://example.com/"
    assert check_destination(url, resolve=True) == url


def test_resolve_refuses_when_any_address_is_private(monkeypatch):
    fake = fake_getaddrinfo("93.184.215.14", "fe80::1%eth0")
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    message = refused("https://rebind.example.com/", resolve=True)
    assert message == ("The destination host rebind.example.com resolves to fe80::1, a link-local address.")


def test_resolve_refuses_a_name_that_does_not_resolve(monkeypatch):
    def fail(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    assert "could not be resolved" in refused("https://nx.example.com/", resolve=True)


def test_resolve_refuses_an_empty_answer(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo())
    assert "could not be resolved" in refused("https://nx.example.com/", resolve=True)


def test_no_lookup_unless_asked(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("getaddrinfo called without resolve=True")

    monkeypatch.setattr(socket, "getaddrinfo", forbidden)
    assert check_destination("https://example.com/") == "https://example.com/"
    assert "loopback" in refused("http://127.0.0.1/", resolve=True)
