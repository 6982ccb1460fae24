"""Webhooks: the /v1 endpoints, and delivery to a real local receiver that checks every signature."""

from __future__ import annotations

import dataclasses
import time

import pytest
from sqlalchemy import select

from openqr.extensions import db
from openqr.models import WebhookDelivery
from openqr.scans.classify import ScanEvent
from openqr.services import services
from tests.conftest import Api, close_app, fresh_app, make_app, new_key
from tests.support.receiver import Receiver
from tests.support.servers import PHONE

FAST = {
    "OPENQR_WEBHOOK_ALLOW_HOSTS": frozenset({"127.0.0.1"}),
    "OPENQR_WEBHOOK_INTERVAL": 0.05,
    "OPENQR_WEBHOOK_RETRY_BASE": 0.05,
    "OPENQR_WEBHOOK_TIMEOUT": 1.0,
}


@pytest.fixture
def hook_app(tmp_path):
    """An app that may send to 127.0.0.1, with small spacing and back-off so retries come quickly."""
    app = fresh_app(tmp_path, **FAST)
    yield app
    close_app(app)


@pytest.fixture
def owner(hook_app):
    return Api(hook_app.test_client(), new_key(hook_app))


def subscribe(api: Api, receiver: Receiver, events=("scan", "code.created", "code.updated", "code.deleted")):
    response = api.post("/v1/webhooks", json={"url": receiver.url, "events": list(events)})
    assert response.status_code == 201, response.get_json()
    receiver.secret = response.get_json()["secret"]
    return response.get_json()


def scan(app, slug: str, n: int = 1, **headers) -> None:
    client = app.test_client()
    for _ in range(n):
        assert client.get(f"/{slug}", headers={"User-Agent": PHONE, **headers}).status_code == 302


def deliver_all(app, rounds: int = 50) -> None:
    """Run delivery rounds until the outbox has nothing pending (or `rounds` pass)."""
    deliverer = services(app).deliverer
    for _ in range(rounds):
        deliverer.run_once()
        if not pending(app):
            return
        time.sleep(deliverer.interval)


def pending(app) -> list[WebhookDelivery]:
    with app.app_context():
        query = select(WebhookDelivery).where(WebhookDelivery.status == "pending")
        return list(db.session.execute(query).scalars())


def deliveries(app) -> list[WebhookDelivery]:
    with app.app_context():
        return list(db.session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id)).scalars())


# --- the API ---


def test_create_list_delete(owner, receiver):
    created = subscribe(owner, receiver, ["scan", "code.updated"])
    assert set(created) == {"id", "url", "events", "secret", "created_at"}
    assert created["url"] == receiver.url and created["events"] == ["scan", "code.updated"]
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    listed = owner.get("/v1/webhooks").get_json()["webhooks"]
    assert listed == [{k: v for k, v in created.items() if k != "secret"}]
    assert owner.delete(f"/v1/webhooks/{created['id']}").get_json() == {"deleted": True}
    assert owner.get("/v1/webhooks").get_json() == {"webhooks": []}
    assert owner.delete(f"/v1/webhooks/{created['id']}").status_code == 404


def test_another_accounts_webhook_is_404(hook_app, owner, receiver):
    created = subscribe(owner, receiver)
    stranger = Api(hook_app.test_client(), new_key(hook_app, "stranger@example.org"))
    assert stranger.get("/v1/webhooks").get_json() == {"webhooks": []}
    for response in (
        stranger.delete(f"/v1/webhooks/{created['id']}"),
        stranger.post(f"/v1/webhooks/{created['id']}/test"),
    ):
        assert response.status_code == 404 and response.get_json()["error"] == "not_found"
    assert len(owner.get("/v1/webhooks").get_json()["webhooks"]) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": ["scan"]}, "url"),
        ({"url": "", "events": ["scan"]}, "url"),
        ({"url": "ftp://hooks.example.com/x", "events": ["scan"]}, "url"),
        ({"url": "https://user:pw@hooks.example.com/x", "events": ["scan"]}, "url"),
        ({"url": "http://10.0.0.7/hook", "events": ["scan"]}, "url"),
        ({"url": "http://localhost:9000/hook", "events": ["scan"]}, "url"),
        ({"url": "http://qr.test/hook", "events": ["scan"]}, "url"),  # this server itself
        ({"url": "https://hooks.example.com/x"}, "events"),
        ({"url": "https://hooks.example.com/x", "events": []}, "events"),
        ({"url": "https://hooks.example.com/x", "events": "scan"}, "events"),
        ({"url": "https://hooks.example.com/x", "events": ["scans"]}, "events"),
        ({"url": "https://hooks.example.com/x", "events": ["scan"], "secret": "mine"}, "secret"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(owner, body, field):
    response = owner.post("/v1/webhooks", json=body)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["field"] == field and response.get_json()["message"]


def test_private_receiver_needs_the_operator_setting(tmp_path, receiver):
    app = fresh_app(tmp_path)  # OPENQR_WEBHOOK_ALLOW_HOSTS empty
    try:
        api = Api(app.test_client(), new_key(app))
        response = api.post("/v1/webhooks", json={"url": receiver.url, "events": ["scan"]})
        assert response.status_code == 400 and response.get_json()["field"] == "url"
        assert "OPENQR_WEBHOOK_ALLOW_HOSTS" in response.get_json()["message"]
        assert api.get("/v1/webhooks").get_json() == {"webhooks": []}
    finally:
        close_app(app)


def test_unauthenticated_is_401(hook_app):
    assert hook_app.test_client().get("/v1/webhooks").status_code == 401


# --- delivery ---


def test_every_event_arrives_signed_once_after_dedup(hook_app, owner, receiver):
    subscribe(owner, receiver)
    code = owner.create(label="Poster")
    scan(hook_app, code["slug"], 5, **{"CF-IPCountry": "FR", "Referer": "https://news.example.org/a?b=c"})
    assert owner.patch(f"/v1/dynamic/{code['id']}", json={"label": "Poster v2"}).status_code == 200
    owner.delete(f"/v1/dynamic/{code['id']}")
    deliver_all(hook_app)

    assert receiver.requests and all(req["verified"] for req in receiver.requests)
    events = receiver.accepted_events()
    assert len(events) == len(receiver.unique_events()) == 8
    assert [event["type"] for event in events] == [
        "code.created",
        *["scan"] * 5,
        "code.updated",
        "code.deleted",
    ]
    assert all(event["code"] == {"id": code["id"], "slug": code["slug"]} for event in events)
    scan_event = events[1]
    # Scans record the destination they were sent to once smart destinations have landed.
    recorded = "destination" in {field.name for field in dataclasses.fields(ScanEvent)}
    assert scan_event["data"] == {
        "country": "FR",
        "device": "mobile",
        "referrer": "news.example.org",
        "destination": code["destination"] if recorded else None,
    }
    assert scan_event["at"].endswith("Z") and scan_event["id"].startswith("evt_")
    assert events[6]["data"]["label"] == "Poster v2" and events[0]["data"]["short_url"] == code["short_url"]
    assert all(row.status == "delivered" and row.attempts == 1 for row in deliveries(hook_app))


def test_scan_events_are_batched_and_requests_spaced(tmp_path, receiver):
    app = fresh_app(tmp_path, **{**FAST, "OPENQR_WEBHOOK_INTERVAL": 30.0})
    try:
        api = Api(app.test_client(), new_key(app))
        subscribe(api, receiver, ["scan"])
        code = api.create()
        scan(app, code["slug"], 20)
        deliverer = services(app).deliverer
        assert deliverer.run_once() == 1
        assert len(receiver.requests) == 1 and len(receiver.requests[0]["events"]) == 20
        scan(app, code["slug"], 3)
        assert deliverer.run_once() == 0  # the endpoint's next request waits for the interval
        assert len(pending(app)) == 3
    finally:
        close_app(app)


def test_retries_through_500s_and_an_outage_until_delivered(hook_app, owner, receiver):
    subscribe(owner, receiver, ["scan"])
    code = owner.create()
    receiver.fail_next = 3
    scan(hook_app, code["slug"], 4)
    deliverer = app_deliverer = services(hook_app).deliverer
    app_deliverer.start()
    assert receiver.wait_for(lambda: sum(r["status"] == 500 for r in receiver.requests) >= 3)
    receiver.down()
    scan(hook_app, code["slug"], 2)
    # While it is down, attempts fail with "connection refused" and are scheduled again.
    assert receiver.wait_for(lambda: any("refused" in (row.last_error or "") for row in deliveries(hook_app)))
    receiver.up()
    assert receiver.wait_for(lambda: not pending(hook_app))
    deliverer.stop()

    assert len(receiver.unique_events()) == 6 and all(req["verified"] for req in receiver.requests)
    statuses = [req["status"] for req in receiver.requests]
    assert statuses[:3] == [500, 500, 500] and statuses[-1] == 200
    rows = deliveries(hook_app)
    assert all(row.status == "delivered" for row in rows) and max(row.attempts for row in rows) >= 4
    assert deliverer.results["retry"] >= 4 and deliverer.results["delivered"] >= 1
    # The ids sent in the failed attempts are the ids finally accepted: a receiver can de-duplicate.
    failed_ids = {event["id"] for req in receiver.requests if req["status"] == 500 for event in req["events"]}
    assert failed_ids <= set(receiver.unique_events())


def test_events_are_marked_failed_when_retries_run_out(tmp_path, receiver):
    app = fresh_app(tmp_path, **{**FAST, "OPENQR_WEBHOOK_RETRY_FOR": 1.0})
    try:
        api = Api(app.test_client(), new_key(app))
        subscribe(api, receiver, ["code.created"])
        receiver.answer = 503
        api.create()
        deliverer = services(app).deliverer
        deliverer.start()
        assert receiver.wait_for(lambda: deliveries(app)[0].status == "failed", timeout=10)
        deliverer.stop()
        row = deliveries(app)[0]
        assert row.last_status == 503 and row.attempts >= 2 and deliverer.results["failed"] == 1
    finally:
        close_app(app)


def test_a_redirect_from_the_receiver_is_not_followed(hook_app, owner, receiver):
    subscribe(owner, receiver, ["code.created"])
    receiver.answer = 302
    owner.create()
    services(hook_app).deliverer.run_once()
    row = deliveries(hook_app)[0]
    assert row.status == "pending" and row.last_status == 302 and len(receiver.requests) == 1


def test_nothing_is_sent_once_the_host_is_no_longer_allowed(tmp_path, receiver):
    allowed = fresh_app(tmp_path, **FAST)
    api = Api(allowed.test_client(), new_key(allowed))
    subscribe(api, receiver, ["code.created"])
    api.create()
    close_app(allowed)
    narrowed = make_app(tmp_path, **{**FAST, "OPENQR_WEBHOOK_ALLOW_HOSTS": frozenset()})  # same database
    try:
        services(narrowed).deliverer.run_once()
        row = deliveries(narrowed)[0]
        assert row.status == "failed" and row.last_error.startswith("URL refused")
        assert receiver.requests == []
    finally:
        close_app(narrowed)


def test_test_event_is_queued_and_delivered(hook_app, owner, receiver):
    created = subscribe(owner, receiver, ["scan"])
    response = owner.post(f"/v1/webhooks/{created['id']}/test")
    assert response.status_code == 202
    deliver_all(hook_app)
    (event,) = receiver.accepted_events()
    assert (
        event["id"] == response.get_json()["event_id"] and event["type"] == "test" and event["code"] is None
    )


def test_deleting_a_code_keeps_its_scans_events_and_deleting_a_webhook_drops_its_outbox(
    hook_app, owner, receiver
):
    created = subscribe(owner, receiver, ["scan"])
    code = owner.create()
    scan(hook_app, code["slug"], 2)
    owner.delete(f"/v1/webhooks/{created['id']}")
    assert deliveries(hook_app) == []
    services(hook_app).deliverer.run_once()
    assert receiver.requests == []


def test_a_backlog_drains_in_requests_of_bounded_size(hook_app, owner, receiver, monkeypatch):
    monkeypatch.setattr("openqr.webhooks.delivery.MAX_EVENTS_PER_REQUEST", 5)
    subscribe(owner, receiver, ["scan"])
    code = owner.create()
    scan(hook_app, code["slug"], 12)  # twelve outbox rows of one event (tests write each scan at once)
    deliver_all(hook_app)
    assert [len(req["events"]) for req in receiver.requests] == [5, 5, 2]
    assert len(receiver.unique_events()) == 12


def test_disabling_a_code_from_the_cli_is_a_code_updated_event(hook_app, owner, receiver):
    subscribe(owner, receiver, ["code.updated"])
    code = owner.create()
    assert hook_app.test_cli_runner().invoke(args=["codes", "disable", code["slug"]]).exit_code == 0
    deliver_all(hook_app)
    (event,) = receiver.accepted_events()
    assert event["type"] == "code.updated" and event["data"]["status"] == "disabled"
