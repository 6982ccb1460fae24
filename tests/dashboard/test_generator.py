"""The Generator page as a person sees it: a type to pick, its fields, a live preview that decodes to
the exact text, downloads, and the API's messages in words a person reads."""

from __future__ import annotations

import base64
import io

import zxingcpp
from PIL import Image

from openqr.dashboard.code_page import PRINT_SIZES_MM
from tests.dashboard.test_dashboard import web as web  # the signed-in client fixture
from tests.images import raster
from tests.support.htmlparse import Page

HX = {"HX-Request": "true"}
# Every style control as the page sends it (a corner or frame colour equal to dark means "as dark").
STYLE = {
    **{"dark": "#000000", "light": "#ffffff", "ecc": "M", "margin": "4", "size": "1024", "size_mm": "40"},
    **{"dots": "square", "corners": "square", "corner_dots": "square", "corner_color": "#000000"},
    **{"gradient_type": "", "gradient_to": "#0d47a1", "gradient_rotation": "0"},
    **{"frame_text": "", "frame_color": "#000000"},
}
WIFI = {"type": "wifi", "ssid": "Café; Guest", "password": "p:ss,word", "encryption": "WPA", "hidden": "1"}
WIFI_TEXT = "WIFI:T:WPA;S:Café\\; Guest;P:p\\:ss\\,word;H:true;;"


def _decode(data: bytes) -> str:
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(data)).convert("RGB"))
    assert len(found) == 1
    return found[0].text


def _preview_image(page: Page) -> bytes:
    (img,) = [img for img in page.find_all("img") if img.get("src", "").startswith("data:image/png;base64,")]
    return base64.b64decode(img["src"].removeprefix("data:image/png;base64,"))


def test_the_nav_leads_to_the_generator_and_marks_it(web):
    page = Page(web.get("/codes").text)
    assert page.has("a", href="/generator")
    page = Page(web.get("/generator").text)
    assert {"href": "/generator", "aria-current": "page"} in page.find_all("a", href="/generator")


def test_every_type_is_a_tab_and_the_url_form_comes_first(web):
    page = Page(web.get("/generator").text)
    tabs = [a for a in page.find_all("a") if a.get("href", "").startswith("/generator?type=")]
    assert [a["href"].split("=")[1] for a in tabs] == [
        *("url", "text", "email", "phone", "sms", "whatsapp", "wifi", "geo", "vcard")
    ]
    assert all(a.get("hx-push-url") == "true" and a.get("hx-target") == "#generator" for a in tabs)
    (url,) = page.find_all("input", id="g-url")
    assert url["name"] == "url" and "required" in url
    assert page.has("input", type="hidden", name="type", value="url")
    assert "Fill in the URL fields to see your code here." in page.text


def test_the_wifi_form_has_its_fields_a_live_preview_and_downloads(web):
    page = Page(web.get("/generator?type=wifi").text)
    # The password is needed unless the network is open: not marked optional.
    assert (
        "Network name (SSID)" in page.text and "Password Needed unless the security is nopass." in page.text
    )
    assert page.has("input", id="g-ssid", name="ssid", type="text")
    options = [o["value"] for o in page.find_all("option") if o.get("value") in ("WPA", "WEP", "nopass")]
    assert options == ["WPA", "WEP", "nopass"]
    assert page.has("input", id="g-hidden", type="checkbox", name="hidden")
    (form,) = page.find_all("form", id="generator-form")
    assert form["hx-post"] == "/generator" and form["hx-target"] == "#generator-preview"
    assert "change" in form["hx-trigger"] and "keyup changed delay:" in form["hx-trigger"]
    downloads = [b for b in page.find_all("button") if b.get("formaction") == "/generator/download"]
    assert [(b["name"], b["value"]) for b in downloads] == [
        ("format", fmt) for fmt in ("png", "svg", "pdf", "eps")
    ]
    assert [o["value"] for o in page.find_all("option") if o.get("value", "").isdigit()][-5:] == [
        str(mm) for mm in PRINT_SIZES_MM
    ]
    assert page.has("input", id="dark", type="color") and page.has("select", id="ecc")


def test_switching_type_with_htmx_swaps_only_the_generator(web):
    response = web.get("/generator?type=vcard", headers=HX)
    assert "<html" not in response.text and "HX-Request" in response.headers["Vary"]
    page = Page(response.text)
    assert page.has("textarea", id="g-address", name="address")
    assert page.has("a", href="/generator?type=vcard", **{"aria-current": "page"})


def test_an_unknown_type_falls_back_to_a_url(web):
    page = Page(web.get("/generator?type=fax").text)
    assert page.has("input", type="hidden", name="type", value="url")


def test_the_preview_decodes_to_the_exact_text_and_shows_it(web):
    response = web.post("/generator", data={**WIFI, **STYLE}, headers=HX)
    assert response.status_code == 200 and "<html" not in response.text
    page = Page(response.text)
    assert _decode(_preview_image(page)) == WIFI_TEXT
    assert WIFI_TEXT in page.text


def test_an_open_network_drops_a_password_typed_before(web):
    body = {**WIFI, "encryption": "nopass", "ssid": "Guest"}
    page = Page(web.post("/generator", data={**body, **STYLE}, headers=HX).text)
    assert _decode(_preview_image(page)) == "WIFI:T:nopass;S:Guest;H:true;;"


def test_a_blank_form_asks_for_the_fields_instead_of_an_error(web):
    response = web.post("/generator", data={"type": "vcard", **STYLE}, headers=HX)
    assert response.status_code == 200
    assert "Fill in the Contact (vCard) fields" in Page(response.text).text


def test_a_refusal_is_the_apis_message_in_the_fields_words(web, api):
    body = {**WIFI, "password": "short"}
    api_message = api.post("/v1/qr", json={**body, "hidden": True}).get_json()["message"]
    response = web.post("/generator", data={**body, **STYLE}, headers=HX)
    assert response.status_code == 400
    page = Page(response.text)
    expected = api_message.replace("'password'", "Password")
    assert expected in page.text and expected.startswith("Password of a WPA network")
    assert page.has("a", href="#g-password")
    assert not [img for img in page.find_all("img") if img.get("src", "").startswith("data:")]


def test_without_javascript_the_page_comes_back_with_the_message_beside_the_field(web):
    response = web.post("/generator", data={"type": "geo", "lat": "91", "lng": "0", **STYLE})
    assert response.status_code == 400 and "<html" in response.text
    page = Page(response.text)
    assert page.has("input", id="g-lat", name="lat", value="91", **{"aria-invalid": "true"})
    assert page.has("small", class_="error", id="g-lat-error")
    assert "Latitude must be a number from -90 to 90" in page.text


def test_a_bad_colour_pair_is_explained(web):
    response = web.post(
        "/generator", data={**WIFI, **STYLE, "dark": "#999999", "light": "#ffffff"}, headers=HX
    )
    assert response.status_code == 400
    assert "contrast" in Page(response.text).text


def test_downloads_are_the_apis_image_as_a_file(web, api):
    response = web.post("/generator/download", data={**WIFI, **STYLE, "size": "512", "format": "png"})
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.headers["Content-Disposition"] == 'attachment; filename="qr-wifi-512.png"'
    assert response.headers["Cache-Control"] == "no-store"
    assert _decode(response.data) == WIFI_TEXT
    assert Image.open(io.BytesIO(response.data)).size == (512, 512)
    same = api.post("/v1/qr", json={**WIFI, "hidden": True, "size": 512, "style": {"ecc": "M", "margin": 4}})
    assert response.data == same.data
    svg = web.post("/generator/download", data={**WIFI, **STYLE, "format": "svg", "size_mm": "30"})
    assert svg.mimetype == "image/svg+xml" and svg.text.startswith("<svg") and 'width="30mm"' in svg.text
    assert 'filename="qr-wifi-30mm.svg"' in svg.headers["Content-Disposition"]


def test_a_pdf_download_is_a_print_file_of_that_width_that_scans(web):
    raster.need("pdf")
    styled = {"dots": "rounded", "corners": "extra-rounded", "frame_text": "Free Wi-Fi"}
    response = web.post(
        "/generator/download", data={**WIFI, **STYLE, **styled, "format": "pdf", "size_mm": "60"}
    )
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert 'filename="qr-wifi-60mm.pdf"' in response.headers["Content-Disposition"]
    width_pt, _height = raster.pdf_page_size(response.data)
    assert round(width_pt / 72 * 25.4) == 60
    assert [found.text for found in raster.decode(raster.pdf_image(response.data))] == [WIFI_TEXT]


def test_a_download_that_cannot_be_made_shows_the_page_with_the_reason(web):
    response = web.post(
        "/generator/download", data={"type": "phone", "number": "call me", **STYLE, "format": "png"}
    )
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert "Phone number must be a phone number" in Page(response.text).text


def test_the_generator_needs_a_signed_in_person(web_app):
    response = web_app.test_client().get("/generator")
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]
