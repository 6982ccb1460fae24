"""The code page's style section as a person uses it: every style control, the verdict beside
the preview, refusals in words, and print downloads."""

from __future__ import annotations

import pytest

from openqr.auth.accounts import get_or_create_account
from openqr.codes import core as codes
from tests.conftest import sign_in
from tests.dashboard.test_dashboard import make_code
from tests.images.raster import decode, pdf_image, png_image
from tests.support.htmlparse import Page

HX = {"HX-Request": "true"}
FORM = {
    "dark": "#112233",
    "light": "#ffffff",
    "ecc": "Q",
    "margin": "4",
    "dots": "classy-rounded",
    "corners": "extra-rounded",
    "corner_dots": "dot",
    "corner_color": "#b71c1c",
    "gradient_type": "linear",
    "gradient_to": "#0d47a1",
    "gradient_rotation": "45",
    "frame_text": "SCAN ME",
    "frame_color": "#112233",
}


@pytest.fixture
def web(web_app):
    client = web_app.test_client()
    sign_in(client, web_app)
    return client


@pytest.fixture
def code_id(web_app):
    return make_code(web_app)


def saved_style(app, code_id) -> dict:
    with app.app_context():
        return codes.get_code(get_or_create_account("owner@example.com"), code_id).style


def verdict(page: Page) -> dict:
    (found,) = [attrs for tag, attrs in page.elements if attrs.get("id") == "verdict"]
    return found


def test_every_style_control_is_offered(web, code_id):
    page = Page(web.get(f"/codes/{code_id}").text)
    for name in ("dots", "corners", "corner_dots", "gradient_type"):
        assert page.has("select", id=name, name=name)
    options = [a.get("value") for t, a in page.elements if t == "option"]
    assert {
        "square",
        "rounded",
        "dots",
        "classy",
        "classy-rounded",
        "extra-rounded",
        "dot",
        "linear",
        "radial",
    } <= set(options)
    for name in ("corner_color", "gradient_to", "frame_color"):
        assert page.has("input", id=name, type="color")
    assert page.has("input", id="frame_text", maxlength="32")
    assert page.has("input", id="gradient_rotation", min="0", max="359")
    assert verdict(page)["class"] == "verdict verdict-ok"
    assert "Scans." in page.text and "zxing-cpp" in page.text


def test_the_controls_save_a_full_style_and_the_preview_scans(web, web_app, code_id):
    response = web.post(f"/codes/{code_id}/style", headers=HX, data=FORM)
    assert response.status_code == 200
    page = Page(response.text)
    assert "Saved" in page.text and verdict(page)["class"] == "verdict verdict-ok"
    assert saved_style(web_app, code_id) == {
        "dark": "#112233",
        "light": "#ffffff",
        "ecc": "Q",
        "margin": 4,
        "dots": "classy-rounded",
        "corners": "extra-rounded",
        "corner_dots": "dot",
        "corner_color": "#b71c1c",
        "gradient": {"type": "linear", "to": "#0d47a1", "rotation": 45},
        "frame": {"text": "SCAN ME", "color": None},  # the dark colour: "same as dark"
    }
    (preview,) = page.find_all("img", id="preview-img")
    image = png_image(web.get(preview["src"]).data)
    assert image.height > image.width  # framed
    short = codes.short_url
    with web_app.app_context():
        url = short(codes.get_code(get_or_create_account("owner@example.com"), code_id))
    assert [r.text for r in decode(image)] == [url]
    # The page again shows the saved choices.
    again = Page(web.get(f"/codes/{code_id}").text)
    assert "selected" in again.find_all("option", value="classy-rounded")[0]
    assert again.find_all("input", id="frame_text")[0]["value"] == "SCAN ME"


def test_an_unscannable_style_is_not_saved_and_says_why(web, web_app, code_id):
    pale = {**FORM, "gradient_to": "#f4f4f4"}
    response = web.post(f"/codes/{code_id}/style", headers=HX, data=pale)
    assert response.status_code == 400
    page = Page(response.text)
    assert verdict(page)["class"] == "verdict verdict-bad" and verdict(page)["role"] == "alert"
    assert "Not saved:" in page.text and "gradient (#f4f4f4)" in page.text and "contrast" in page.text
    assert saved_style(web_app, code_id) == {}
    # What was chosen stays in the controls, to be corrected.
    assert page.find_all("input", id="gradient_to")[0]["value"] == "#f4f4f4"
    rings = web.post(
        f"/codes/{code_id}/style", headers=HX, data={**FORM, "corners": "dot", "corner_dots": "square"}
    )
    assert rings.status_code == 400 and 'corner_dots "dot"' in Page(rings.text).text


def test_no_gradient_and_no_frame_clear_them(web, web_app, code_id):
    web.post(f"/codes/{code_id}/style", headers=HX, data=FORM)
    web.post(
        f"/codes/{code_id}/style",
        headers=HX,
        data={**FORM, "gradient_type": "", "frame_text": " ", "corner_color": "#112233"},
    )
    style = saved_style(web_app, code_id)
    assert (style["gradient"], style["frame"], style["corner_color"]) == (None, None, None)


def test_print_downloads_are_offered_and_decode(web, web_app, code_id):
    page = Page(web.get(f"/codes/{code_id}").text)
    assert page.has("select", id="size_mm", name="size_mm")
    assert "Download PDF" in page.text and "Download EPS" in page.text
    response = web.get(f"/codes/{code_id}/qr.pdf?download=1&size_mm=30")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].endswith('-30mm.pdf"')
    assert decode(pdf_image(response.data, dpi=300))
    eps = web.get(f"/codes/{code_id}/qr.eps?download=1&size_mm=30")
    assert eps.status_code == 200 and eps.mimetype == "application/postscript"
