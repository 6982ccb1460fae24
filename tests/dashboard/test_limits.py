"""Pages show the limits the rule modules enforce: templates read them, never type them."""

from __future__ import annotations

import re
from pathlib import Path

from openqr.auth import tokens
from openqr.codes import core as codes
from openqr.codes import filters, smart
from openqr.images import render as qr
from tests.dashboard.test_dashboard import make_code
from tests.dashboard.test_dashboard import web as web
from tests.support.htmlparse import Page

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
# A number typed where a bound belongs: an input's bounds, or "2 to 5" in the text.
LITERAL_BOUND = re.compile(r"\b(?:min|max|minlength|maxlength)=\"\d|\b\d+ to \d+\b")


def test_no_template_types_a_limit():
    found = [
        f"{path.relative_to(TEMPLATES)}: {match.group(0)}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for match in LITERAL_BOUND.finditer(path.read_text())
    ]
    assert found == []


def test_the_literal_check_finds_a_typed_limit():
    assert LITERAL_BOUND.search('<input type="number" min="0" max="16">')
    assert LITERAL_BOUND.search("(2 to 5 destinations)")
    assert not LITERAL_BOUND.search('<input max="{{ limits.margin_max }}">')


def _input(page: Page, input_id: str) -> dict:
    return page.find_all("input", id=input_id)[0]


def test_the_code_page_shows_the_rules_bounds(web, web_app):
    page = Page(web.get(f"/codes/{make_code(web_app)}").text)
    assert (_input(page, "margin")["min"], _input(page, "margin")["max"]) == (
        str(qr.MARGIN_MIN),
        str(qr.MARGIN_MAX),
    )
    assert f"{smart.MIN_SPLIT} to {smart.MAX_SPLIT} destinations" in page.text
    weight = _input(page, "split-0-weight")
    assert (weight["min"], weight["max"]) == (str(smart.MIN_WEIGHT), str(smart.MAX_WEIGHT))
    assert _input(page, "max_scans")["min"] == str(smart.MIN_SCANS)
    assert _input(page, "utm-source")["maxlength"] == str(smart.MAX_UTM_LENGTH)


def test_a_changed_rule_changes_the_page(web, web_app, monkeypatch):
    """The context processor reads the rule modules at each render, so the page follows them."""
    monkeypatch.setattr(qr, "MARGIN_MAX", 9)
    monkeypatch.setattr(smart, "MIN_SPLIT", 3)
    page = Page(web.get(f"/codes/{make_code(web_app)}").text)
    assert _input(page, "margin")["max"] == "9"
    assert f"3 to {smart.MAX_SPLIT} destinations" in page.text
    assert len(page.find_all("div", **{"class": "smart-row split"})) == 3  # the rule's least, blank


def test_the_codes_bulk_and_sign_in_pages_show_the_rules_bounds(web, web_app):
    codes_page = Page(web.get("/codes").text)
    assert _input(codes_page, "q")["maxlength"] == str(filters.MAX_FILTER_LENGTH)
    assert f"random {codes.RANDOM_SLUG_LENGTH}-character slug" in codes_page.text
    assert f"Up to {codes.MAX_BULK} lines" in Page(web.get("/codes/bulk").text).text
    sent = Page(web_app.test_client().post("/login", data={"email": "new@example.com"}).text)
    assert f"within {tokens.MAX_AGE // 60} minutes" in sent.text
