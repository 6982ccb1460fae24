"""QR images: every image decodes back to its data; parameters are validated with clear errors."""

import hashlib
import re

import pytest
import segno
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from openqr.images.render import (
    STYLE_KEYS,
    QrParamError,
    QrParams,
    Unscannable,
    etag,
    media_type,
    parse_query,
    render,
    validate_style,
)
from tests.images.raster import decode, on_white, png_image, svg_images

URL = "https://oqr.to/k7Pm2qR"
SVG_NS = "{http://www.w3.org/2000/svg}"


def open_png(params: QrParams) -> Image.Image:
    image = png_image(render(params))
    assert image.format == "PNG"
    assert image.size == (params.size, params.size)
    return image


def image_of(params: QrParams) -> Image.Image:
    return open_png(params) if params.format == "png" else svg_images([render(params)])[0]


def assert_decodes(params: QrParams) -> None:
    # A margin-0 code is meant to sit on the user's own light ground.
    results = decode(image_of(params), pad=0 if params.margin else 40)
    assert [r.text for r in results] == [params.data]
    assert results[0].bytes == params.data.encode("utf-8")
    assert results[0].ec_level == params.ecc


def modules_of(data: str, ecc: str) -> int:
    return segno.make_qr(data, error=ecc, boost_error=False).symbol_size(border=0)[0]


# --- Decoding back ----------------------------------------------------------------


@pytest.mark.parametrize("size", [64, 300, 512, 1024])
@pytest.mark.parametrize("ecc", ["L", "M", "Q", "H"])
@pytest.mark.parametrize("margin", [0, 4, 10])
def test_every_size_ecc_and_margin_decodes(size, ecc, margin):
    assert_decodes(QrParams(data=URL, size=size, ecc=ecc, margin=margin))


def test_every_svg_size_ecc_and_margin_decodes_as_chromium_draws_it():
    cases = [
        QrParams(data=URL, format="svg", size=size, ecc=ecc, margin=margin)
        for size in (64, 512)
        for ecc in ("L", "M", "Q", "H")
        for margin in (0, 4, 10)
    ]
    for params, image in zip(cases, svg_images([render(p) for p in cases]), strict=True):
        results = decode(image, pad=0 if params.margin else 40)
        assert [r.text for r in results] == [params.data], params
        assert results[0].ec_level == params.ecc


def test_largest_size_decodes():
    assert_decodes(QrParams(data=URL, size=4096, ecc="H"))


@pytest.mark.parametrize("fmt", ["png"])
@pytest.mark.parametrize(
    ("dark", "light"),
    [
        ("#000", "#fff"),
        ("#1A237E", "#FFFDE7"),
        ("#000000", "transparent"),
        ("#0d47a1", "TRANSPARENT"),
        ("#595959", "#ffffff"),  # contrast 7:1
        ("#767676", "#ffffff"),  # contrast 4.5:1
        ("#949494", "#ffffff"),  # contrast 3.03:1, just enough
    ],
)
def test_colours_decode_and_are_drawn(fmt, dark, light):
    params = QrParams(data=URL, format=fmt, dark=dark, light=light, size=300)
    assert_decodes(params)
    image = image_of(params).convert("RGBA")
    palette = {rgba for _, rgba in image.getcolors()}
    want_dark = (*bytes.fromhex(params.dark[1:]), 255)
    want_light = (0, 0, 0, 0) if params.light == "transparent" else (*bytes.fromhex(params.light[1:]), 255)
    if fmt == "png" and params.light == "transparent":
        palette = {(0, 0, 0, 0) if a == 0 else (r, g, b, a) for r, g, b, a in palette}
    assert palette == {want_dark, want_light}


@pytest.mark.parametrize("fmt", ["png"])
@pytest.mark.parametrize(
    "data",
    [
        "café",
        "Grüße aus Köln",
        "ÄÖÜ",
        "日本語のテキスト",
        "こんにちは",
        "привет мир",
        "emoji 🎉✓",
        "https://例え.jp/パス?q=1",
    ],
)
def test_unicode_data_decodes(fmt, data):
    assert_decodes(QrParams(data=data, format=fmt, size=512))


# Each level's largest byte payload: multi-byte text where the character limit would
# bite first, so that the QR capacity (not the 2048-character limit) is what is tested.
NEAR_CAPACITY = {
    "L": "é" * 1476 + "a",  # 2953 bytes
    "M": "é" * 1165 + "a",  # 2331 bytes
    "Q": "a" * 1663,
    "H": "a" * 1273,
}


@pytest.mark.parametrize("ecc", ["L", "M", "Q", "H"])
def test_data_at_capacity_decodes_and_one_more_byte_is_refused(ecc):
    data = NEAR_CAPACITY[ecc]
    params = parse_query({"data": data, "ecc": ecc, "size": "1024"})
    assert_decodes(params)
    # It fills a version 40 code: 177 modules plus two 4-module margins.
    with pytest.raises(QrParamError, match="at least 185 pixels"):
        parse_query({"data": data, "ecc": ecc, "size": "184"})
    with pytest.raises(QrParamError) as err:
        parse_query({"data": data + "a", "ecc": ecc, "size": "1024"})
    assert err.value.field == "data"
    assert f"error correction level {ecc}" in str(err.value)


def test_longest_data_decodes():
    assert_decodes(QrParams(data="7" * 2048, ecc="H", size=1024))
    assert_decodes(QrParams(data="HTTPS://EXAMPLE.COM/" + "A" * 1800, ecc="H", size=1024))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.text(st.characters(codec="utf-8"), min_size=1, max_size=60))
def test_any_text_decodes_back_exactly(data):
    assert_decodes(QrParams(data=data, size=400, ecc="L"))


# --- Layout -----------------------------------------------------------------------


@pytest.mark.parametrize(("size", "margin"), [(64, 0), (64, 4), (300, 4), (301, 10), (1000, 4), (4096, 16)])
def test_png_is_exact_with_square_modules_and_the_code_centred(size, margin):
    params = QrParams(data=URL, size=size, margin=margin)
    image = open_png(params).convert("L")
    modules = modules_of(URL, "M")
    scale = size // (modules + 2 * margin)
    leftover = size - scale * (modules + 2 * margin)
    lead = margin * scale + leftover // 2
    trail = size - lead - modules * scale
    assert trail - lead in (0, 1)
    # The dark box bounding the code, with light quiet zone all round.
    assert Image.eval(image, lambda v: 255 - v).getbbox() == (
        lead,
        lead,
        size - trail,
        size - trail,
    )
    # The top-left finder's outer ring is exactly 7 modules of `scale` pixels.
    row = [image.getpixel((x, lead)) for x in range(lead, lead + 7 * scale + 1)]
    assert row == [0] * (7 * scale) + [255]
    column = [image.getpixel((lead, y)) for y in range(lead, lead + 7 * scale + 1)]
    assert column == [0] * (7 * scale) + [255]


@pytest.mark.parametrize("light", ["#ffffff", "transparent"])
def test_svg_draws_the_same_pixels_as_the_png(light):
    # Squares on the pixel grid: chromium paints the SVG at its own size exactly as the PNG is.
    for size in (64, 333):
        png = QrParams(data=URL, size=size, light=light)
        (drawn,) = svg_images([render(QrParams(data=URL, size=size, light=light, format="svg"))], width=size)
        assert on_white(open_png(png)).tobytes() == drawn.crop((0, 0, size, size)).tobytes()


def test_png_has_no_timestamp_or_metadata_chunks():
    for light in ("#ffffff", "transparent"):
        body = render(QrParams(data=URL, light=light))
        kinds, at = [], 8
        while at < len(body):
            length = int.from_bytes(body[at : at + 4], "big")
            if body[at + 4 : at + 8] not in kinds[-1:]:  # Pillow may split the pixels over IDATs
                kinds.append(body[at + 4 : at + 8])
            at += 12 + length
        want = [b"IHDR", b"PLTE", b"IDAT", b"IEND"]
        if light == "transparent":
            want.insert(2, b"tRNS")
        assert kinds == want


def test_svg_has_no_declaration_dates_or_classes():
    body = render(QrParams(data=URL, format="svg")).decode("utf-8")
    assert body.startswith("<svg ") and body.endswith("</svg>\n")
    assert "class=" not in body and "<?xml" not in body and "<title" not in body


# --- Determinism, ETags, caching ---------------------------------------------------


def test_same_params_same_bytes_and_etag():
    first = QrParams(data=URL, format="png", dark="#A3B", light="#FFF", ecc="q")
    again = QrParams(data=URL, format="PNG", dark="#aa33bb", light="#ffffff", ecc="Q")
    assert first == again and hash(first) == hash(again)
    assert render(first) == render(again)
    assert etag(first) == etag(again)
    body = render(first)
    render.cache_clear()
    etag.cache_clear()
    assert render(first) == body
    assert etag(first) == f'"{hashlib.sha256(body).hexdigest()[:32]}"'


def test_etag_is_quoted_and_differs_for_every_parameter():
    base = QrParams(data=URL)
    variants = [
        base,
        QrParams(data=URL + "x"),
        QrParams(data=URL, format="svg"),
        QrParams(data=URL, size=513),
        QrParams(data=URL, ecc="H"),
        QrParams(data=URL, margin=5),
        QrParams(data=URL, dark="#000001"),
        QrParams(data=URL, light="#fffffe"),
        QrParams(data=URL, light="transparent"),
        QrParams(data=URL, dots="rounded"),
        QrParams(data=URL, corners="dot"),
        QrParams(data=URL, corner_dots="dot"),
        QrParams(data=URL, corner_color="#b71c1c"),
        QrParams(data=URL, gradient={"type": "linear", "to": "#0d47a1"}),
        QrParams(data=URL, gradient={"type": "linear", "to": "#0d47a1", "rotation": 90}),
        QrParams(data=URL, gradient={"type": "radial", "to": "#0d47a1"}),
        QrParams(data=URL, frame={"text": "SCAN ME"}),
        QrParams(data=URL, frame={"text": "SCAN ME", "color": "#b71c1c"}),
        QrParams(data=URL, format="svg", size_mm=40),
        QrParams(data=URL, format="pdf"),
        QrParams(data=URL, format="pdf", size_mm=41),
        QrParams(data=URL, format="eps"),
    ]
    tags = [etag(p) for p in variants]
    assert len(set(tags)) == len(variants)
    assert all(re.fullmatch(r'"[0-9a-f]{32}"', t) for t in tags)


def test_render_is_cached_and_bounded():
    params = QrParams(data=URL + "/cache")
    assert render(params) is render(params)
    assert render.cache_info().maxsize == 256


def test_media_types():
    assert media_type("png") == "image/png"
    assert media_type("svg") == "image/svg+xml"
    assert media_type("PDF") == "application/pdf"
    assert media_type("eps") == "application/postscript"
    with pytest.raises(QrParamError) as err:
        media_type("gif")
    assert err.value.field == "format"


# --- parse_query --------------------------------------------------------------------


def test_parse_query_defaults_and_normalises():
    assert parse_query({"data": URL}) == QrParams(
        data=URL,
        format="png",
        size=512,
        ecc="M",
        margin=4,
        dark="#000000",
        light="#ffffff",
        size_mm=None,
    )
    assert parse_query({"data": URL, "format": "pdf"}).size_mm == 40
    assert parse_query({"data": URL, "format": "svg"}).size_mm is None  # sized in pixels, as before
    params = parse_query(
        {
            "data": URL,
            "format": "SVG",
            "size": "1024",
            "ecc": "h",
            "margin": "0",
            "dark": "#1A2",
            "light": "Transparent",
        }
    )
    assert params == QrParams(
        data=URL,
        format="svg",
        size=1024,
        ecc="H",
        margin=0,
        dark="#11aa22",
        light="transparent",
    )


def test_parse_query_ignores_args_that_are_not_image_parameters():
    assert parse_query({"data": URL, "download": "1", "v": "2"}) == QrParams(data=URL)


def test_style_defaults_are_overridden_by_the_query():
    style = {"dark": "#123", "light": "#FAFAFA", "ecc": "h", "margin": 2}
    assert parse_query({}, style=style, data=URL) == QrParams(
        data=URL, dark="#112233", light="#fafafa", ecc="H", margin=2
    )
    params = parse_query({"ecc": "L", "light": "transparent", "size": "256"}, style=style, data=URL)
    assert params == QrParams(data=URL, dark="#112233", light="transparent", ecc="L", margin=2, size=256)
    assert_decodes(params)


BAD_QUERIES = [
    ({}, "data"),
    ({"data": ""}, "data"),
    ({"data": "x" * 2049}, "data"),
    ({"data": "A" * 1853, "ecc": "H"}, "data"),
    ({"data": "é" * 1477, "ecc": "L", "size": "4096"}, "data"),
    ({"data": "\ud800"}, "data"),
    ({"data": URL, "format": "gif"}, "format"),
    ({"data": URL, "format": ""}, "format"),
    ({"data": URL, "format": "png "}, "format"),
    ({"data": URL, "format": "webp"}, "format"),
    ({"data": URL, "format": "pdf", "size_mm": "9"}, "size_mm"),
    ({"data": URL, "format": "eps", "size_mm": "1001"}, "size_mm"),
    ({"data": URL, "format": "svg", "size_mm": "forty"}, "size_mm"),
    ({"data": URL, "format": "pdf", "size_mm": "40.5"}, "size_mm"),
    ({"data": URL, "size_mm": "40"}, "size_mm"),
    ({"data": URL, "size": "abc"}, "size"),
    ({"data": URL, "size": ""}, "size"),
    ({"data": URL, "size": "12.5"}, "size"),
    ({"data": URL, "size": "1e3"}, "size"),
    ({"data": URL, "size": "５１２"}, "size"),
    ({"data": URL, "size": "5_12"}, "size"),
    ({"data": URL, "size": "9" * 5000}, "size"),
    ({"data": URL, "size": "63"}, "size"),
    ({"data": URL, "size": "4097"}, "size"),
    ({"data": URL, "size": "-512"}, "size"),
    ({"data": "a" * 1000, "size": "128"}, "size"),
    ({"data": URL, "ecc": "X"}, "ecc"),
    ({"data": URL, "ecc": ""}, "ecc"),
    ({"data": URL, "ecc": "MQ"}, "ecc"),
    ({"data": URL, "margin": "-1"}, "margin"),
    ({"data": URL, "margin": "17"}, "margin"),
    ({"data": URL, "margin": "four"}, "margin"),
    ({"data": URL, "margin": "1.5"}, "margin"),
    ({"data": URL, "dark": "black"}, "dark"),
    ({"data": URL, "dark": "rgb(0,0,0)"}, "dark"),
    ({"data": URL, "dark": "000000"}, "dark"),
    ({"data": URL, "dark": "#12"}, "dark"),
    ({"data": URL, "dark": "#1234"}, "dark"),
    ({"data": URL, "dark": "#12345g"}, "dark"),
    ({"data": URL, "dark": "#0000000"}, "dark"),
    ({"data": URL, "dark": ""}, "dark"),
    ({"data": URL, "dark": "transparent"}, "dark"),
    ({"data": URL, "light": "white"}, "light"),
    ({"data": URL, "light": "#ff"}, "light"),
    ({"data": URL, "light": "none"}, "light"),
    ({"data": URL, "dark": "#777", "light": "#888"}, "dark"),
    ({"data": URL, "dark": "#abcdef", "light": "#ABCDEF"}, "dark"),
    ({"data": URL, "dark": "#fff", "light": "#000"}, "dark"),
    ({"data": URL, "dark": "#959595", "light": "#ffffff"}, "dark"),  # 2.995:1
]


@pytest.mark.parametrize(("args", "field"), BAD_QUERIES)
def test_bad_query_is_refused_with_its_field(args, field):
    with pytest.raises(QrParamError) as err:
        parse_query(args)
    assert err.value.field == field
    message = str(err.value)
    assert field in message and message.endswith(".") and "\n" not in message


def test_messages_say_what_would_work():
    with pytest.raises(
        QrParamError,
        match=r"at least 129 pixels for this data: the code is 121x121 modules",
    ):
        parse_query({"data": "a" * 1000, "size": "128"})
    with pytest.raises(QrParamError, match=r"needs 1853 characters and the largest code holds 1852"):
        parse_query({"data": "A" * 1853, "ecc": "H"})
    with pytest.raises(QrParamError, match=r"needs 2955 bytes .* holds 2953; .*lower level"):
        parse_query({"data": "é" * 1477 + "a", "ecc": "L"})
    with pytest.raises(QrParamError, match=r"%23"):
        parse_query({"data": URL, "dark": "000000"})
    with pytest.raises(QrParamError, match=r"from 64 to 4096"):
        parse_query({"data": URL, "size": "63"})
    with pytest.raises(QrParamError, match=r"\(2\.99:1; at least 3:1 is needed\)"):
        parse_query({"data": URL, "dark": "#959595"})


def test_size_minimum_is_modules_plus_margins():
    data = "a" * 1000
    minimum = modules_of(data, "M") + 2 * 4
    assert parse_query({"data": data, "size": str(minimum)}).size == minimum
    with pytest.raises(QrParamError):
        parse_query({"data": data, "size": str(minimum - 1)})
    assert_decodes(QrParams(data=data, size=minimum))


def test_transparent_light_is_judged_on_the_white_it_prints_on():
    assert parse_query({"data": URL, "dark": "#767676", "light": "transparent"}).dark == "#767676"
    with pytest.raises(QrParamError, match=r"white \(a transparent light prints on white\)") as err:
        parse_query({"data": URL, "dark": "#fefefe", "light": "transparent"})
    assert err.value.field == "dark"
    with pytest.raises(Unscannable):
        validate_style({"dark": "#fefefe", "light": "transparent"})


def test_data_arg_is_refused_when_data_is_given():
    with pytest.raises(QrParamError) as err:
        parse_query({"data": "https://elsewhere.example"}, data=URL)
    assert err.value.field == "data"
    assert parse_query({}, data=URL).data == URL


def test_params_built_directly_are_validated_too():
    with pytest.raises(QrParamError) as err:
        QrParams(data=URL, size="512")
    assert err.value.field == "size"
    with pytest.raises(QrParamError) as err:
        QrParams(data=URL, margin=True)
    assert err.value.field == "margin"


# --- validate_style ------------------------------------------------------------------


def test_validate_style_normalises():
    assert validate_style({}) == {}
    assert validate_style({"dark": "#A3B", "light": "TRANSPARENT", "ecc": "q", "margin": "3"}) == {
        "dark": "#aa33bb",
        "light": "transparent",
        "ecc": "Q",
        "margin": 3,
    }
    assert validate_style({"margin": 0, "light": "#FFF"}) == {
        "margin": 0,
        "light": "#ffffff",
    }
    assert set(STYLE_KEYS) == {
        *("dark", "light", "ecc", "margin"),
        *("dots", "corners", "corner_dots", "corner_color", "gradient", "frame"),
    }


BAD_STYLES = [
    ([], "style"),
    ("#000", "style"),
    (None, "style"),
    (5, "style"),
    ({"size": 512}, "style.size"),
    ({"format": "svg"}, "style.format"),
    ({"data": "x"}, "style.data"),
    ({"dark": "red"}, "style.dark"),
    ({"dark": 0}, "style.dark"),
    ({"dark": None}, "style.dark"),
    ({"light": "#12"}, "style.light"),
    ({"ecc": "X"}, "style.ecc"),
    ({"ecc": 1}, "style.ecc"),
    ({"margin": -1}, "style.margin"),
    ({"margin": 17}, "style.margin"),
    ({"margin": "x"}, "style.margin"),
    ({"margin": 4.0}, "style.margin"),
    ({"margin": True}, "style.margin"),
    ({"margin": None}, "style.margin"),
    ({"dark": "#eeeeee"}, "style"),
    ({"light": "#333333"}, "style"),
    ({"dark": "#123456", "light": "#123456"}, "style"),
]


@pytest.mark.parametrize(("style", "field"), BAD_STYLES)
def test_bad_style_is_refused_with_its_field(style, field):
    with pytest.raises(QrParamError) as err:
        validate_style(style)
    assert err.value.field == field
    assert str(err.value).endswith(".")


def test_bad_saved_style_is_reported_as_style_in_parse_query():
    with pytest.raises(QrParamError) as err:
        parse_query({}, style={"ecc": "Z"}, data=URL)
    assert err.value.field == "style.ecc"
