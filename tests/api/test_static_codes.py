"""Static codes, `POST /v1/qr`: every type's exact text (the hosted generator's strings and escapes),
decoded back from the image with zxing-cpp; a missing or bad field is a 400 that names it."""

from __future__ import annotations

import io

import pytest
from jsonschema import Draft202012Validator
from PIL import Image

from openqr.api.openapi import spec
from tests.api.test_api_qr import decode_png
from tests.images import raster

VCARD_FULL = (
    "BEGIN:VCARD\r\n"
    "VERSION:3.0\r\n"
    "N:García\\, Ana\\; Jr.;;;;\r\n"
    "FN:García\\, Ana\\; Jr.\r\n"
    "ORG:Back\\\\slash & Co\r\n"
    "TITLE:Head chef\r\n"
    "TEL:+34 912 345 678\r\n"
    "EMAIL:ana@example.com\r\n"
    "URL:https://example.com/ana\r\n"
    "ADR:;;Calle Mayor 1\\nMadrid;;;;\r\n"
    "NOTE:Open: Tue-Sun\r\n"
    "END:VCARD\r\n"
)

PAYLOADS = [
    ("url", {"url": "https://example.com/menu?table=4"}, "https://example.com/menu?table=4"),
    ("url", {"url": "  example.com/menu "}, "https://example.com/menu"),
    ("url", {"url": "HTTP://EXAMPLE.COM/"}, "HTTP://EXAMPLE.COM/"),
    ("text", {"text": "Hello, café ☕\nSecond line"}, "Hello, café ☕\nSecond line"),
    ("email", {"to": "hello@example.com"}, "mailto:hello@example.com"),
    (
        "email",
        {"to": "hello@example.com", "subject": "Table 4 & more", "body": "Hi,\nit's (fine)! ~*ü"},
        "mailto:hello@example.com?subject=Table%204%20%26%20more&body=Hi%2C%0Ait's%20(fine)!%20~*%C3%BC",
    ),
    ("email", {"to": "a@example.com", "subject": " ", "body": "x"}, "mailto:a@example.com?body=x"),
    ("phone", {"number": " +44 20 7946 0000 "}, "tel:+44 20 7946 0000"),
    ("sms", {"number": "+447700900123"}, "SMSTO:+447700900123"),
    (
        "sms",
        {"number": "+447700900123", "message": "On my way: 5 min"},
        "SMSTO:+447700900123:On my way: 5 min",
    ),
    ("whatsapp", {"number": "+44 7700 900123"}, "https://wa.me/447700900123"),
    (
        "whatsapp",
        {"number": "+44 (7700) 900-123", "message": "Hello & welcome!"},
        "https://wa.me/447700900123?text=Hello%20%26%20welcome!",
    ),
    (
        "wifi",
        {"ssid": 'Café "Net"; 2,4:GHz\\', "password": 'p@ss;w:rd,"x"\\', "hidden": True},
        'WIFI:T:WPA;S:Café \\"Net\\"\\; 2\\,4\\:GHz\\\\;P:p@ss\\;w\\:rd\\,\\"x\\"\\\\;H:true;;',
    ),
    ("wifi", {"ssid": "Old", "password": "abcde", "encryption": "WEP"}, "WIFI:T:WEP;S:Old;P:abcde;;"),
    ("wifi", {"ssid": "Guest", "encryption": "nopass", "hidden": False}, "WIFI:T:nopass;S:Guest;;"),
    # A network's name and password are exact: the spaces stay.
    (
        "wifi",
        {"ssid": " Lobby ", "password": " secret 1 ", "encryption": "wpa"},
        "WIFI:T:WPA;S: Lobby ;P: secret 1 ;;",
    ),
    ("geo", {"lat": 51.5007, "lng": -0.1246}, "geo:51.5007,-0.1246"),
    ("geo", {"lat": " -33.8568", "lng": "151.2153 "}, "geo:-33.8568,151.2153"),
    ("geo", {"lat": 90, "lng": -180.0}, "geo:90,-180"),
    ("geo", {"lat": 0.00001, "lng": 0}, "geo:0.00001,0"),
    (
        "vcard",
        {"name": "Ada Lovelace"},
        "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Ada Lovelace;;;;\r\nFN:Ada Lovelace\r\nEND:VCARD\r\n",
    ),
    (
        "vcard",
        {
            "name": "García, Ana; Jr.",
            "org": "Back\\slash & Co",
            "title": "Head chef",
            "phone": "+34 912 345 678",
            "email": "ana@example.com",
            "url": "example.com/ana",
            "address": "Calle Mayor 1\r\nMadrid",
            "note": "Open: Tue-Sun",
        },
        VCARD_FULL,
    ),
]


@pytest.mark.parametrize(
    ("kind", "fields", "text"), PAYLOADS, ids=[f"{k}-{i}" for i, (k, _f, _t) in enumerate(PAYLOADS)]
)
def test_each_type_encodes_exactly_the_hosted_generators_text(api, kind, fields, text):
    response = api.post("/v1/qr", json={"type": kind, **fields, "size": 600})
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "image/png"
    decoded, size = decode_png(response.data)
    assert decoded == text
    assert size == (600, 600)


def test_every_accepted_body_is_valid_against_the_published_schema():
    document = spec()
    validator = Draft202012Validator(
        {"$ref": "#/components/schemas/QrCreate", "components": document["components"]}
    )
    for kind, fields, _text in PAYLOADS:
        assert not list(validator.iter_errors({"type": kind, **fields, "size": 600})), (kind, fields)
    assert list(validator.iter_errors({"data": "x", "type": "text", "text": "x"}))  # one or the other
    assert list(validator.iter_errors({"type": "text", "text": "x", "colour": "red"}))


def test_data_is_encoded_as_it_is_and_gives_the_bytes_of_get(api):
    posted = api.post("/v1/qr", json={"data": " Hello, café ☕ ", "size": 300, "style": {"ecc": "H"}})
    assert posted.status_code == 200
    assert decode_png(posted.data)[0] == " Hello, café ☕ "
    got = api.get("/v1/qr", query_string={"data": " Hello, café ☕ ", "size": 300, "ecc": "H"})
    assert posted.data == got.data and posted.headers["ETag"] == got.headers["ETag"]


def test_the_answer_is_kept_by_no_cache_and_never_a_304(api):
    body = {"type": "wifi", "ssid": "Home", "password": "correct horse"}
    first = api.post("/v1/qr", json=body)
    assert first.headers["Cache-Control"] == "no-store"
    again = api.post("/v1/qr", json=body, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200 and again.data == first.data


def test_format_size_and_style_draw_the_image(api):
    body = {"type": "geo", "lat": 48.8584, "lng": 2.2945}
    svg = api.post("/v1/qr", json={**body, "format": "svg", "size": 256})
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert 'width="256"' in svg.get_data(as_text=True)
    styled = api.post("/v1/qr", json={**body, "size": 400, "style": {"dark": "#0d47a1", "light": "#fff8e1"}})
    assert decode_png(styled.data)[0] == "geo:48.8584,2.2945"
    colours = {colour for _n, colour in Image.open(io.BytesIO(styled.data)).convert("RGB").getcolors(1 << 16)}
    assert colours == {(13, 71, 161), (255, 248, 225)}


def test_a_contact_card_prints_as_a_vector_pdf_of_the_width_asked(api):
    raster.need("pdf")
    body = {"type": "vcard", "name": "Ada Lovelace", "format": "pdf", "size_mm": 50}
    response = api.post("/v1/qr", json={**body, "style": {"dots": "dots", "frame": {"text": "Save me"}}})
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert round(raster.pdf_page_size(response.data)[0] / 72 * 25.4) == 50
    decoded = [found.text for found in raster.decode(raster.pdf_image(response.data))]
    assert decoded == ["BEGIN:VCARD\r\nVERSION:3.0\r\nN:Ada Lovelace;;;;\r\nFN:Ada Lovelace\r\nEND:VCARD\r\n"]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({}, "data", "Give 'data'"),
        ({"data": 5}, "data", "Give 'data'"),
        ({"data": ""}, "data", "required"),
        ({"type": "fax"}, "type", "url, text, email"),
        ({"type": ["url"]}, "type", "one of"),
        ({"data": "x", "type": "url", "url": "x.com"}, "data", "not both"),
        ({"type": "url"}, "url", "required"),
        ({"type": "url", "url": "   "}, "url", "required"),
        ({"type": "url", "url": "example.com/a b"}, "url", "spaces"),
        ({"type": "text", "text": "a\x00b"}, "text", "control"),
        ({"type": "text", "text": 5}, "text", "string"),
        ({"type": "text", "text": "x" * 2049}, "text", "at most 2048"),
        ({"type": "text", "text": "ü" * 1300}, "text", "shorten 'text'"),
        ({"type": "email", "to": "not-an-address"}, "to", "email address"),
        ({"type": "email", "to": "a@example.com?cc=b@example.com"}, "to", "one email"),
        ({"type": "email", "to": "a@example.com", "subject": "a\nb"}, "subject", "control"),
        ({"type": "phone", "number": "call me"}, "number", "phone number"),
        ({"type": "sms", "number": "12"}, "number", "phone number"),
        ({"type": "whatsapp", "number": "07700 900123"}, "number", "country code"),
        ({"type": "wifi", "ssid": "Home"}, "password", "required for a WPA"),
        ({"type": "wifi", "ssid": "Home", "password": "short"}, "password", "at least 8"),
        (
            {"type": "wifi", "ssid": "Home", "password": "x" * 8, "encryption": "WPA4"},
            "encryption",
            "WPA, WEP, nopass",
        ),
        (
            {"type": "wifi", "ssid": "Home", "encryption": "nopass", "password": "secret123"},
            "password",
            "nopass",
        ),
        ({"type": "wifi", "ssid": "é" * 17, "password": "12345678"}, "ssid", "32 bytes"),
        ({"type": "wifi", "ssid": "  ", "password": "12345678"}, "ssid", "required"),
        (
            {"type": "wifi", "ssid": "Home", "password": "12345678", "hidden": "yes"},
            "hidden",
            "true or false",
        ),
        ({"type": "geo", "lat": 91, "lng": 0}, "lat", "-90 to 90"),
        ({"type": "geo", "lat": "51,5", "lng": "0"}, "lat", "point"),
        ({"type": "geo", "lat": 0, "lng": -180.5}, "lng", "-180 to 180"),
        ({"type": "geo", "lat": True, "lng": 0}, "lat", "number"),
        ({"type": "geo", "lat": 0}, "lng", "required"),
        ({"type": "vcard", "org": "Acme"}, "name", "required"),
        ({"type": "vcard", "name": "Ada", "email": "nope"}, "email", "email address"),
        ({"type": "url", "url": "x.com", "format": "gif"}, "format", "format"),
        ({"type": "url", "url": "x.com", "size": 10}, "size", "64 to 4096"),
        ({"type": "url", "url": "x.com", "size_mm": 30}, "size_mm", "a png is sized in pixels"),
        ({"type": "url", "url": "x.com", "format": "pdf", "size_mm": 5}, "size_mm", "millimetres"),
        ({"type": "url", "url": "x.com", "style": {"dark": "red"}}, "style.dark", "colour"),
        ({"type": "url", "url": "x.com", "style": "big"}, "style", "JSON object"),
    ],
)
def test_a_missing_or_bad_field_is_a_400_naming_it(api, body, field, words):
    response = api.post("/v1/qr", json=body)
    assert response.status_code == 400
    answer = response.get_json()
    assert (answer["error"], answer.get("field")) == ("invalid_parameter", field)
    assert words in answer["message"]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"data": "x", "label": "y"}, "label", "Unknown field"),
        ({"type": "url", "url": "x.com", "ssid": "y"}, "ssid", "a url code takes url"),
        ({"type": "url", "url": "x.com", "dark": "#000"}, "dark", "inside style"),
    ],
)
def test_a_field_the_type_does_not_take_is_an_unknown_field(api, body, field, words):
    response = api.post("/v1/qr", json=body)
    assert response.status_code == 400
    assert response.get_json() | {"message": ""} == {"error": "unknown_field", "field": field, "message": ""}
    assert words in response.get_json()["message"]


@pytest.mark.parametrize(
    ("raw", "content_type", "status"),
    [
        (b'{"type": "geo", "lat": NaN, "lng": 0}', "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b"{not json", "application/json", 400),
        (b"type=url&url=x.com", "application/x-www-form-urlencoded", 415),
    ],
)
def test_bodies_that_are_not_a_json_object_are_refused(api, raw, content_type, status):
    response = api.post("/v1/qr", data=raw, headers={"Content-Type": content_type})
    assert response.status_code == status
    assert response.get_json()["message"]


def test_a_static_code_needs_a_key(client):
    response = client.post("/v1/qr", json={"type": "text", "text": "hi"})
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
