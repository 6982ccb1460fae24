"""Smart destinations through /v1: each field accepted, returned, refused with its field name;
PATCH semantics; ended codes (410 or fallback); the destination history and its sources."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from openqr.auth.accounts import get_or_create_account
from openqr.codes import core as codes
from openqr.extensions import db
from openqr.models import Code, DestinationChange
from openqr.services import services
from tests.support.servers import PHONE

DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)


def _future(seconds: int = 3600) -> str:
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


FULL = {
    "rules": [{"when": {"device": ["mobile"], "os": ["ios"]}, "destination": "https://example.com/ios"}],
    "split": [
        {"destination": "https://example.com/a", "weight": 70},
        {"destination": "https://example.com/b", "weight": 30},
    ],
    "max_scans": 1000,
    "fallback_url": "https://example.com/over",
    "utm": {"source": "poster", "medium": "qr", "campaign": "spring"},
}


def test_every_field_is_accepted_and_returned(api):
    expires = _future(86400)
    at = _future(7200)
    body = api.create(
        **FULL, expires_at=expires, schedule=[{"at": at, "destination": "https://example.com/later"}]
    )
    assert body["rules"] == FULL["rules"]
    assert body["split"] == FULL["split"]
    assert body["schedule"] == [{"at": at, "destination": "https://example.com/later"}]
    assert body["expires_at"] == expires
    assert body["max_scans"] == 1000
    assert body["fallback_url"] == "https://example.com/over"
    assert body["utm"] == {"source": "poster", "medium": "qr", "campaign": "spring"}
    assert body["status"] == "active"
    assert api.get(f"/v1/dynamic/{body['id']}").get_json() == body
    listed = api.get("/v1/dynamic").get_json()["codes"]
    assert listed == [body]


def test_a_plain_code_has_every_smart_field_null(api):
    body = api.create()
    for name in ("rules", "split", "schedule", "expires_at", "max_scans", "fallback_url", "utm"):
        assert body[name] is None


def test_times_with_an_offset_come_back_in_utc(api):
    body = api.create(expires_at="2099-01-01T10:00:00+02:00")
    assert body["expires_at"] == "2099-01-01T08:00:00Z"


BAD = [
    ("rules", {"when": {}, "destination": "https://example.com/x"}),
    ("rules", [{"when": {}, "destination": "https://example.com/x"}]),
    ("rules", [{"when": {"browser": ["chrome"]}, "destination": "https://example.com/x"}]),
    ("rules", [{"when": {"device": []}, "destination": "https://example.com/x"}]),
    ("rules", [{"when": {"device": ["phone"]}, "destination": "https://example.com/x"}]),
    ("rules", [{"when": {"os": ["beos"]}, "destination": "https://example.com/x"}]),
    ("rules", [{"when": {"country": ["Germany"]}, "destination": "https://example.com/x"}]),
    ("rules", [{"when": {"language": ["e1"]}, "destination": "https://example.com/x"}]),
    ("rules", [{"when": {"device": ["mobile"]}, "destination": "http://127.0.0.1/admin"}]),
    ("rules", [{"when": {"device": ["mobile"]}}]),
    ("rules", [{"when": {"device": ["mobile"]}, "destination": "https://example.com/x"}] * 21),
    ("split", [{"destination": "https://example.com/a", "weight": 50}]),
    ("split", [{"destination": "https://example.com/a", "weight": 1}] * 6),
    (
        "split",
        [
            {"destination": "https://example.com/a", "weight": 0},
            {"destination": "https://b.com", "weight": 1},
        ],
    ),
    (
        "split",
        [
            {"destination": "https://example.com/a", "weight": 101},
            {"destination": "https://b.com", "weight": 1},
        ],
    ),
    (
        "split",
        [
            {"destination": "https://example.com/a", "weight": 1.5},
            {"destination": "https://b.com", "weight": 1},
        ],
    ),
    (
        "split",
        [
            {"destination": "https://example.com/a", "weight": True},
            {"destination": "https://b.com", "weight": 1},
        ],
    ),
    (
        "split",
        [{"destination": "http://localhost/", "weight": 1}, {"destination": "https://b.com", "weight": 1}],
    ),
    ("schedule", [{"at": "2001-01-01T00:00:00Z", "destination": "https://example.com/x"}]),
    ("schedule", [{"at": "2099-01-01T00:00:00", "destination": "https://example.com/x"}]),
    ("schedule", [{"at": "next tuesday", "destination": "https://example.com/x"}]),
    ("schedule", [{"at": "2099-01-01T00:00:00Z", "destination": "ftp://example.com/x"}]),
    ("schedule", [{"at": "2099-01-01T00:00:00Z", "destination": "https://example.com/x"}] * 21),
    ("expires_at", "tomorrow"),
    ("expires_at", 1700000000),
    ("max_scans", 0),
    ("max_scans", "100"),
    ("max_scans", 2**40),
    ("fallback_url", "javascript:alert(1)"),
    ("fallback_url", "http://10.0.0.1/"),
    ("utm", {"source": ""}),
    ("utm", {"source": "x" * 101}),
    ("utm", {"id": "x"}),
    ("utm", {"source": 5}),
    ("utm", ["source"]),
]


@pytest.mark.parametrize(("field", "value"), BAD)
def test_bad_values_are_a_400_naming_the_field(api, field, value):
    for response in (
        api.post("/v1/dynamic", json={"destination": "https://example.com/", field: value}),
        api.patch(f"/v1/dynamic/{api.create()['id']}", json={field: value}),
        api.post("/v1/dynamic/bulk", json={"codes": [{"destination": "https://example.com/", field: value}]}),
    ):
        assert response.status_code == 400, response.get_json()
        body = response.get_json()
        assert body.get("field") == field or body["details"][0]["field"] == field, body


def test_bulk_items_take_smart_fields(api):
    response = api.post(
        "/v1/dynamic/bulk",
        json={
            "codes": [
                {"destination": "https://example.com/1", **FULL},
                {"destination": "https://example.com/2"},
            ]
        },
    )
    assert response.status_code == 201
    first, second = response.get_json()["codes"]
    assert first["split"] == FULL["split"] and first["utm"] == FULL["utm"]
    assert second["split"] is None


def test_patch_replaces_a_list_whole_and_null_clears(api):
    code = api.create(**FULL)
    new_rules = [{"when": {"country": ["de", "AT"]}, "destination": "https://example.com/de"}]
    body = api.patch(f"/v1/dynamic/{code['id']}", json={"rules": new_rules}).get_json()
    assert body["rules"] == [{"when": {"country": ["DE", "AT"]}, "destination": "https://example.com/de"}]
    assert body["split"] == FULL["split"]  # untouched: only the fields sent change
    body = api.patch(f"/v1/dynamic/{code['id']}", json={"split": None, "utm": None}).get_json()
    assert body["split"] is None and body["utm"] is None
    assert body["rules"] == [{"when": {"country": ["DE", "AT"]}, "destination": "https://example.com/de"}]
    assert body["destination"] == code["destination"]  # the primary URL stays
    body = api.patch(
        f"/v1/dynamic/{code['id']}", json={"rules": None, "max_scans": None, "fallback_url": None}
    )
    assert all(body.get_json()[name] is None for name in ("rules", "max_scans", "fallback_url"))


def test_unknown_field_is_still_a_400(api):
    code = api.create()
    response = api.patch(f"/v1/dynamic/{code['id']}", json={"rotate": True})
    assert response.status_code == 400 and response.get_json()["field"] == "rotate"


def test_an_expired_code_is_ended_and_answers_410_with_a_page(api, client):
    code = api.create(expires_at="2020-01-01T00:00:00Z")
    assert code["status"] == "ended"
    response = client.get(f"/{code['slug']}", headers={"User-Agent": PHONE})
    assert response.status_code == 410
    assert "This code has ended" in response.get_data(as_text=True)
    assert api.get(f"/v1/dynamic/{code['id']}/scans").get_json()["scans"]["total"] == 0


def test_an_ended_code_with_a_fallback_redirects_there(api, client):
    code = api.create(expires_at="2020-01-01T00:00:00Z", fallback_url="https://example.com/over")
    for _ in range(2):  # the Flask view, then the fast path
        response = client.get(f"/{code['slug']}", headers={"User-Agent": PHONE})
        assert response.status_code == 302
        assert response.headers["Location"] == "https://example.com/over"


def test_the_scan_cap_ends_the_code(api, client):
    code = api.create(max_scans=3, fallback_url="https://example.com/sold-out")
    locations = [
        client.get(f"/{code['slug']}", headers={"User-Agent": PHONE}).headers["Location"] for _ in range(5)
    ]
    assert locations == ["https://example.com/page"] * 3 + ["https://example.com/sold-out"] * 2
    body = api.get(f"/v1/dynamic/{code['id']}").get_json()
    assert body["status"] == "ended"
    assert api.get(f"/v1/dynamic/{code['id']}/scans").get_json()["scans"]["total"] == 3
    # Raising the cap brings it back.
    assert api.patch(f"/v1/dynamic/{code['id']}", json={"max_scans": 10}).get_json()["status"] == "active"
    assert (
        client.get(f"/{code['slug']}", headers={"User-Agent": PHONE}).headers["Location"]
        == code["destination"]
    )


def test_a_disabled_code_stays_disabled_whatever_its_fallback(app, api, client, runner):
    code = api.create(fallback_url="https://example.com/over", expires_at="2020-01-01T00:00:00Z")
    runner.invoke(args=["codes", "disable", code["slug"]])
    assert api.get(f"/v1/dynamic/{code['id']}").get_json()["status"] == "disabled"
    assert client.get(f"/{code['slug']}").status_code == 410


def _history(api, code_id):
    response = api.get(f"/v1/dynamic/{code_id}/history")
    assert response.status_code == 200
    return response.get_json()["history"]


def test_history_lists_every_destination_change_newest_first_with_its_source(app, api, runner):
    code = api.create("https://example.com/one")
    api.patch(f"/v1/dynamic/{code['id']}", json={"label": "no destination change"})
    api.patch(f"/v1/dynamic/{code['id']}", json={"destination": "https://example.com/two"})
    result = runner.invoke(args=["codes", "set-destination", code["slug"], "https://example.com/three"])
    assert result.exit_code == 0, result.output
    with app.test_request_context():
        account = get_or_create_account("owner@example.com")
        codes.update_code(account, code["id"], {"destination": "https://example.com/four"}, source="mcp")
    history = _history(api, code["id"])
    assert [(h["destination"], h["source"]) for h in history] == [
        ("https://example.com/four", "mcp"),
        ("https://example.com/three", "cli"),
        ("https://example.com/two", "api"),
        ("https://example.com/one", "api"),
    ]
    assert all(h["at"].endswith("Z") for h in history)


def test_the_cli_refuses_a_bad_destination(api, runner):
    code = api.create()
    result = runner.invoke(args=["codes", "set-destination", code["slug"], "http://192.168.1.1/"])
    assert result.exit_code != 0 and "set-destination" not in result.output
    assert api.get(f"/v1/dynamic/{code['id']}").get_json()["destination"] == code["destination"]


def test_history_of_another_accounts_code_is_404(api, other_api):
    code = api.create()
    assert other_api.get(f"/v1/dynamic/{code['id']}/history").status_code == 404


def test_a_due_schedule_entry_becomes_the_destination_once(app, api, client):
    at = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=2)
    code = api.create(
        "https://example.com/before",
        schedule=[
            {"at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "destination": "https://example.com/after"},
            {"at": _future(86400), "destination": "https://example.com/much-later"},
        ],
    )
    assert client.get(f"/{code['slug']}").headers["Location"] == "https://example.com/before"
    time.sleep(max(at.timestamp() - time.time(), 0) + 0.05)
    # The redirect honours it from its second, with nothing written yet.
    assert client.get(f"/{code['slug']}").headers["Location"] == "https://example.com/after"
    with app.app_context():
        assert db.session.get(Code, code["id"]).destination == "https://example.com/before"
        runner = services(app).scheduler
        assert runner.run_once() == 1
        assert runner.run_once() == 0  # exactly once
        assert db.session.get(Code, code["id"]).destination == "https://example.com/after"
    body = api.get(f"/v1/dynamic/{code['id']}").get_json()
    assert body["destination"] == "https://example.com/after"
    assert [entry["destination"] for entry in body["schedule"]] == ["https://example.com/much-later"]
    history = _history(api, code["id"])
    assert next((h["destination"], h["source"], h["at"]) for h in history) == (
        "https://example.com/after",
        "schedule",
        at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    with app.app_context():
        assert db.session.query(DestinationChange).filter_by(source="schedule").count() == 1


def test_reading_a_code_applies_its_due_entries(api):
    at = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=1)
    code = api.create(
        schedule=[{"at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "destination": "https://example.com/n"}]
    )
    time.sleep(max(at.timestamp() - time.time(), 0) + 0.05)
    body = api.get(f"/v1/dynamic/{code['id']}").get_json()
    assert body["destination"] == "https://example.com/n" and body["schedule"] is None
    assert [h["source"] for h in _history(api, code["id"])] == ["schedule", "api"]
