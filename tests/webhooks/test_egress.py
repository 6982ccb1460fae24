"""Requests this server makes: a webhook's host is resolved by the delivery itself, every address is
checked, and the connection goes to exactly the checked one.

Names are made up and answered by a resolver the test controls (`fakedns`); the fence refuses any
connection that is not to loopback, and records every connection made, so each test also shows
where the delivery thread really connected.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest
from sqlalchemy import select

from openqr.config import load_settings
from openqr.destinations import DestinationError
from openqr.extensions import db
from openqr.models import WebhookDelivery
from openqr.services import services
from openqr.webhooks import egress
from tests.conftest import Api, close_app, fresh_app, make_app, new_key
from tests.support.certs import needs_openssl, self_signed
from tests.support.receiver import Receiver
from tests.webhooks import fakedns
from tests.webhooks.test_webhooks import FAST

NOTHING_ALLOWED = {**FAST, "OPENQR_WEBHOOK_ALLOW_HOSTS": frozenset()}  # quick retries, the default list
PUBLIC = "93.184.215.14"  # a public address: the fence stops any connection to it


@pytest.fixture
def dns(monkeypatch):
    """`dns({"name": [["1.2.3.4"], ...]})` answers those names for the rest of the test."""

    def install(table: dict[str, list[list[str]]]) -> fakedns.FakeDNS:
        fake = fakedns.FakeDNS(table)
        monkeypatch.setattr(socket, "getaddrinfo", fake.getaddrinfo)
        return fake

    return install


@pytest.fixture
def connects():
    with fakedns.fence() as made:
        yield made


@pytest.fixture
def apps(tmp_path):
    """`apps(**settings)`: an app on a fresh database; every app made is stopped and closed."""
    made = []

    def build(fresh: bool = True, **settings):
        app = (fresh_app if fresh else make_app)(tmp_path, **{**NOTHING_ALLOWED, **settings})
        made.append(app)
        return app

    yield build
    for app in made:
        close_app(app)


def subscribe(app, url: str, receiver: Receiver | None = None):
    api = Api(app.test_client(), new_key(app))
    response = api.post("/v1/webhooks", json={"url": url, "events": ["code.created"]})
    if receiver is not None and response.status_code == 201:
        receiver.secret = response.get_json()["secret"]
    return api, response


def created(app, url: str, receiver: Receiver | None = None) -> Api:
    """A webhook on `url` (which must be accepted) and one code, so one event waits for delivery."""
    api, response = subscribe(app, url, receiver)
    assert response.status_code == 201, response.get_json()
    api.create()
    return api


def rows(app) -> list[WebhookDelivery]:
    with app.app_context():
        return list(db.session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id)).scalars())


def deliver(app) -> WebhookDelivery:
    """One delivery round; the outbox row it worked on."""
    services(app).deliverer.run_once()
    (row,) = rows(app)
    return row


def deliver_again(app) -> WebhookDelivery:
    """Wait for the row's back-off, then run another round."""
    time.sleep(0.15)
    return deliver(app)


# --- a name the guard accepts, resolving somewhere it must not go ---


@pytest.mark.parametrize(
    "addresses",
    [
        ["127.0.0.1"],
        ["::1"],
        ["10.0.0.7"],
        ["169.254.169.254"],
        ["::ffff:127.0.0.1"],
        [PUBLIC, "10.0.0.7"],  # one bad address is enough: a client may pick any of them
    ],
)
def test_a_public_looking_name_of_a_private_address_is_refused_at_delivery(
    apps, dns, connects, receiver, addresses
):
    """The SSRF of issue 20: with default settings, the name passes the guard at creation (no DNS
    then), so the delivery's own look-up is what keeps the request off the internal network."""
    app = apps()
    resolver = dns({"hooks.evil.example": [addresses]})
    created(app, f"http://hooks.evil.example:{receiver.port}/hook")
    row = deliver(app)
    assert row.status == "pending" and row.last_status is None  # recorded like any failure: retried
    assert row.last_error.startswith("Not sent: The destination host hooks.evil.example resolves to ")
    assert "address" in row.last_error and resolver.lookups("hooks.evil.example") == 1
    assert receiver.requests == [] and connects == []


def test_a_name_that_does_not_resolve_is_retried(apps, dns, connects):
    app = apps()
    dns({})
    created(app, "https://hooks.nowhere.example/hook")
    row = deliver(app)
    assert row.status == "pending" and "could not be resolved" in row.last_error and connects == []


def test_a_rebinding_resolver_cannot_swap_in_another_address(apps, dns, connects, receiver):
    """Public to the check, loopback to a second look-up: there is no second look-up. The connection
    goes to the public address that was checked (the fence stops it there), never to the receiver."""
    app = apps()
    resolver = dns({"rebind.evil.example": [[PUBLIC], ["127.0.0.1"]]})
    created(app, f"http://rebind.evil.example:{receiver.port}/hook")
    first = deliver(app)
    assert resolver.lookups("rebind.evil.example") == 1
    assert connects == [(PUBLIC, receiver.port, False)]
    assert first.status == "pending" and fakedns.FENCE_MESSAGE in first.last_error
    # The next attempt resolves afresh, gets loopback, and refuses before connecting.
    second = deliver_again(app)
    assert resolver.lookups("rebind.evil.example") == 2 and len(connects) == 1
    assert "resolves to 127.0.0.1, a loopback address" in second.last_error
    assert receiver.requests == []


def test_with_resolve_destinations_the_name_is_checked_at_creation_and_again_at_delivery(
    apps, dns, connects, receiver
):
    app = apps(OPENQR_RESOLVE_DESTINATIONS=True)
    dns(
        {
            "internal.evil.example": [["10.0.0.7"]],
            "rebind.evil.example": [[PUBLIC], ["127.0.0.1"]],
            "example.com": [[PUBLIC]],  # the code's destination, checked too
        }
    )
    _api, refused = subscribe(app, "https://internal.evil.example/hook")
    assert refused.status_code == 400 and refused.get_json()["field"] == "url"
    assert "resolves to 10.0.0.7, a private address" in refused.get_json()["message"]
    # A rebinding server answers the creation's check with a public address, the delivery's with
    # loopback: the delivery's own check still refuses.
    created(app, f"http://rebind.evil.example:{receiver.port}/hook")
    row = deliver(app)
    assert "resolves to 127.0.0.1" in row.last_error and receiver.requests == [] and connects == []


# --- allowed receivers: resolved once, reached at the checked address, under their name ---


def test_an_allowed_name_is_resolved_once_and_reached_at_the_checked_address(apps, dns, connects, receiver):
    app = apps(OPENQR_WEBHOOK_ALLOW_HOSTS=frozenset({f"hooks.partner.test:{receiver.port}"}))
    resolver = dns({"hooks.partner.test": [["127.0.0.1"]]})
    created(app, f"http://hooks.partner.test:{receiver.port}/hook?via=openqr", receiver)
    row = deliver(app)
    assert row.status == "delivered" and row.last_status == 200
    (request,) = receiver.requests
    assert request["verified"] and request["path"] == "/hook?via=openqr"
    assert request["host"] == f"hooks.partner.test:{receiver.port}"
    assert resolver.lookups("hooks.partner.test") == 1
    assert connects == [("127.0.0.1", receiver.port, True)]


def test_the_next_checked_address_is_tried_when_one_refuses(apps, dns, connects, receiver):
    app = apps(OPENQR_WEBHOOK_ALLOW_HOSTS=frozenset({"hooks.partner.test"}))
    dns({"hooks.partner.test": [["127.0.0.2", "127.0.0.1"]]})  # the receiver listens on the second
    created(app, f"http://hooks.partner.test:{receiver.port}/hook", receiver)
    assert deliver(app).status == "delivered"
    assert connects == [("127.0.0.2", receiver.port, True), ("127.0.0.1", receiver.port, True)]


def test_an_allowed_host_is_allowed_on_its_port_only(apps, receiver):
    other = Receiver()
    try:
        app = apps(OPENQR_WEBHOOK_ALLOW_HOSTS=frozenset({f"127.0.0.1:{receiver.port}"}))
        assert subscribe(app, receiver.url)[1].status_code == 201
        _api, refused = subscribe(app, other.url)
        assert refused.status_code == 400 and refused.get_json()["field"] == "url"
        message = refused.get_json()["message"]
        assert "127.0.0.1 is a loopback address" in message and "OPENQR_WEBHOOK_ALLOW_HOSTS" in message
    finally:
        other.down()


@pytest.mark.parametrize(
    ("allowed", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8080/metrics"),  # the address and port waitress listens on
        ("127.0.0.1:8080", "http://127.0.0.1:8080/metrics"),
        ("qr.test", "http://qr.test/v1/dynamic"),  # OPENQR_BASE_URL, port 80
        ("go.test", "https://go.test/abc"),  # OPENQR_SHORT_BASE_URL, port 443
        ("", "https://go.test/abc"),
    ],
)
def test_this_server_is_never_a_target_allowed_or_not(apps, allowed, url):
    app = apps(OPENQR_WEBHOOK_ALLOW_HOSTS=frozenset({allowed} - {""}))
    _api, refused = subscribe(app, url)
    assert refused.status_code == 400 and refused.get_json()["field"] == "url"
    assert "back at this server" in refused.get_json()["message"]
    assert "OPENQR_WEBHOOK_ALLOW_HOSTS" not in refused.get_json()["message"]  # nothing to allow


def test_another_port_of_an_allowed_own_host_is_a_target(apps):
    app = apps(OPENQR_WEBHOOK_ALLOW_HOSTS=frozenset({"go.test"}))
    assert subscribe(app, "https://go.test:8443/hook")[1].status_code == 201


def test_a_name_resolving_to_the_servers_own_listening_address_is_not_sent(apps, dns, connects, receiver):
    """An allowed name that resolves to the address and port this server listens on (its /metrics,
    its API) is refused at delivery, however the name is spelt."""
    app = apps(
        OPENQR_WEBHOOK_ALLOW_HOSTS=frozenset({"hooks.partner.test"}),
        OPENQR_HOST="0.0.0.0",
        OPENQR_PORT=receiver.port,  # as if this server listened where the receiver does
    )
    dns({"hooks.partner.test": [["127.0.0.2"]]})  # any loopback address reaches a 0.0.0.0 listener
    created(app, f"http://hooks.partner.test:{receiver.port}/hook")
    row = deliver(app)
    assert row.last_error == "Not sent: The host hooks.partner.test resolves to this server's own address."
    assert receiver.requests == [] and connects == []


def test_a_url_that_became_this_server_is_refused_for_good(apps, receiver):
    allowed = frozenset({"127.0.0.1"})
    created(apps(OPENQR_WEBHOOK_ALLOW_HOSTS=allowed), receiver.url)
    moved = apps(fresh=False, OPENQR_WEBHOOK_ALLOW_HOSTS=allowed, OPENQR_PORT=receiver.port)
    row = deliver(moved)
    assert row.status == "failed" and row.last_error == "URL refused: The URL points back at this server."
    assert receiver.requests == []


# --- TLS: verified against the name, whatever address was connected to ---


@needs_openssl
def test_tls_is_verified_against_the_name_with_sni(apps, dns, connects, tmp_path):
    cert, key = self_signed(tmp_path, "hooks.partner.test")
    receiver = Receiver(host="hooks.partner.test", tls=(cert, key))
    try:
        app = apps(OPENQR_WEBHOOK_ALLOW_HOSTS=frozenset({"hooks.partner.test"}), OPENQR_WEBHOOK_CA_FILE=cert)
        dns({"hooks.partner.test": [["127.0.0.1"]]})
        created(app, receiver.url, receiver)
        row = deliver(app)
        assert row.status == "delivered" and receiver.requests[0]["verified"]
        assert receiver.server_names == ["hooks.partner.test"]
        assert connects == [("127.0.0.1", receiver.port, True)]
    finally:
        receiver.down()


@needs_openssl
@pytest.mark.parametrize("trusted", [True, False])
def test_a_certificate_for_another_name_or_an_unknown_authority_is_refused(apps, dns, tmp_path, trusted):
    cert, key = self_signed(tmp_path, "other.partner.test")
    receiver = Receiver(host="hooks.partner.test", tls=(cert, key))
    try:
        settings = {"OPENQR_WEBHOOK_CA_FILE": cert} if trusted else {}
        app = apps(OPENQR_WEBHOOK_ALLOW_HOSTS=frozenset({"hooks.partner.test"}), **settings)
        dns({"hooks.partner.test": [["127.0.0.1"]]})
        created(app, receiver.url, receiver)
        row = deliver(app)
        assert row.status == "pending" and row.last_error.startswith("TLS certificate refused: ")
        assert ("Hostname mismatch" if trusted else "self-signed") in row.last_error
        assert receiver.requests == []
    finally:
        receiver.down()


# --- time: an attempt never outlasts OPENQR_WEBHOOK_TIMEOUT ---


class Trickler:
    """A receiver that answers a byte every 0.1 s, for ever: each read is quick, the answer never ends."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn):
        with conn:
            conn.recv(65536)
            try:
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000:
                    if self.stopped.wait(0.1):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:
                return  # the client gave up: what the test wants

    def close(self):
        self.stopped.set()
        self.listener.close()


def test_a_receiver_that_answers_a_byte_at_a_time_is_cut_off_at_the_timeout(apps):
    trickler = Trickler()
    try:
        app = apps(OPENQR_WEBHOOK_ALLOW_HOSTS=frozenset({"127.0.0.1"}), OPENQR_WEBHOOK_TIMEOUT=1.0)
        created(app, f"http://127.0.0.1:{trickler.port}/hook")
        started = time.monotonic()
        row = deliver(app)
        took = time.monotonic() - started
    finally:
        trickler.close()
    assert row.status == "pending" and row.last_error == "timed out"
    assert took < 2.5, f"the attempt took {took:.1f} s with a 1 s timeout"


# --- the rule itself, as a table: which URLs an allow list lets through ---

OWN = {
    "OPENQR_BASE_URL": "https://qr.example.com",
    "OPENQR_SHORT_BASE_URL": "http://go.example.com:8000",
    "OPENQR_HOST": "0.0.0.0",
    "OPENQR_PORT": 8080,
    "OPENQR_OWN_HOSTS": frozenset({"qr.example.com", "go.example.com"}),
}


@pytest.mark.parametrize(
    ("entries", "url", "accepted"),
    [
        ("127.0.0.1:8088", "http://127.0.0.1:8088/hook", True),
        ("127.0.0.1:8088", "http://127.0.0.1:8089/hook", False),
        ("127.0.0.1:8088", "http://2130706433:8088/hook", True),  # the same host, as a browser reads it
        ("127.0.0.1:8088", "http://127.1:8088/hook", True),
        ("127.0.0.1", "http://127.0.0.1:9/hook", True),
        ("127.0.0.1", "http://127.0.0.2:9/hook", False),
        ("[::1]:9000", "http://[::1]:9000/hook", True),
        ("[::1]:9000", "http://[0:0::1]:9000/hook", True),
        ("[::1]:9000", "http://[::1]:9001/hook", False),
        ("::1", "https://[::1]/hook", True),
        ("hooks.internal:443", "https://hooks.internal/hook", True),  # 443: https's own port
        ("hooks.internal:443", "http://hooks.internal/hook", False),  # 80
        ("hooks.internal", "https://HOOKS.internal.:8443/hook", True),
        ("hooks.internal", "https://user@hooks.internal/hook", False),  # no user info, allowed or not
        ("hooks.internal", "ftp://hooks.internal/hook", False),
        ("127.0.0.1", "http://127.0.0.1:8080/metrics", False),  # this server listens on 0.0.0.0:8080
        ("127.0.0.2", "http://127.0.0.2:8080/metrics", False),
        ("qr.example.com", "https://qr.example.com/v1", False),  # the base URL's host and port
        ("qr.example.com", "https://qr.example.com:8443/hook", True),
        ("go.example.com", "http://go.example.com:8000/x", False),
        ("", "https://hooks.example.net/hook", True),  # public: the guard's rules, no allow list needed
        ("", "https://qr.example.com:8443/hook", False),  # an own host on another port, not allowed
        ("", "http://10.0.0.5/hook", False),
    ],
)
def test_the_allow_list_by_host_and_port(entries, url, accepted):
    allowed = load_settings({"OPENQR_WEBHOOK_ALLOW_HOSTS": entries})["OPENQR_WEBHOOK_ALLOW_HOSTS"]
    config = {**OWN, "OPENQR_WEBHOOK_ALLOW_HOSTS": allowed}
    try:
        egress.check_url(config, url)
    except DestinationError:
        assert not accepted
    else:
        assert accepted
