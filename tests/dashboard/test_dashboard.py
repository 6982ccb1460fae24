"""The dashboard through the test client: what a person sees, HTMX fragments, CSRF, tenancy."""

from __future__ import annotations

import csv
import io
import re
import zipfile

import pytest

from openqr.auth.accounts import get_or_create_account
from openqr.codes import core as codes
from openqr.extensions import db
from tests.conftest import fresh_app, sign_in
from tests.support.htmlparse import Page

HX = {"HX-Request": "true"}


@pytest.fixture
def web(web_app):
    client = web_app.test_client()
    sign_in(client, web_app)
    return client


def make_code(app, email="owner@example.com", **fields) -> str:
    with app.app_context():
        account = get_or_create_account(email)
        db.session.commit()
        code, _ = codes.create_code(account, {"destination": "https://example.com/page", **fields})
        return code.id


def test_empty_state_says_what_to_do(web):
    page = Page(web.get("/codes").text)
    assert "No codes yet" in page.text
    assert "Create code" in page.text


def test_create_shows_row_with_short_url_and_counts(web):
    response = web.post(
        "/codes", data={"destination": "https://example.com/menu", "label": "Menu", "tags": "a, b"}
    )
    assert response.status_code == 303
    page = Page(web.get("/codes").text)
    assert "Menu" in page.text and "#a" in page.text and "#b" in page.text
    assert re.search(r"https://go\.test/[A-Za-z0-9]{7}", page.text)
    assert any(img.get("src", "").startswith("/codes/") for img in page.find_all("img"))
    assert "0 total" in page.text


def test_validation_message_is_the_apis_and_sits_beside_the_field(web, api):
    api_message = api.post("/v1/dynamic", json={"destination": "http://localhost/x"}).get_json()["message"]
    response = web.post("/codes", data={"destination": "http://localhost/x"}, headers=HX)
    assert response.status_code == 400
    page = Page(response.text)
    assert page.has("small", class_="error", id="new-destination-error")
    assert api_message in page.text
    assert page.has("input", name="destination", value="http://localhost/x")


def test_full_page_versus_fragment(web, web_app):
    make_code(web_app, label="Alpha")
    full = web.get("/codes?q=alpha")
    fragment = web.get("/codes?q=alpha", headers=HX)
    assert "<html" in full.text and "<html" not in fragment.text
    assert fragment.text.lstrip().startswith('<section id="results"')
    assert "Alpha" in Page(fragment.text).text
    assert "HX-Request" in full.headers["Vary"] and "HX-Request" in fragment.headers["Vary"]
    restore = web.get("/codes?q=alpha", headers={**HX, "HX-History-Restore-Request": "true"})
    assert "<html" in restore.text  # a history restore needs the whole page


def _varies_on_htmx(response) -> bool:
    return [v.strip() for v in response.headers.get("Vary", "").split(",")].count("HX-Request") == 1


@pytest.mark.parametrize("headers", [{}, HX], ids=["page", "htmx"])
def test_every_answer_that_differs_for_htmx_says_so_once(web, web_app, headers):
    """Pages, fragments, errors, redirects, deletes and sign-out: one `Vary: HX-Request` each."""
    code_id = make_code(web_app)
    answers = {
        "page": web.get("/codes", headers=headers),
        "not found": web.get("/codes/nope", headers=headers),
        "redirect": web.post(
            f"/codes/{code_id}/edit", data={"destination": "https://example.com/"}, headers=headers
        ),
        "delete": web.post(f"/codes/{code_id}/delete", headers=headers),
        "sign-out": web.post("/logout", headers=headers),
        "sign-in needed": web.get("/codes", headers=headers),
    }
    assert answers["not found"].status_code == 404
    assert answers["sign-in needed"].status_code == (204 if headers else 302)
    assert {name for name, response in answers.items() if not _varies_on_htmx(response)} == set()


@pytest.mark.parametrize(
    "path",
    ["/codes/{id}/edit", "/codes/{id}/row", "/codes/{id}", "/codes/bulk", "/folders", "/keys", "/webhooks"],
)
def test_every_partial_endpoint_is_a_full_page_without_htmx(web, web_app, path):
    code_id = make_code(web_app)
    response = web.get(path.format(id=code_id))
    assert response.status_code == 200
    assert Page(response.text).has("nav", **{"aria-label": "Main"})


def test_inline_edit_returns_only_the_row(web, web_app):
    code_id = make_code(web_app, label="Old")
    response = web.post(
        f"/codes/{code_id}/edit",
        headers=HX,
        data={
            "destination": "https://example.com/new",
            "label": "New",
            "slug": "fresh-slug",
            "tags": "x",
            "folder_id": "",
        },
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith(f'<li class="code-row" id="code-{code_id}"')
    assert "https://go.test/fresh-slug" in Page(response.text).text


def test_inline_edit_error_is_a_4xx_fragment(web, web_app):
    code_id = make_code(web_app)
    make_code(web_app, slug="taken-slug")
    response = web.post(
        f"/codes/{code_id}/edit",
        headers=HX,
        data={"destination": "https://example.com/", "slug": "taken-slug"},
    )
    assert response.status_code == 409
    page = Page(response.text)
    assert "<html" not in response.text
    assert "The slug 'taken-slug' is already taken." in page.text


def test_delete(web, web_app):
    code_id = make_code(web_app)
    response = web.post(f"/codes/{code_id}/delete", headers=HX)
    assert response.status_code == 200 and response.text == ""
    assert web.get(f"/codes/{code_id}").status_code == 404


def test_another_accounts_code_is_404(web, web_app):
    theirs = make_code(web_app, email="someone@example.org")
    for path in (
        f"/codes/{theirs}",
        f"/codes/{theirs}/edit",
        f"/codes/{theirs}/qr.png",
        f"/codes/{theirs}/scans.csv",
    ):
        assert web.get(path).status_code == 404, path
    assert web.post(f"/codes/{theirs}/delete").status_code == 404
    fragment = web.get(f"/codes/{theirs}", headers=HX)
    assert fragment.status_code == 404 and "<html" not in fragment.text
    assert "No such code." in Page(fragment.text).text


def test_htmx_posts_carry_the_pages_csrf_token_in_a_header(tmp_path):
    """Refusals without a token: tests/test_security.py (every form); here the header path works."""
    app = fresh_app(tmp_path)
    client = app.test_client()
    sign_in(client, app)
    page = Page(client.get("/codes").text)
    token = page.find_all("meta", name="csrf-token")[0]["content"]
    ok = client.post(
        "/codes", data={"destination": "https://example.com/"}, headers={**HX, "X-CSRFToken": token}
    )
    assert ok.status_code == 200
    with app.app_context():
        db.engine.dispose()


def test_no_inline_scripts_or_styles(web, web_app):
    code_id = make_code(web_app)
    for path in ("/codes", f"/codes/{code_id}", "/codes/bulk", "/keys", "/folders", "/webhooks"):
        page = Page(web.get(path).text)
        assert all(attrs.get("src") for tag, attrs in page.elements if tag == "script"), path
        assert not any(
            "style" in attrs or any(k.startswith("on") for k in attrs) for _t, attrs in page.elements
        )


def test_style_is_saved_and_preview_changes(web, web_app):
    code_id = make_code(web_app)
    before = Page(web.get(f"/codes/{code_id}").text).find_all("img", id="preview-img")[0]["src"]
    response = web.post(
        f"/codes/{code_id}/style",
        headers=HX,
        data={"dark": "#112233", "light": "#ffffff", "ecc": "H", "margin": "2"},
    )
    assert response.status_code == 200
    after = Page(response.text).find_all("img", id="preview-img")[0]["src"]
    assert after != before
    with web_app.app_context():
        assert codes.get_code(get_or_create_account("owner@example.com"), code_id).style["ecc"] == "H"
    bad = web.post(
        f"/codes/{code_id}/style",
        headers=HX,
        data={"dark": "#fefefe", "light": "#ffffff", "ecc": "M", "margin": "4"},
    )
    assert bad.status_code == 400 and "contrast" in Page(bad.text).text.lower()


def test_code_page_analytics_window_and_csv(web, web_app):
    code_id = make_code(web_app)
    page = Page(web.get(f"/codes/{code_id}?days=90").text)
    assert "Last 90 days" in page.text
    fragment = web.get(f"/codes/{code_id}?days=7", headers=HX)
    assert fragment.text.lstrip().startswith('<section class="card analytics"')
    assert fragment.text.count('class="bar"') == 7
    rows = list(csv.reader(io.StringIO(web.get(f"/codes/{code_id}/scans.csv?days=7").text)))
    assert rows[0] == ["section", "key", "name", "scans", "unique"]
    sections = [row[0] for row in rows[1:]]
    assert sections.count("day") == 7 and sections.count("hour") == 24 and sections.count("weekday") == 7


def test_bulk_preview_create_and_zip(web):
    text = (
        "destination,label,slug,tags\n"
        "https://example.com/a,Poster,,print|spring\nhttps://example.com/b,Poster,,x y\nnope"
    )
    preview = web.post("/codes/bulk", data={"lines": text, "action": "preview"})
    page = Page(preview.text)
    assert "The destination must be an absolute URL starting with http:// or https://." in page.text
    refused = web.post("/codes/bulk", data={"lines": text, "action": "create"})
    assert refused.status_code == 400
    created = web.post("/codes/bulk", data={"lines": "\n".join(text.splitlines()[:3]), "action": "create"})
    assert created.status_code == 201
    link = next(a["href"] for a in Page(created.text).find_all("a") if "export.zip" in a.get("href", ""))
    archive = zipfile.ZipFile(io.BytesIO(web.get(link).data))
    assert sorted(archive.namelist()) == ["Poster-2.png", "Poster.png", "codes.csv"]
    assert "print|spring" in archive.read("codes.csv").decode()


@pytest.mark.parametrize("count", [0, codes.MAX_BULK + 1])
def test_bulk_size_is_refused_with_the_apis_message(web, api, count):
    items = [{"destination": f"https://example.com/{i}"} for i in range(count)]
    refused = api.post("/v1/dynamic/bulk", json={"codes": items})
    assert refused.status_code == 400 and refused.get_json()["field"] == "codes"
    message = refused.get_json()["message"]
    assert f"1 to {codes.MAX_BULK} codes" in message and f"has {count}" in message
    lines = "\n".join(item["destination"] for item in items)
    page = web.post("/codes/bulk", data={"lines": lines, "action": "preview"})
    assert page.status_code == 400 and message in Page(page.text).text


def test_bulk_preview_flags_a_taken_slug_before_create(web, web_app):
    """The preview reports what the bulk API would: a slug another code already has."""
    make_code(web_app, slug="menu-table")
    text = "https://example.com/a,Table 1,menu-table\nhttps://example.com/b,Table 2,menu-table-2"
    page = Page(web.post("/codes/bulk", data={"lines": text, "action": "preview"}).text)
    assert "The slug 'menu-table' is already taken." in page.text
    assert "1 of 2 lines need fixing" in page.text


def test_folders_and_keys(web):
    assert web.post("/folders", data={"name": "  "}, headers=HX).status_code == 400
    web.post("/folders", data={"name": "Spring"}, headers=HX)
    assert Page(web.get("/folders").text).has("input", name="name", value="Spring")
    blank = web.post("/keys", data={"name": "  "}, headers=HX)
    assert blank.status_code == 400 and "Give the key a name" in Page(blank.text).text
    created = web.post("/keys", data={"name": "Robot"}, headers=HX)
    plain = re.search(r"oqr_live_[A-Za-z0-9_-]+", created.text).group(0)
    assert plain not in web.get("/keys").text  # shown once
    key_form = [
        f["action"] for f in Page(web.get("/keys").text).find_all("form") if "revoke" in f.get("action", "")
    ]
    web.post(key_form[0], headers=HX)
    assert web.get("/v1/dynamic", headers={"Authorization": f"Bearer {plain}"}).status_code == 401


def test_times_are_readable_with_iso_title(web, web_app):
    code_id = make_code(web_app)
    page = Page(web.get(f"/codes/{code_id}").text)
    times = page.find_all("time")
    assert times and times[0]["datetime"].endswith("Z") and "just now" in page.text


def test_a_nul_in_a_list_filter_is_a_readable_400(web, api):
    """PostgreSQL cannot hold a NUL in text: the list refuses it before the query, as the API does."""
    response = web.get("/codes?q=a%00b")
    assert response.status_code == 400
    assert api.get("/v1/dynamic?q=a%00b").get_json()["message"] in Page(response.text).text
