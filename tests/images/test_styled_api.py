"""Styled codes over the API: saved styles are proven before they are stored, every image route
serves every format with a strong ETag, and refusals are 400s naming the field."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from openqr.extensions import db
from openqr.models import Code
from tests.images.raster import decode, eps_image, pdf_image, pdf_page_size, png_image

STYLE = {
    "dots": "rounded",
    "corners": "extra-rounded",
    "corner_dots": "dot",
    "corner_color": "#b71c1c",
    "gradient": {"type": "linear", "to": "#0d47a1", "rotation": 30},
    "frame": {"text": "SCAN ME"},
}
PALE = {"dots": "dots", "gradient": {"type": "linear", "to": "#f0f0f0"}}


def stored_codes(app) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(Code)).scalar()


def assert_unscannable(response, said: str) -> None:
    assert response.status_code == 400, response.get_json()
    body = response.get_json()
    assert (body["error"], body["field"]) == ("unscannable", "style")
    assert said in body["message"]


def test_a_styled_code_is_saved_and_its_image_is_drawn_in_its_style(api):
    code = api.create(style=STYLE)
    assert code["style"] == {**STYLE, "frame": {"text": "SCAN ME", "color": None}}
    response = api.get(f"/v1/dynamic/{code['id']}/qr", query_string={"size": 600})
    assert response.status_code == 200 and response.mimetype == "image/png"
    image = png_image(response.data)
    assert image.width == 600 and image.height > 600  # the frame's words under the code
    assert [r.text for r in decode(image)] == [code["short_url"]]


@pytest.mark.parametrize(
    ("fmt", "media", "draw"),
    [("pdf", "application/pdf", pdf_image), ("eps", "application/postscript", eps_image)],
)
def test_print_formats_of_a_code_decode_to_its_short_url(api, fmt, media, draw):
    code = api.create(style=STYLE)
    response = api.get(f"/v1/dynamic/{code['id']}/qr", query_string={"format": fmt, "size_mm": 30})
    assert response.status_code == 200 and response.mimetype == media
    assert response.headers["ETag"].startswith('"')
    assert [r.text for r in decode(draw(response.data, dpi=400))] == [code["short_url"]]


def test_qr_takes_pdf_with_size_mm_and_answers_304_to_its_etag(api):
    query = {"data": "https://go.test/print", "format": "pdf", "size_mm": 25}
    first = api.get("/v1/qr", query_string=query)
    assert first.status_code == 200 and first.mimetype == "application/pdf"
    assert pdf_page_size(first.data)[0] == pytest.approx(25 * 72 / 25.4, abs=0.006)
    again = api.get("/v1/qr", query_string=query)
    assert again.data == first.data and again.headers["ETag"] == first.headers["ETag"]
    cached = api.get("/v1/qr", query_string=query, headers={"If-None-Match": first.headers["ETag"]})
    assert cached.status_code == 304 and cached.data == b""
    other = api.get("/v1/qr", query_string={**query, "size_mm": 26})
    assert other.headers["ETag"] != first.headers["ETag"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"format": "webp"}, "format"),
        ({"format": "pdf", "size_mm": 9}, "size_mm"),
        ({"format": "svg", "size_mm": 1001}, "size_mm"),
        ({"format": "png", "size_mm": 40}, "size_mm"),
        ({"format": "eps", "size_mm": "big"}, "size_mm"),
    ],
)
def test_bad_image_parameters_are_400_naming_them(api, query, field):
    response = api.get("/v1/qr", query_string={"data": "https://go.test/x", **query})
    assert response.status_code == 400
    body = response.get_json()
    assert (body["error"], body["field"]) == ("invalid_parameter", field)


@pytest.mark.parametrize(
    ("style", "field"),
    [
        ({"dots": "stars"}, "style.dots"),
        ({"gradient": {"type": "conic", "to": "#000000"}}, "style.gradient.type"),
        ({"frame": {"text": "x" * 33}}, "style.frame.text"),
        ({"frame": {"text": "日本"}}, "style.frame.text"),
        ({"corner_color": "red"}, "style.corner_color"),
    ],
)
def test_bad_style_fields_are_400_naming_them_and_nothing_is_stored(app, api, style, field):
    response = api.post("/v1/dynamic", json={"destination": "https://example.com/a", "style": style})
    assert response.status_code == 400
    assert (response.get_json()["error"], response.get_json()["field"]) == ("invalid_style", field)
    assert stored_codes(app) == 0


def test_an_unscannable_style_is_refused_on_create_and_nothing_is_stored(app, api):
    response = api.post("/v1/dynamic", json={"destination": "https://example.com/a", "style": PALE})
    assert_unscannable(response, "gradient (#f0f0f0)")
    assert stored_codes(app) == 0
    low = api.post("/v1/dynamic", json={"destination": "https://example.com/a", "style": {"dark": "#aaaaaa"}})
    assert_unscannable(low, "too little contrast")
    assert stored_codes(app) == 0


def test_an_unscannable_patch_leaves_the_saved_style(app, api):
    code = api.create(style={"dots": "rounded"})
    response = api.patch(f"/v1/dynamic/{code['id']}", json={"style": PALE, "label": "new"})
    assert_unscannable(response, "contrast")
    again = api.get(f"/v1/dynamic/{code['id']}").get_json()
    assert again["style"] == {"dots": "rounded"} and again["label"] is None
    rings = api.patch(f"/v1/dynamic/{code['id']}", json={"style": {"corners": "dot"}})
    assert_unscannable(rings, 'corner_dots "dot"')


def test_bulk_items_take_styles_and_one_unscannable_item_stores_nothing(app, api):
    good = {"destination": "https://example.com/1", "style": STYLE}
    response = api.post("/v1/dynamic/bulk", json={"codes": [good, good]})
    assert response.status_code == 201, response.get_json()
    assert all(code["style"]["dots"] == "rounded" for code in response.get_json()["codes"])
    before = stored_codes(app)
    response = api.post(
        "/v1/dynamic/bulk", json={"codes": [good, {"destination": "https://example.com/2", "style": PALE}]}
    )
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "invalid_items"
    assert [(d["index"], d["field"], d["error"]) for d in body["details"]] == [(1, "style", "unscannable")]
    assert stored_codes(app) == before


def test_a_style_the_decoder_cannot_read_is_refused(app, api, monkeypatch):
    # The decoder itself is the judge: when it reads nothing, nothing is saved.
    from openqr.images import proof

    monkeypatch.setattr(proof.zxingcpp, "read_barcodes", lambda *args, **kwargs: [])
    proof.verdict.cache_clear()
    try:
        response = api.post(
            "/v1/dynamic", json={"destination": "https://example.com/a", "style": {"dots": "dots"}}
        )
        assert_unscannable(response, "does not scan")
        assert stored_codes(app) == 0
    finally:
        proof.verdict.cache_clear()
