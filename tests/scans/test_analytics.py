"""GET /v1/dynamic/{id}/scans: the arithmetic of the guide's analytics, exactly."""

from __future__ import annotations

import datetime as dt
import re
import sys
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from openqr.models import utcnow
from openqr.scans.classify import ScanEvent
from openqr.scans.store import store_scans
from tests.support.guide import python_example


def seed(app, code_id, rows):
    """rows: (days_ago, country, device, referrer, count)."""
    now = utcnow().replace(hour=12, minute=0, second=0, microsecond=0)
    events = [
        ScanEvent(code_id, now - dt.timedelta(days=ago), country, device, referrer)
        for ago, country, device, referrer, count in rows
        for _ in range(count)
    ]
    with app.app_context():
        assert store_scans(events) == len(events)


def scans_of(api, code_id, days=None):
    path = f"/v1/dynamic/{code_id}/scans" + (f"?days={days}" if days is not None else "")
    response = api.get(path)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_no_scans_gives_zero_filled_window(api):
    code = api.create(slug="spring-sale")
    body = scans_of(api, code["id"])
    assert body["id"] == code["id"] and body["slug"] == "spring-sale"
    assert body["short_url"] == "https://go.test/spring-sale" and body["destination"] == code["destination"]
    assert body["scans"] == {"total": 0, "last7": 0, "topCountry": None, "topDevice": None}
    analytics = body["analytics"]
    assert analytics["days_window"] == 30 and analytics["total"] == 0 and analytics["window_total"] == 0
    assert len(analytics["daily"]) == 30 and all(d["n"] == 0 for d in analytics["daily"])
    assert analytics["by_country"] == analytics["by_device"] == analytics["by_referrer"] == []


@pytest.mark.parametrize("days", [1, 7, 14, 30, 365])
def test_daily_has_exactly_days_buckets_ending_today_utc(api, days):
    code = api.create()
    daily = scans_of(api, code["id"], days)["analytics"]["daily"]
    today = utcnow().date()
    assert len(daily) == days
    assert daily[-1]["day"] == today.isoformat()
    assert daily[0]["day"] == (today - dt.timedelta(days=days - 1)).isoformat()
    assert [d["day"] for d in daily] == sorted(d["day"] for d in daily)


@pytest.mark.parametrize("days", ["0", "366", "-3", "abc", "7.5"])
def test_days_out_of_range_is_400(api, days):
    code = api.create()
    response = api.get(f"/v1/dynamic/{code['id']}/scans?days={days}")
    assert response.status_code == 400
    assert response.get_json()["field"] == "days"


def test_window_versus_lifetime_and_last7(app, api):
    code = api.create()
    seed(
        app,
        code["id"],
        [
            (0, "GB", "mobile", None, 5),  # today
            (6, "GB", "desktop", "t.co", 3),  # last day of the trailing week
            (7, "IE", "mobile", None, 4),  # just outside last7
            (13, "IE", "tablet", None, 2),  # last day of a 14-day window
            (14, "FR", "mobile", None, 10),  # outside 14 days
            (400, "US", "mobile", None, 7),  # outside every window
        ],
    )
    body = scans_of(api, code["id"], 14)
    assert body["scans"]["total"] == 31 and body["analytics"]["total"] == 31
    assert body["scans"]["last7"] == 8
    analytics = body["analytics"]
    assert analytics["window_total"] == 14
    assert sum(d["n"] for d in analytics["daily"]) == 14
    by_day = {d["day"]: d["n"] for d in analytics["daily"]}
    today = utcnow().date()
    assert by_day[today.isoformat()] == 5
    assert by_day[(today - dt.timedelta(days=13)).isoformat()] == 2
    assert analytics["by_country"] == [{"value": "GB", "n": 8}, {"value": "IE", "n": 6}]
    assert analytics["by_device"] == [
        {"value": "mobile", "n": 9},
        {"value": "desktop", "n": 3},
        {"value": "tablet", "n": 2},
    ]
    assert analytics["by_referrer"] == [{"value": "Direct", "n": 11}, {"value": "t.co", "n": 3}]
    # Lifetime leaders: FR has 10, more than GB's 8; mobile leads devices.
    assert body["scans"]["topCountry"] == "FR" and body["scans"]["topDevice"] == "mobile"


def test_unknown_never_leads_and_missing_values_are_labelled(app, api):
    code = api.create()
    seed(app, code["id"], [(0, None, None, None, 9), (1, "DE", None, "news.example.org", 1)])
    body = scans_of(api, code["id"], 7)
    assert body["scans"]["topCountry"] == "DE" and body["scans"]["topDevice"] is None
    analytics = body["analytics"]
    assert analytics["by_country"] == [{"value": "Unknown", "n": 9}, {"value": "DE", "n": 1}]
    assert analytics["by_device"] == [{"value": "Unknown", "n": 10}]
    assert analytics["by_referrer"] == [{"value": "Direct", "n": 9}, {"value": "news.example.org", "n": 1}]


def test_top_lists_keep_eight_ordered_by_count_then_value(app, api):
    code = api.create()
    countries = ["AT", "BE", "CH", "DE", "ES", "FR", "GB", "IE", "IT", "NL"]
    seed(
        app,
        code["id"],
        [(0, cc, "mobile", f"r{i}.example", i + 1) for i, cc in enumerate(countries)]
        + [(0, "ZA", "mobile", None, 10)],
    )
    analytics = scans_of(api, code["id"], 1)["analytics"]
    assert len(analytics["by_country"]) == 8 and len(analytics["by_referrer"]) == 8
    assert analytics["by_country"][:3] == [
        {"value": "NL", "n": 10},
        {"value": "ZA", "n": 10},
        {"value": "IT", "n": 9},
    ]


def test_scans_of_another_code_are_not_mixed_in(app, api):
    one, two = api.create(), api.create()
    seed(app, one["id"], [(0, "GB", "mobile", None, 3)])
    assert scans_of(api, two["id"])["scans"]["total"] == 0
    assert scans_of(api, one["id"])["scans"]["total"] == 3


def test_scans_of_unknown_code_is_404(api):
    assert api.get("/v1/dynamic/missing/scans").status_code == 404


def test_the_guides_python_reporting_script_runs(app, api, capsys, monkeypatch):
    """The guide's Python example, read from the guide, with `requests` answered by the test client."""
    code = api.create()
    seed(app, code["id"], [(2, "GB", "mobile", "t.co", 4), (0, "IE", "desktop", None, 1)])
    script = python_example()
    placeholder = re.search(r'code_id = "([^"]+)"', script).group(1)

    def get(url, params=None, headers=None):
        path = urlsplit(url).path.replace(placeholder, code["id"])
        response = api.client.get(path, query_string=params, headers=headers)
        return SimpleNamespace(json=response.get_json)

    monkeypatch.setenv("OPENQR_KEY", api.key)
    monkeypatch.setitem(sys.modules, "requests", SimpleNamespace(get=get))
    exec(compile(script, "openqr-dynamic-codes-guide.txt", "exec"), {})
    busiest = (utcnow().date() - dt.timedelta(days=2)).isoformat()
    assert capsys.readouterr().out.splitlines() == [
        "Lifetime: 5 | 14d: 5",
        f"Busiest day: {busiest} (4)",
        "Top country: GB (4)",
        "Top referrer: t.co (4)",
    ]
