"""QR images over HTTP: /v1/qr and /v1/dynamic/{id}/qr, decoded back with zxing-cpp."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image


def decode_png(data: bytes) -> tuple[str, tuple[int, int]]:
    image = Image.open(io.BytesIO(data))
    found = zxingcpp.read_barcodes(image.convert("RGB"))
    assert len(found) == 1, "exactly one QR code expected"
    return found[0].text, image.size


@pytest.mark.parametrize("size", [128, 300, 1024])
@pytest.mark.parametrize("ecc", ["L", "M", "Q", "H"])
def test_png_decodes_to_its_data_at_the_requested_size(api, size, ecc):
    response = api.get(
        "/v1/qr", query_string={"data": "https://go.test/k7Pm2qR", "format": "png", "size": size, "ecc": ecc}
    )
    assert response.status_code == 200 and response.mimetype == "image/png"
    text, dimensions = decode_png(response.data)
    assert text == "https://go.test/k7Pm2qR"
    assert dimensions == (size, size)


def test_colours_margin_and_transparent_background_still_decode(api):
    response = api.get(
        "/v1/qr",
        query_string={
            "data": "Hello, café ☕",
            "dark": "#1A237E",
            "light": "#FFF8E1",
            "margin": 8,
            "size": 400,
        },
    )
    assert decode_png(response.data)[0] == "Hello, café ☕"
    response = api.get("/v1/qr", query_string={"data": "transparent", "light": "transparent", "size": 400})
    image = Image.open(io.BytesIO(response.data)).convert("RGBA")
    backed = Image.new("RGBA", image.size, "white")
    backed.alpha_composite(image)
    assert zxingcpp.read_barcodes(backed.convert("RGB"))[0].text == "transparent"


def test_svg_has_the_requested_size(api):
    response = api.get("/v1/qr", query_string={"data": "https://go.test/abc", "format": "svg", "size": 256})
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    svg = response.get_data(as_text=True)
    assert 'width="256"' in svg and 'height="256"' in svg and "viewBox" in svg


def test_same_parameters_same_bytes_strong_etag_and_304(api):
    query = {"data": "https://go.test/k7Pm2qR", "size": 512}
    first, second = api.get("/v1/qr", query_string=query), api.get("/v1/qr", query_string=query)
    assert first.data == second.data
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/") and etag == second.headers["ETag"]
    assert "max-age" in first.headers["Cache-Control"]
    cached = api.get("/v1/qr", query_string=query, headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.data == b"" and cached.headers["ETag"] == etag
    other = api.get("/v1/qr", query_string={**query, "size": 513})
    assert other.headers["ETag"] != etag


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "data"),
        ({"data": ""}, "data"),
        ({"data": "x", "format": "gif"}, "format"),
        ({"data": "x", "size": "10"}, "size"),
        ({"data": "x", "size": "99999"}, "size"),
        ({"data": "x", "size": "big"}, "size"),
        ({"data": "x", "ecc": "Z"}, "ecc"),
        ({"data": "x", "margin": "-1"}, "margin"),
        ({"data": "x", "dark": "red"}, "dark"),
        ({"data": "x", "dark": "#fff", "light": "#fff"}, None),
        ({"data": "x" * 3000}, "data"),
    ],
)
def test_bad_image_parameters_are_json_400(api, query, field):
    response = api.get("/v1/qr", query_string=query)
    assert response.status_code == 400
    error = response.get_json()
    assert error["message"]
    if field:
        assert error["field"] == field


def test_qr_needs_a_key(client):
    assert client.get("/v1/qr?data=x").status_code == 401


def test_code_image_uses_its_short_url_and_saved_style(api):
    code = api.create(slug="spring-sale", style={"dark": "#0d47a1", "ecc": "H", "margin": 2})
    response = api.get(f"/v1/dynamic/{code['id']}/qr", query_string={"format": "png", "size": 600})
    assert response.status_code == 200
    text, size = decode_png(response.data)
    assert text == "https://go.test/spring-sale" and size == (600, 600)
    pixels = Image.open(io.BytesIO(response.data)).convert("RGB")
    assert (13, 71, 161) in {colour for _count, colour in pixels.getcolors(1 << 16)}
    etag = response.headers["ETag"]
    api.patch(f"/v1/dynamic/{code['id']}", json={"style": {"dark": "#000000"}})
    restyled = api.get(
        f"/v1/dynamic/{code['id']}/qr",
        query_string={"format": "png", "size": 600},
        headers={"If-None-Match": etag},
    )
    assert restyled.status_code == 200 and restyled.headers["ETag"] != etag
    svg = api.get(f"/v1/dynamic/{code['id']}/qr?format=svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert api.get(f"/v1/dynamic/{code['id']}/qr?data=other").status_code == 400
