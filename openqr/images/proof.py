"""Proven to scan: a style is drawn and read back with an independent decoder (zxing-cpp) before
it is saved, so no stored style prints as a code that phones cannot read."""

from __future__ import annotations

import dataclasses
import io
import math
from functools import lru_cache

import zxingcpp
from PIL import Image

from . import geometry
from .params import SIZE_MAX, SIZE_MIN, QrParams, Unscannable
from .render import render
from .symbol import encode

# The proof is drawn small, as a phone sees a printed code from arm's length.
PIXELS_PER_MODULE = 5


def prove(params: QrParams) -> None:
    """Raise Unscannable, saying what to change, unless `params` decodes back to exactly its data."""
    problem = verdict(params)
    if problem:
        raise Unscannable(problem)


@lru_cache(maxsize=512)
def verdict(params: QrParams) -> str | None:
    """Why `params` would not scan, or None when it reads back as its data."""
    modules = encode(params.data, params.ecc).symbol_size(scale=1, border=0)[0]
    across = geometry.width_in_modules(modules, params.margin, framed=params.frame is not None)
    size = min(SIZE_MAX, max(SIZE_MIN, math.ceil(across * PIXELS_PER_MODULE)))
    drawn = dataclasses.replace(params, format="png", size=size, size_mm=None)
    image = Image.open(io.BytesIO(render(drawn))).convert("RGBA")
    page = Image.new("RGBA", image.size, "white")  # transparent parts print on white paper
    page.alpha_composite(image)
    found = zxingcpp.read_barcodes(
        page.convert("RGB"), formats=zxingcpp.BarcodeFormat.QRCode, text_mode=zxingcpp.TextMode.Plain
    )
    if any(result.text == params.data for result in found):
        return None
    return (
        f"This style does not scan: drawn at {PIXELS_PER_MODULE} pixels a module, zxing-cpp could not "
        f"read it back. Change {_what_to_change(params)}."
    )


def _what_to_change(params: QrParams) -> str:
    ideas = []
    if params.dots != "square":
        ideas.append(f'the dots ("{params.dots}") to square or rounded')
    if params.corners != "square" or params.corner_dots != "square":
        ideas.append("the corners to square")
    if params.gradient:
        ideas.append("the gradient to a darker end colour, or none")
    if params.margin < 2:
        ideas.append(f"the margin ({params.margin}) to 4 modules")
    if params.ecc != "H":
        ideas.append("the error correction to H")
    ideas.append("the colours to darker modules on a lighter ground")
    return ", ".join(ideas[:-1]) + (", or " if len(ideas) > 1 else "") + ideas[-1]
