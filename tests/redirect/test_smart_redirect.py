"""The redirect of a smart code: rules by device, OS, country and language with real browsers'
agents, the weighted split, UTM, and where each scan went (`by_destination`)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from openqr.codes import smart
from openqr.scans.classify import Visitor, language_of
from tests.support.servers import PHONE as IPHONE_SAFARI

DESKTOP_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
MAC_SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15"
)
ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36"
)
IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"

RULES = [
    {"when": {"os": ["ios"]}, "destination": "https://apps.apple.com/app/x"},
    {"when": {"os": ["android"]}, "destination": "https://play.google.com/store/x"},
    {"when": {"device": ["tablet", "desktop"], "country": ["DE"]}, "destination": "https://example.de/"},
    {"when": {"language": ["fr"]}, "destination": "https://example.fr/"},
]


def _go(client, slug, agent, method="GET", **headers):
    response = client.open(f"/{slug}", method=method, headers={"User-Agent": agent, **headers})
    assert response.status_code == 302, response.status_code
    return response.headers["Location"]


@pytest.mark.parametrize(
    ("agent", "headers", "expected"),
    [
        (IPHONE_SAFARI, {}, "https://apps.apple.com/app/x"),
        (IPAD, {"CF-IPCountry": "DE"}, "https://apps.apple.com/app/x"),  # first match wins
        (ANDROID_CHROME, {}, "https://play.google.com/store/x"),
        (DESKTOP_CHROME, {"CF-IPCountry": "DE"}, "https://example.de/"),
        (DESKTOP_CHROME, {"CF-IPCountry": "US"}, "https://example.com/page"),
        (
            MAC_SAFARI,
            {"CF-IPCountry": "us", "Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5"},
            "https://example.fr/",
        ),
        (MAC_SAFARI, {"Accept-Language": "en-US,fr;q=0.9"}, "https://example.com/page"),
    ],
)
def test_first_matching_rule_decides(api, client, agent, headers, expected):
    code = api.create(rules=RULES)
    for _ in range(2):  # the Flask view, then the fast path: the same decision
        assert _go(client, code["slug"], agent, **headers) == expected


def test_country_from_the_address_when_no_header(app, api, client):
    code = api.create(rules=[{"when": {"country": ["DE"]}, "destination": "https://example.de/"}])
    # 85.214.132.117 is a German address in the offline table.
    response = client.get(
        f"/{code['slug']}",
        headers={"User-Agent": DESKTOP_CHROME},
        environ_base={"REMOTE_ADDR": "85.214.132.117"},
    )
    assert response.headers["Location"] == "https://example.de/"


def test_utm_is_appended_unless_present(api, client):
    code = api.create(
        "https://example.com/page?utm_source=print&x=1#top",
        utm={"source": "poster", "medium": "qr", "campaign": "spring sale"},
        rules=[{"when": {"os": ["ios"]}, "destination": "https://example.com/ios"}],
    )
    assert (
        _go(client, code["slug"], DESKTOP_CHROME)
        == "https://example.com/page?utm_source=print&x=1&utm_medium=qr&utm_campaign=spring+sale#top"
    )
    assert _go(client, code["slug"], IPHONE_SAFARI) == (
        "https://example.com/ios?utm_source=poster&utm_medium=qr&utm_campaign=spring+sale"
    )


def test_split_spreads_scans_and_by_destination_counts_them_without_utm(api, client):
    code = api.create(
        split=[
            {"destination": "https://example.com/a", "weight": 50},
            {"destination": "https://example.com/b", "weight": 50},
        ],
        utm={"source": "qr"},
        rules=[{"when": {"device": ["mobile"]}, "destination": "https://example.com/m"}],
    )
    seen = Counter(_go(client, code["slug"], DESKTOP_CHROME) for _ in range(60))
    assert set(seen) == {"https://example.com/a?utm_source=qr", "https://example.com/b?utm_source=qr"}
    _go(client, code["slug"], IPHONE_SAFARI)
    _go(client, code["slug"], GOOGLEBOT)  # a bot: redirected, not counted
    _go(client, code["slug"], IPHONE_SAFARI, method="HEAD")  # HEAD: not counted
    by_destination = api.get(f"/v1/dynamic/{code['id']}/scans").get_json()["analytics"]["by_destination"]
    assert {row["value"]: row["n"] for row in by_destination} == {
        "https://example.com/a": seen["https://example.com/a?utm_source=qr"],
        "https://example.com/b": seen["https://example.com/b?utm_source=qr"],
        "https://example.com/m": 1,
    }


def test_bots_and_head_go_where_a_person_would(api, client):
    code = api.create(rules=RULES)
    assert _go(client, code["slug"], IPHONE_SAFARI, method="HEAD") == "https://apps.apple.com/app/x"
    bot_ios = IPHONE_SAFARI + " facebookexternalhit/1.1"
    assert _go(client, code["slug"], bot_ios) == "https://apps.apple.com/app/x"
    assert api.get(f"/v1/dynamic/{code['id']}/scans").get_json()["scans"]["total"] == 0


def test_a_plain_code_records_its_destination(api, client):
    code = api.create("https://example.com/plain")
    for _ in range(3):
        _go(client, code["slug"], IPHONE_SAFARI)
    api.patch(f"/v1/dynamic/{code['id']}", json={"destination": "https://example.com/new"})
    _go(client, code["slug"], IPHONE_SAFARI)
    by_destination = api.get(f"/v1/dynamic/{code['id']}/scans").get_json()["analytics"]["by_destination"]
    assert by_destination == [
        {"value": "https://example.com/plain", "n": 3},
        {"value": "https://example.com/new", "n": 1},
    ]


def test_split_of_70_30_over_10000_scans_lands_within_2_points():
    """The decision with a seeded generator: 10,000 scans of a 70/30 split."""
    plan = smart.compile_plan(
        {
            "split": [
                {"destination": "https://example.com/a", "weight": 70},
                {"destination": "https://example.com/b", "weight": 30},
            ]
        }
    )
    rng = random.Random(20261125).random
    counts = Counter(
        smart.decide(plan, "https://example.com/", Visitor(), 0.0, rng=rng).destination for _ in range(10_000)
    )
    share = counts["https://example.com/a"] / 10_000
    print(f"70/30 split over 10,000 scans: {share:.2%} / {1 - share:.2%}")
    assert abs(share - 0.70) <= 0.02
    assert counts["https://example.com/a"] + counts["https://example.com/b"] == 10_000


def test_decide_order_ended_then_rules_then_split_then_schedule():
    smart_fields = {
        "rules": [{"when": {"device": ["mobile"]}, "destination": "https://example.com/rule"}],
        "schedule": [{"at": "2030-01-01T00:00:00Z", "destination": "https://example.com/scheduled"}],
        "expires_at": "2031-01-01T00:00:00Z",
        "fallback_url": "https://example.com/fallback",
    }
    plan = smart.compile_plan(smart_fields)
    at = {"before": 1893455999.0, "due": 1893456000.0, "ended": 1924992000.0}
    phone, desk = Visitor(device="mobile"), Visitor(device="desktop")
    assert (
        smart.decide(plan, "https://example.com/", phone, at["before"]).location == "https://example.com/rule"
    )
    assert smart.decide(plan, "https://example.com/", desk, at["before"]).location == "https://example.com/"
    assert (
        smart.decide(plan, "https://example.com/", desk, at["due"]).location
        == "https://example.com/scheduled"
    )
    ended = smart.decide(plan, "https://example.com/", phone, at["ended"])
    assert ended.ended and ended.location == "https://example.com/fallback" and ended.destination is None
    split = smart.compile_plan(
        {**smart_fields, "split": [{"destination": "https://s.com/", "weight": 1}] * 2}
    )
    assert smart.decide(split, "https://example.com/", desk, at["due"]).location == "https://s.com/"


@pytest.mark.parametrize(
    ("header", "language"),
    [("de-AT,en;q=0.8", "de"), ("EN", "en"), ("fr;q=0.9", "fr"), ("*", None), ("", None), ("1234", None)],
)
def test_language_is_the_primary_subtag_of_the_first_entry(header, language):
    assert language_of(header) == language
