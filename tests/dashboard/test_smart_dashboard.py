"""The code page's smart-destinations form through the test client: saving, errors beside their
field, the history source, chart marks, the Destinations table and Ended codes in the list."""

from __future__ import annotations

import re

from openqr.auth.accounts import get_or_create_account
from openqr.codes import core as codes
from openqr.extensions import db
from openqr.models import Code
from tests.dashboard.test_dashboard import HX, make_code
from tests.dashboard.test_dashboard import web as web
from tests.support.htmlparse import Page
from tests.support.servers import PHONE

FORM = {
    "rule-0-device": ["mobile"],
    "rule-0-os": ["ios", "android"],
    "rule-0-country": "de, at",
    "rule-0-language": "",
    "rule-0-destination": "https://example.com/app",
    "rule-1-country": "",
    "rule-1-language": "",
    "rule-1-destination": "",
    "split-0-destination": "https://example.com/a",
    "split-0-weight": "70",
    "split-1-destination": "https://example.com/b",
    "split-1-weight": "30",
    "split-2-destination": "",
    "split-2-weight": "",
    "schedule-0-at": "2099-05-01T09:30",
    "schedule-0-destination": "https://example.com/may",
    "expires_at": "2099-12-31T23:00",
    "max_scans": "500",
    "fallback_url": "https://example.com/over",
    "utm-source": "poster",
    "utm-campaign": "spring",
}


def _saved(app, code_id) -> dict:
    with app.app_context():
        return db.session.get(Code, code_id).smart


def test_the_form_saves_every_field(web, web_app):
    code_id = make_code(web_app)
    response = web.post(f"/codes/{code_id}/smart", data=FORM, headers=HX)
    assert response.status_code == 200
    assert "Saved" in Page(response.text).text
    assert _saved(web_app, code_id) == {
        "rules": [
            {
                "when": {"device": ["mobile"], "os": ["ios", "android"], "country": ["DE", "AT"]},
                "destination": "https://example.com/app",
            }
        ],
        "split": [
            {"destination": "https://example.com/a", "weight": 70},
            {"destination": "https://example.com/b", "weight": 30},
        ],
        "schedule": [{"at": "2099-05-01T09:30:00Z", "destination": "https://example.com/may"}],
        "expires_at": "2099-12-31T23:00:00Z",
        "max_scans": 500,
        "fallback_url": "https://example.com/over",
        "utm": {"source": "poster", "campaign": "spring"},
    }
    page = web.get(f"/codes/{code_id}").text
    parsed = Page(page)
    assert parsed.find_all("input", id="rule-0-destination")[0]["value"] == "https://example.com/app"
    assert parsed.find_all("input", id="schedule-0-at")[0]["value"] == "2099-05-01T09:30"
    assert "checked" in parsed.find_all("input", name="rule-0-os", value="android")[0]


def test_blank_fields_clear_everything(web, web_app):
    code_id = make_code(web_app)
    web.post(f"/codes/{code_id}/smart", data=FORM, headers=HX)
    blank = {name: "" for name in FORM if not name.endswith(("-device", "-os"))}
    assert web.post(f"/codes/{code_id}/smart", data=blank, headers=HX).status_code == 200
    assert _saved(web_app, code_id) is None


def test_each_error_shows_beside_its_own_part_and_nothing_is_saved(web, web_app):
    code_id = make_code(web_app)
    bad = {
        **FORM,
        "split-1-weight": "500",
        "max_scans": "0",
        "utm-source": "x" * 101,
        "fallback_url": "ftp://x",
    }
    response = web.post(f"/codes/{code_id}/smart", data=bad, headers=HX)
    assert response.status_code == 400
    html = response.text
    for field, words in (
        ("split", "weight"),
        ("max_scans", "at least 1"),
        ("utm", "100"),
        ("fallback_url", "http"),
    ):
        match = re.search(rf'id="smart-{field}-error"[^>]*>([^<]+)<', html)
        assert match and words in match.group(1), (field, match)
    assert 'aria-describedby="smart-max_scans-error' in html
    assert "rules" not in re.findall(r'id="smart-(\w+)-error"', html)
    assert _saved(web_app, code_id) is None


def test_dashboard_changes_are_noted_with_their_source(web, web_app):
    code_id = make_code(web_app)
    web.post(
        f"/codes/{code_id}/edit", data={"destination": "https://example.com/new", "label": ""}, headers=HX
    )
    with web_app.test_request_context():
        account = get_or_create_account("owner@example.com")
        history = codes.history(account, code_id)
    assert [(h["destination"], h["source"]) for h in history] == [
        ("https://example.com/new", "dashboard"),
        ("https://example.com/page", "api"),
    ]


def test_chart_marks_changes_and_the_destinations_table_counts_scans(web, web_app):
    code_id = make_code(web_app)
    web.post(
        f"/codes/{code_id}/edit", data={"destination": "https://example.com/new", "label": ""}, headers=HX
    )
    with web_app.app_context():
        slug = db.session.get(Code, code_id).slug
    for _ in range(2):
        web_app.test_client().get(f"/{slug}", headers={"User-Agent": PHONE})
    html = web.get(f"/codes/{code_id}").text
    marks = re.findall(r'<g class="change" tabindex="0"[^>]*><title>([^<]+)</title>', html)
    assert len(marks) == 2
    assert "destination changed to https://example.com/new (by the dashboard)" in marks[-1]
    table = re.search(r'data-breakdown="destination">(.*?)</table>', html, re.S).group(1)
    assert re.findall(r"<td>([^<]+)</td>\s*<td class=\"num\">(\d+)</td>", table) == [
        ("https://example.com/new", "2")
    ]


def test_ended_codes_are_marked_in_the_list(web, web_app):
    live = make_code(web_app, label="Running")
    ended = make_code(web_app, label="Finished", expires_at="2020-01-01T00:00:00Z")
    html = web.get("/codes").text
    rows = dict(re.findall(r'<li class="code-row" id="code-(\w+)">(.*?)</li>', html, re.S))
    assert 'data-status="ended">Ended<' in rows[ended]
    assert "data-status" not in rows[live]
    page = Page(web.get(f"/codes/{ended}").text)
    assert page.find_all("span", **{"data-status": "ended"})
