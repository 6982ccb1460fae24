"""Styled codes: every shape in every format decodes as a person's software draws it, the same
parameters give the same bytes, print sizes are exact, and bad or unscannable styles are refused."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from openqr.images import proof
from openqr.images.render import (
    CORNER_DOTS,
    CORNERS,
    DOTS,
    QrParamError,
    QrParams,
    Unscannable,
    render,
    validate_style,
)
from tests.images.raster import decode, eps_image, on_white, pdf_image, pdf_page_size, png_image, svg_images

URL = "https://oqr.to/k7Pm2qR"
# Every combination but round rings around square centres, which no scanner reads (refused below).
SHAPES = [shape for shape in itertools.product(DOTS, CORNERS, CORNER_DOTS) if shape[1:] != ("dot", "square")]
GRADIENTS = [
    None,
    {"type": "linear", "to": "#0d47a1", "rotation": 45},
    {"type": "radial", "to": "#1b5e20"},
]
FRAMES = [None, {"text": "SCAN ME"}, {"text": "Café · Ωμέγα · Привет", "color": "#b71c1c"}]


def styled(fmt: str, index: int, dots: str, corners: str, corner_dots: str, **extra) -> QrParams:
    """One shape combination; the gradients, frames and corner colour take turns across the list."""
    return QrParams(
        data=URL,
        format=fmt,
        size=600,
        dots=dots,
        corners=corners,
        corner_dots=corner_dots,
        corner_color="#4a148c" if index % 4 == 3 else None,
        gradient=GRADIENTS[index % 3],
        frame=FRAMES[(index // 3) % 3],
        **extra,
    )


def assert_reads(image: Image.Image, params: QrParams) -> None:
    results = decode(image, pad=20)
    assert [r.text for r in results] == [params.data], params


@pytest.mark.parametrize(("index", "shape"), list(enumerate(SHAPES)))
def test_every_shape_decodes_as_png(index, shape):
    params = styled("png", index, *shape)
    image = png_image(render(params))
    assert image.width == 600
    assert_reads(image, params)


def test_every_shape_with_each_gradient_and_frame_decodes_as_png():
    for (dots, corners, corner_dots), gradient, frame in itertools.product(SHAPES[::5], GRADIENTS, FRAMES):
        params = QrParams(
            data=URL,
            size=400,
            dots=dots,
            corners=corners,
            corner_dots=corner_dots,
            gradient=gradient,
            frame=frame,
        )
        assert_reads(png_image(render(params)), params)


def test_every_shape_decodes_as_svg_drawn_by_chromium():
    cases = [styled("svg", index, *shape, size_mm=40) for index, shape in enumerate(SHAPES)]
    for params, image in zip(cases, svg_images([render(p) for p in cases], width=360), strict=True):
        assert_reads(image, params)


@pytest.mark.parametrize(("index", "shape"), list(enumerate(SHAPES)))
def test_every_shape_decodes_as_pdf_drawn_by_poppler(index, shape):
    params = styled("pdf", index, *shape)
    assert_reads(pdf_image(render(params), dpi=200), params)


@pytest.mark.parametrize(("index", "shape"), list(enumerate(SHAPES)))
def test_every_shape_decodes_as_eps_drawn_by_ghostscript(index, shape):
    params = styled("eps", index, *shape)
    assert_reads(eps_image(render(params), dpi=200), params)


def test_the_formats_draw_the_same_picture():
    # The same geometry in every writer: drawn at the same pixel size (one whose modules are whole
    # pixels, so the PNG needs no rounding) the pictures agree but for anti-aliased edges.
    style = {"dots": "classy-rounded", "corners": "dot", "corner_dots": "dot", "corner_color": "#b71c1c"}
    side = 33 * 14  # 25 modules and two 4-module margins, 14 pixels a module
    png = on_white(png_image(render(QrParams(data=URL, size=side, **style))))
    dpi = side / (40 / 25.4)
    pictures = {
        "pdf": pdf_image(render(QrParams(data=URL, format="pdf", size_mm=40, **style)), dpi=dpi),
        "eps": eps_image(render(QrParams(data=URL, format="eps", size_mm=40, **style)), dpi=dpi),
        "svg": svg_images([render(QrParams(data=URL, format="svg", size_mm=40, **style))], width=side)[0],
    }
    mine = png.convert("L").point(lambda v: 255 if v > 127 else 0)
    for fmt, picture in pictures.items():
        other = picture.crop((0, 0, side, side)).convert("L").point(lambda v: 255 if v > 127 else 0)
        differing = sum(1 for a, b in zip(mine.tobytes(), other.tobytes(), strict=True) if a != b)
        assert differing / (side * side) < 0.01, fmt


def test_a_frame_is_a_card_with_the_text_under_the_code():
    params = QrParams(data=URL, size=600, frame={"text": "SCAN ME", "color": "#b71c1c"})
    image = png_image(render(params)).convert("RGBA")
    assert image.width == 600 and image.height > 600  # the words go under the code
    assert image.getpixel((0, 0))[3] == 0  # the card's corners are rounded off
    assert image.getpixel((300, 2))[:3] == (0xB7, 0x1C, 0x1C)  # its border
    caption = image.crop((0, 560, 600, image.height - 20)).convert("RGB")
    assert (0xB7, 0x1C, 0x1C) in {colour for _, colour in caption.getcolors(1 << 16)}
    assert_reads(image, params)


def test_frame_text_is_drawn_from_the_shipped_font_in_vectors():
    plain = render(QrParams(data=URL, format="svg", size_mm=40))
    framed = render(QrParams(data=URL, format="svg", size_mm=40, frame={"text": "Привет"}))
    other = render(QrParams(data=URL, format="svg", size_mm=40, frame={"text": "Привёт"}))
    assert b"<text" not in framed and b"font-family" not in framed  # outlines: no font needed to view it
    assert len(framed) > len(plain) and framed != other


def test_gradient_colours_are_drawn():
    params = QrParams(data=URL, size=600, gradient={"type": "linear", "to": "#0d47a1", "rotation": 0})
    image = png_image(render(params)).convert("RGB")
    colours = {colour for _, colour in image.getcolors(1 << 16)}
    assert (0x0D, 0x47, 0xA1) in colours or any(abs(c[2] - 0xA1) < 8 and c[0] < 20 for c in colours)
    left, right = image.getpixel((120, 300)), image.getpixel((470, 300))
    assert_reads(image, params)
    assert left != right or left == (255, 255, 255)


# --- print sizes -----------------------------------------------------------------------


@pytest.mark.parametrize("size_mm", [10, 40, 85, 1000])
def test_pdf_page_is_exactly_size_mm_wide(size_mm):
    body = render(QrParams(data=URL, format="pdf", size_mm=size_mm))
    width, height = pdf_page_size(body)
    assert width == pytest.approx(size_mm * 72 / 25.4, abs=0.006)  # pdfinfo says 2 decimals
    assert height == pytest.approx(width, abs=0.006)
    box = re.search(rb"/MediaBox \[0 0 ([0-9.]+) ([0-9.]+)\]", body)
    assert float(box.group(1)) == pytest.approx(size_mm * 72 / 25.4, abs=0.0006)
    assert body.count(b"/Type /Page ") == 1
    framed = render(QrParams(data=URL, format="pdf", size_mm=size_mm, frame={"text": "SCAN ME"}))
    width, height = pdf_page_size(framed)
    assert width == pytest.approx(size_mm * 72 / 25.4, abs=0.006) and height > width


def test_eps_and_svg_say_their_printed_size():
    eps = render(QrParams(data=URL, format="eps", size_mm=50)).decode("ascii")
    assert eps.startswith("%!PS-Adobe-3.0 EPSF-3.0\n")
    width = float(re.search(r"%%HiResBoundingBox: 0 0 ([0-9.]+) ([0-9.]+)", eps).group(1))
    assert width == pytest.approx(50 * 72 / 25.4, abs=0.001)
    svg = render(QrParams(data=URL, format="svg", size_mm=50)).decode()
    assert 'width="50mm" height="50mm" viewBox="0 0 50 50"' in svg


def test_vector_files_hold_paths_not_pictures():
    for fmt in ("pdf", "eps", "svg"):
        body = render(QrParams(data=URL, format=fmt, size_mm=40, dots="dots"))
        assert b"/Image" not in body and b"<image" not in body and b"colorimage" not in body


# --- determinism -------------------------------------------------------------------------

FULL = {
    "dots": "extra-rounded",
    "corners": "extra-rounded",
    "corner_dots": "dot",
    "corner_color": "#4a148c",
    "gradient": {"type": "radial", "to": "#1b5e20"},
    "frame": {"text": "Café"},
}


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf", "eps"])
def test_same_parameters_same_bytes(fmt):
    params = QrParams(data=URL, format=fmt, **FULL)
    body = render(params)
    render.cache_clear()
    assert render(QrParams(data=URL, format=fmt, **FULL)) == body
    assert b"CreationDate" not in body and b"/ID" not in body and b"%%CreationDate" not in body


@pytest.mark.parametrize("style", [{"size": 777, "light": "transparent"}, FULL])
def test_bytes_are_identical_in_a_fresh_process(style):
    script = (
        "import hashlib, json, sys; from openqr.images.render import QrParams, render\n"
        "style = json.loads(sys.argv[1])\n"
        "for fmt in ('png', 'svg', 'pdf', 'eps'):\n"
        "    print(hashlib.sha256(render(QrParams(data='Grüße 🎉', format=fmt, **style))).hexdigest())\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", script, json.dumps(style)],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "11"},
        timeout=120,
    )
    formats = ("png", "svg", "pdf", "eps")
    here = [hashlib.sha256(render(QrParams(data="Grüße 🎉", format=f, **style))).hexdigest() for f in formats]
    assert out.stdout.split() == here


# --- the style's rules -------------------------------------------------------------------


def test_a_full_style_is_normalised():
    clean = validate_style(
        {
            "dots": "Classy-Rounded",
            "corners": "DOT",
            "corner_dots": "dot",
            "corner_color": "#41C",
            "gradient": {"type": "Linear", "to": "#0D47A1", "rotation": "90"},
            "frame": {"text": "  Scan   me ", "color": None},
        }
    )
    assert clean == {
        "dots": "classy-rounded",
        "corners": "dot",
        "corner_dots": "dot",
        "corner_color": "#4411cc",
        "gradient": {"type": "linear", "to": "#0d47a1", "rotation": 90},
        "frame": {"text": "Scan me", "color": None},
    }
    assert validate_style(clean) == clean
    assert validate_style({"gradient": {"type": "radial", "to": "#000"}})["gradient"]["rotation"] == 0
    assert validate_style({"gradient": None, "frame": None, "corner_color": None}) == {
        "gradient": None,
        "frame": None,
        "corner_color": None,
    }


BAD = [
    ({"dots": "stars"}, "style.dots"),
    ({"dots": 1}, "style.dots"),
    ({"corners": "rounded"}, "style.corners"),
    ({"corner_dots": "extra-rounded"}, "style.corner_dots"),
    ({"corner_color": "red"}, "style.corner_color"),
    ({"corner_color": "transparent"}, "style.corner_color"),
    ({"gradient": "linear"}, "style.gradient"),
    ({"gradient": {"type": "conic", "to": "#000"}}, "style.gradient.type"),
    ({"gradient": {"to": "#000"}}, "style.gradient.type"),
    ({"gradient": {"type": "linear"}}, "style.gradient.to"),
    ({"gradient": {"type": "linear", "to": "blue"}}, "style.gradient.to"),
    ({"gradient": {"type": "linear", "to": "#000", "rotation": 360}}, "style.gradient.rotation"),
    ({"gradient": {"type": "linear", "to": "#000", "rotation": -1}}, "style.gradient.rotation"),
    ({"gradient": {"type": "linear", "to": "#000", "rotation": 4.5}}, "style.gradient.rotation"),
    ({"gradient": {"type": "linear", "to": "#000", "spread": 1}}, "style.gradient.spread"),
    ({"frame": "SCAN ME"}, "style.frame"),
    ({"frame": {}}, "style.frame.text"),
    ({"frame": {"text": ""}}, "style.frame.text"),
    ({"frame": {"text": "   "}}, "style.frame.text"),
    ({"frame": {"text": "x" * 33}}, "style.frame.text"),
    ({"frame": {"text": 5}}, "style.frame.text"),
    ({"frame": {"text": "a\x00b"}}, "style.frame.text"),
    ({"frame": {"text": "日本語"}}, "style.frame.text"),
    ({"frame": {"text": "ok", "color": "#12"}}, "style.frame.color"),
    ({"frame": {"text": "ok", "size": 3}}, "style.frame.size"),
    ({"logo": "abc"}, "style.logo"),
]


@pytest.mark.parametrize(("style", "field"), BAD)
def test_bad_style_fields_are_refused_by_name(style, field):
    with pytest.raises(QrParamError) as err:
        validate_style(style)
    assert err.value.field == field
    assert field in str(err.value) and str(err.value).endswith(".")


def test_a_missing_glyph_is_named():
    with pytest.raises(QrParamError, match=r"\(日 本\)"):
        validate_style({"frame": {"text": "日本 ok"}})


UNSCANNABLE = [
    ({"dark": "#cccccc"}, "dark (#cccccc)"),
    ({"gradient": {"type": "linear", "to": "#f5f5f5"}}, "gradient (#f5f5f5)"),
    ({"gradient": {"type": "radial", "to": "#eeeeee"}, "light": "transparent"}, "white"),
    ({"corner_color": "#fafafa"}, "corner_color (#fafafa)"),
    ({"frame": {"text": "SCAN ME", "color": "#dddddd"}}, "frame (#dddddd)"),
    ({"dark": "#ffffff", "light": "#000000"}, "darker"),
    ({"corners": "dot"}, 'corner_dots "dot"'),
    ({"corners": "dot", "corner_dots": "square", "dots": "rounded"}, "finder patterns"),
]


@pytest.mark.parametrize(("style", "said"), UNSCANNABLE)
def test_colours_too_pale_to_scan_are_unscannable(style, said):
    with pytest.raises(Unscannable) as err:
        validate_style(style)
    assert err.value.field == "style"
    assert said in err.value.message


@pytest.mark.parametrize("dots", DOTS)
def test_round_rings_around_square_centres_would_not_scan_indeed(dots):
    # Why the rule above exists: drawn anyway, the decoder cannot read them at the proof's size.
    params = QrParams(data=URL, dots=dots, corners="dot", corner_dots="square")
    assert proof.verdict(params) is not None


def test_the_proof_reads_what_it_draws():
    assert (
        proof.verdict(
            QrParams(data=URL, dots="dots", corners="dot", corner_dots="dot", frame={"text": "SCAN ME"})
        )
        is None
    )
    # A margin of 0 inside a dark frame border leaves no quiet zone a scanner can find... unless
    # the frame's own light gap is enough: whatever it decides, the verdict agrees with a decode.
    for margin in (0, 1):
        params = QrParams(data=URL, margin=margin, size=400, frame={"text": "SCAN ME"})
        readable = bool(decode(png_image(render(params))))
        assert (proof.verdict(params) is None) == readable


def test_a_style_that_does_not_decode_is_refused_saying_what_to_change(monkeypatch):
    # Make the decoder see nothing: the refusal names the style's own features to change.
    monkeypatch.setattr(proof.zxingcpp, "read_barcodes", lambda *args, **kwargs: [])
    proof.verdict.cache_clear()
    with pytest.raises(Unscannable) as err:
        proof.prove(QrParams(data=URL, dots="dots", gradient={"type": "linear", "to": "#0d47a1"}, margin=0))
    message = err.value.message
    assert message.startswith("This style does not scan")
    assert '"dots"' in message and "gradient" in message and "margin (0)" in message
    proof.verdict.cache_clear()
