"""The dashboard's filters follow the API's rule: a refused filter is said, not silently cut."""

from __future__ import annotations

import pytest

from openqr.codes import filters
from tests.conftest import sign_in
from tests.dashboard.test_dashboard import HX, make_code
from tests.support.htmlparse import Page

LONG_TAG = "t" * 100


@pytest.fixture
def web(web_app):
    client = web_app.test_client()
    sign_in(client, web_app)
    return client


def _alert(html: str) -> str:
    """The text of the filter refusal a person reads."""
    start = html.index('role="alert">', html.index("data-filter-error")) + len('role="alert">')
    return Page(html[start : html.index("</p>", start)]).text


@pytest.mark.parametrize(("page", "target"), [("/codes", "results"), ("/overview", "overview")])
def test_a_hundred_character_tag_is_refused_with_the_apis_message(web, api, web_app, page, target):
    make_code(web_app, tags=["menu"])
    api_message = api.get(f"/v1/dynamic?tag={LONG_TAG}").get_json()["message"]
    assert f"at most {filters.MAX_TAG_LENGTH} characters" in api_message
    full = web.get(f"{page}?tag={LONG_TAG}")
    assert full.status_code == 400
    assert _alert(full.text) == api_message
    assert Page(full.text).has("form", role="search")  # the filters stay, to be corrected
    # An HTMX filter change gets the block it swaps in place, so the next change finds its target.
    fragment = web.get(f"{page}?tag={LONG_TAG}", headers=HX)
    assert fragment.status_code == 400
    assert Page(fragment.text).elements[0][1]["id"] == target
    assert _alert(fragment.text) == api_message


def test_the_codes_page_shows_a_refused_search_as_typed_and_lists_nothing(web, web_app):
    make_code(web_app, label="Dinner")
    typed = "m" * (filters.MAX_FILTER_LENGTH + 1)
    response = web.get(f"/codes?q={typed}")
    assert response.status_code == 400
    page = Page(response.text)
    assert page.find_all("input", id="q")[0]["value"] == typed  # not cut to the limit
    assert "Dinner" not in page.text and not page.has("ul", id="code-list")
    assert f"at most {filters.MAX_FILTER_LENGTH} characters" in _alert(response.text)


def test_a_tag_filter_is_folded_on_the_dashboard_too(web, web_app):
    make_code(web_app, label="Tagged", tags=["spring menu"])
    make_code(web_app, label="Other", tags=["print"])
    page = Page(web.get("/codes?tag=Spring%20%20MENU").text)
    assert "Tagged" in page.text and "Other" not in page.text


def test_the_overview_csv_refuses_a_long_tag_readably(web):
    response = web.get(f"/overview/scans.csv?tag={LONG_TAG}")
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert f"at most {filters.MAX_TAG_LENGTH} characters" in Page(response.text).text
