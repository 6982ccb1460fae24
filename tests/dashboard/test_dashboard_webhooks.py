"""The dashboard's Webhooks page: create (secret once), errors beside fields, deliveries, test, delete."""

from __future__ import annotations

import time

import pytest

from openqr.services import services
from tests.conftest import close_app, fresh_app
from tests.dashboard.test_dashboard import HX, sign_in
from tests.support.htmlparse import Page
from tests.support.receiver import Receiver


@pytest.fixture
def hooks_app(tmp_path):
    app = fresh_app(
        tmp_path,
        WTF_CSRF_ENABLED=False,
        OPENQR_WEBHOOK_ALLOW_HOSTS=frozenset({"127.0.0.1"}),
        OPENQR_WEBHOOK_INTERVAL=0.05,
    )
    yield app
    close_app(app)


@pytest.fixture
def web(hooks_app):
    client = hooks_app.test_client()
    sign_in(client, hooks_app)
    return client


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.down()


def error_beside(page: Page, field_id: str) -> None:
    assert page.has("small", id=f"{field_id}-error", class_="error"), f"no error beside {field_id}"


def hook_ids(page: Page) -> list[str]:
    """The webhook ids of the endpoint cards on the page."""
    return [
        a["id"].removeprefix("webhook-") for a in page.find_all("section") if "webhook" in a.get("class", "")
    ]


def test_empty_page_says_what_to_do(web):
    page = Page(web.get("/webhooks").text)
    assert "No webhooks yet" in page.text and page.has("input", name="url")
    assert [a["value"] for a in page.find_all("input", type="checkbox")] == [
        "scan",
        "code.created",
        "code.updated",
        "code.deleted",
    ]


def test_errors_sit_beside_their_field(web):
    response = web.post("/webhooks", data={"url": "http://10.1.2.3/in", "events": "scan"}, headers=HX)
    assert response.status_code == 400
    page = Page(response.text)
    error_beside(page, "webhook-url")
    assert "OPENQR_WEBHOOK_ALLOW_HOSTS" in page.text
    assert page.has("input", name="url", value="http://10.1.2.3/in")  # what was typed stays

    response = web.post("/webhooks", data={"url": "https://hooks.example.com/in"}, headers=HX)
    assert response.status_code == 400
    page = Page(response.text)
    error_beside(page, "webhook-events")
    assert "events must be a non-empty list" in page.text


def test_create_shows_the_secret_once_then_deliveries_and_delete(hooks_app, web, receiver):
    response = web.post(
        "/webhooks", data={"url": receiver.url, "events": ["scan", "code.created"]}, headers=HX
    )
    assert response.status_code == 201
    page = Page(response.text)
    assert page.has("code", id="new-secret-value")
    secret = next(word for word in page.text.split() if word.startswith("whsec_"))
    receiver.secret = secret
    assert secret not in web.get("/webhooks").text  # shown only once

    (hook_id,) = hook_ids(page)
    response = web.post(f"/webhooks/{hook_id}/test", headers=HX)
    assert response.status_code == 200 and "Test event queued" in Page(response.text).text
    assert "Waiting" in Page(web.get("/webhooks").text).text
    services(hooks_app).deliverer.run_once()
    assert receiver.requests and receiver.requests[0]["verified"]
    row = Page(web.get("/webhooks").text).text
    assert "1 test Delivered 200 1" in row

    receiver.answer = 500
    web.post(f"/webhooks/{hook_id}/test", headers=HX)
    time.sleep(0.1)  # the endpoint's spacing interval (0.05 s here) since the first request
    services(hooks_app).deliverer.run_once()
    assert "1 test Retrying 500 1 HTTP 500" in Page(web.get("/webhooks").text).text

    response = web.post(f"/webhooks/{hook_id}/delete", headers=HX)
    assert response.status_code == 200 and "No webhooks yet" in Page(response.text).text


def test_another_accounts_webhook_is_404(hooks_app, web, receiver):
    web.post("/webhooks", data={"url": receiver.url, "events": "scan"}, headers=HX)
    (hook_id,) = hook_ids(Page(web.get("/webhooks").text))
    stranger = hooks_app.test_client()
    sign_in(stranger, hooks_app, "stranger@example.org")
    assert "No webhooks yet" in Page(stranger.get("/webhooks").text).text
    for action in ("test", "delete"):
        assert stranger.post(f"/webhooks/{hook_id}/{action}").status_code == 404
    assert receiver.url in web.get("/webhooks").text
