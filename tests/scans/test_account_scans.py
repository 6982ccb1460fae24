"""GET /v1/scans and the new analytics fields: unique visitors, time of day, time zones, filters."""

from __future__ import annotations

import datetime as dt
import ipaddress

import pytest

from openqr.models import utcnow
from openqr.scans.classify import ScanEvent
from openqr.scans.store import store_scans

VISITORS = [
    ("81.2.69.142", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"),
    ("81.2.69.160", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0"),
    ("2a02:c7f:1234::1", "Mozilla/5.0 (Linux; Android 14; Pixel 8) Mobile Safari/537.36"),
]


def scan_as(app, slug, address, agent, times=1):
    client = app.test_client()
    for _ in range(times):
        response = client.get(
            f"/{slug}", headers={"User-Agent": agent}, environ_base={"REMOTE_ADDR": address}
        )
        assert response.status_code == 302


def store(app, code_id, hours_ago_counts):
    """hours_ago_counts: [(datetime UTC, count)] stored as scans (no visitor)."""
    events = [
        ScanEvent(code_id, at, "GB", "mobile", None) for at, count in hours_ago_counts for _ in range(count)
    ]
    with app.app_context():
        assert store_scans(events) == len(events)


def account_scans(api, **query):
    response = api.get("/v1/scans", query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_three_visitors_scanning_ten_times_each_are_thirty_scans_and_three_unique(app, api):
    code = api.create(slug="menu")
    other = api.create(slug="poster")
    for address, agent in VISITORS:
        scan_as(app, "menu", address, agent, times=10)
    scan_as(app, "poster", *VISITORS[0])  # the same person on another code is that code's visitor
    analytics = api.get(f"/v1/dynamic/{code['id']}/scans?days=7").get_json()["analytics"]
    today = analytics["daily"][-1]
    assert today["day"] == utcnow().date().isoformat()
    assert (today["n"], today["unique"]) == (30, 3)
    assert analytics["window_total"] == 30 and analytics["window_unique"] == 3
    assert api.get(f"/v1/dynamic/{other['id']}/scans").get_json()["analytics"]["window_unique"] == 1
    account = account_scans(api, days=7)
    assert (account["daily"][-1]["n"], account["daily"][-1]["unique"]) == (31, 4)  # sum over codes
    assert account["window_total"] == 31 and account["window_unique"] == 4


def test_an_address_behind_a_trusted_proxy_is_the_forwarded_one(tmp_path):
    from tests.conftest import Api, close_app, fresh_app, new_key

    app = fresh_app(tmp_path, OPENQR_TRUSTED_PROXIES=(ipaddress.ip_network("10.0.0.0/8"),))
    try:
        api = Api(app.test_client(), new_key(app))
        code = api.create(slug="menu")
        client = app.test_client()
        for address, agent in VISITORS:
            for _ in range(10):
                headers = {"User-Agent": agent, "X-Forwarded-For": address}
                client.get("/menu", headers=headers, environ_base={"REMOTE_ADDR": "10.1.2.3"})
        analytics = api.get(f"/v1/dynamic/{code['id']}/scans?days=1").get_json()["analytics"]
        assert analytics["daily"] == [{"day": utcnow().date().isoformat(), "n": 30, "unique": 3}]
    finally:
        close_app(app)


def test_account_scans_totals_top_codes_and_breakdowns(app, api):
    now = utcnow().replace(minute=0, second=0, microsecond=0)
    a, b, c = api.create(slug="aaa"), api.create(slug="bbb", label="Shop window"), api.create(slug="ccc")
    store(app, a["id"], [(now, 3), (now - dt.timedelta(days=40), 50)])
    store(app, b["id"], [(now, 5), (now - dt.timedelta(days=2, hours=1), 2)])
    body = account_scans(api)
    assert body["days_window"] == 30 and body["tz"] == "UTC"
    assert body["total"] == 60 and body["window_total"] == 10
    assert len(body["daily"]) == 30 and body["daily"][-1]["n"] == 8
    assert body["by_code"] == [
        {"id": b["id"], "slug": "bbb", "label": "Shop window", "n": 7},
        {"id": a["id"], "slug": "aaa", "label": None, "n": 3},
    ]
    assert c["id"] not in [row["id"] for row in body["by_code"]]  # no scans in the window
    assert body["by_country"] == [{"value": "GB", "n": 10}]
    assert body["by_device"] == [{"value": "mobile", "n": 10}]
    assert body["by_referrer"] == [{"value": "Direct", "n": 10}]
    assert [h["hour"] for h in body["by_hour"]] == list(range(24))
    assert [d["weekday"] for d in body["by_weekday"]] == list(range(7))
    assert sum(h["n"] for h in body["by_hour"]) == sum(d["n"] for d in body["by_weekday"]) == 10
    assert next(h for h in body["by_hour"] if h["hour"] == now.hour)["n"] == 8
    assert account_scans(api, days=365)["window_total"] == 60


def test_top_codes_keep_twenty(app, api):
    now = utcnow()
    items = [{"destination": "https://example.com/", "slug": f"code-{i:02d}"} for i in range(23)]
    ids = [code["id"] for code in api.post("/v1/dynamic/bulk", json={"codes": items}).get_json()["codes"]]
    for i, code_id in enumerate(ids):
        store(app, code_id, [(now, i + 1)])
    by_code = account_scans(api, days=1)["by_code"]
    assert len(by_code) == 20
    assert [row["n"] for row in by_code] == list(range(23, 3, -1))


def test_folder_and_tag_narrow_the_view(app, api, other_api):
    now = utcnow()
    folder = api.post("/v1/folders", json={"name": "Events"}).get_json()
    in_folder = api.create(slug="in-folder", folder_id=folder["id"])
    tagged = api.create(slug="tagged", tags=["print"])
    store(app, in_folder["id"], [(now, 4)])
    store(app, tagged["id"], [(now, 6)])
    narrowed = account_scans(api, folder_id=folder["id"])
    assert narrowed["window_total"] == 4 and narrowed["total"] == 4
    assert [row["slug"] for row in narrowed["by_code"]] == ["in-folder"]
    assert narrowed["by_country"] == [{"value": "GB", "n": 4}]
    by_tag = account_scans(api, tag="print")
    assert by_tag["window_total"] == 6 and [row["slug"] for row in by_tag["by_code"]] == ["tagged"]
    assert account_scans(api, tag="no-such-tag")["window_total"] == 0
    # Another account's folder is as absent as a missing one; its tags name none of our codes.
    response = other_api.get(f"/v1/scans?folder_id={folder['id']}")
    assert response.status_code == 404 and response.get_json()["field"] == "folder_id"
    assert account_scans(other_api, tag="print")["window_total"] == 0
    assert account_scans(other_api)["total"] == 0


@pytest.mark.parametrize("path", ["/v1/scans", "/v1/dynamic/{id}/scans"])
@pytest.mark.parametrize("days", ["0", "366", "-3", "abc", "7.5", "٣", ""])
def test_days_is_checked_by_one_rule(api, path, days):
    code = api.create()
    response = api.get(path.format(id=code["id"]) + f"?days={days}")
    assert response.status_code == 400
    assert response.get_json()["field"] == "days"
    assert response.get_json()["message"] == "'days' must be a whole number from 1 to 365."


@pytest.mark.parametrize("path", ["/v1/scans", "/v1/dynamic/{id}/scans"])
@pytest.mark.parametrize("tz", ["Mars/Olympus", "utc+2", "../../etc/passwd", "Europe/", "x" * 100])
def test_unknown_time_zone_is_400(api, path, tz):
    code = api.create()
    response = api.get(path.format(id=code["id"]), query_string={"tz": tz})
    assert response.status_code == 400 and response.get_json()["field"] == "tz"


def test_time_zone_shifts_days_hours_and_weekdays_and_hides_unique(app, api):
    code = api.create(slug="menu")
    scan_as(app, "menu", *VISITORS[0])
    utc_now = utcnow()
    # A scan at 02:30 UTC yesterday is 18:30 or 19:30 the day before in Los Angeles (04:30 when
    # the test runs in the 02:00 UTC hour: the live scan above must fall in another hour).
    hour = 4 if utc_now.hour == 2 else 2
    yesterday_0230 = dt.datetime.combine(utc_now.date() - dt.timedelta(days=1), dt.time(hour, 30))
    store(app, code["id"], [(yesterday_0230, 5)])
    la = api.get(f"/v1/dynamic/{code['id']}/scans?days=7&tz=America/Los_Angeles").get_json()["analytics"]
    assert la["tz"] == "America/Los_Angeles"
    assert la["window_unique"] is None and all(d["unique"] is None for d in la["daily"])
    from zoneinfo import ZoneInfo

    local = yesterday_0230.replace(tzinfo=dt.UTC).astimezone(ZoneInfo("America/Los_Angeles"))
    assert next(d for d in la["daily"] if d["day"] == local.date().isoformat())["n"] == 5
    assert (
        la["daily"][-1]["day"] == utc_now.replace(tzinfo=dt.UTC).astimezone(local.tzinfo).date().isoformat()
    )
    assert next(h for h in la["by_hour"] if h["hour"] == local.hour)["n"] == 5
    assert next(d for d in la["by_weekday"] if d["weekday"] == local.weekday())["n"] >= 5
    utc = api.get(f"/v1/dynamic/{code['id']}/scans?days=7").get_json()["analytics"]
    assert next(h for h in utc["by_hour"] if h["hour"] == hour)["n"] == 5
    assert utc["window_unique"] == 1
    # A zone at UTC+0 all year keeps the unique counts.
    assert api.get("/v1/scans?days=7&tz=Atlantic/Reykjavik").get_json()["window_unique"] == 1


def test_deleting_a_code_takes_its_scans_out_of_the_account(app, api):
    keep, gone = api.create(slug="keep"), api.create(slug="gone")
    scan_as(app, "keep", *VISITORS[0])
    scan_as(app, "gone", *VISITORS[1], times=4)
    assert account_scans(api)["total"] == 5
    assert api.delete(f"/v1/dynamic/{gone['id']}").status_code == 200
    body = account_scans(api)
    assert body["total"] == 1 and body["window_total"] == 1 and body["window_unique"] == 1
    assert sum(h["n"] for h in body["by_hour"]) == 1
    assert body["by_code"] == [{"id": keep["id"], "slug": "keep", "label": None, "n": 1}]
