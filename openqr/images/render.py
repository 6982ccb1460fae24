"""QR images: render valid image parameters as PNG, SVG, PDF or EPS bytes, and their ETags.

The rules of the parameters live in `params` (named here too, as callers have always used them);
the drawing in `geometry`; the writers in `png` and `vector`. Rendering is pure: the same
parameters always give the same bytes.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

from . import png, vector
from .geometry import layout
from .params import (  # noqa: F401 (the names callers use from here)
    CORNER_DOTS,
    CORNERS,
    DATA_MAX_CHARS,
    DOTS,
    ECC_LEVELS,
    FORMATS,
    FRAME_TEXT_MAX,
    GRADIENT_TYPES,
    MARGIN_MAX,
    MARGIN_MIN,
    MIN_CONTRAST,
    SIZE_MAX,
    SIZE_MIN,
    SIZE_MM_DEFAULT,
    SIZE_MM_MAX,
    SIZE_MM_MIN,
    STYLE_KEYS,
    TRANSPARENT,
    Frame,
    Gradient,
    QrParamError,
    QrParams,
    Unscannable,
    _check_format,
    data_schema,
    parse_query,
    query_schema,
    stored_style_schema,
    style_schema,
    validate_style,
)

ETAG_HEX_DIGITS = 32
ETAG = re.compile(f'"[0-9a-f]{{{ETAG_HEX_DIGITS}}}"')  # what etag() makes


@lru_cache(maxsize=256)
def render(params: QrParams) -> bytes:
    """The image bytes; the same params always give identical bytes (cached)."""
    if params.format == "png":
        return png.write(layout(params, params.size, snap=True))
    if params.format == "svg":
        if params.size_mm is None:  # sized in pixels, drawn on the same grid as the PNG
            return vector.svg(layout(params, params.size, snap=True))
        return vector.svg(layout(params, params.size_mm, snap=False), unit="mm")
    drawing = layout(params, params.size_mm * vector.POINTS_PER_MM, snap=False)
    return vector.pdf(drawing) if params.format == "pdf" else vector.eps(drawing)


@lru_cache(maxsize=256)
def etag(params: QrParams) -> str:
    """A strong, quoted ETag: a hash of the rendered bytes."""
    return etag_of(render(params))


def etag_of(image: bytes) -> str:
    """The strong, quoted ETag of an image's bytes."""
    return f'"{hashlib.sha256(image).hexdigest()[:ETAG_HEX_DIGITS]}"'


def media_type(fmt: str) -> str:
    """The Content-Type of a format (png, svg, pdf or eps)."""
    return FORMATS[_check_format("format", fmt)]
