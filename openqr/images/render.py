"""QR images: validate image parameters and render them as PNG or SVG with segno."""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import segno

from ..text import anchored, closed

FORMATS = {"png": "image/png", "svg": "image/svg+xml"}
ECC_LEVELS = ("L", "M", "Q", "H")
SIZE_MIN, SIZE_MAX = 64, 4096
MARGIN_MIN, MARGIN_MAX = 0, 16
DATA_MAX_CHARS = 2048
MIN_CONTRAST = 3.0
TRANSPARENT = "transparent"
STYLE_KEYS = ("dark", "light", "ecc", "margin")

_HEX_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_NORMAL_COLOUR = re.compile("#[0-9a-f]{6}")  # what _check_colour returns
_INTEGER = re.compile(r"[+-]?[0-9]{1,9}")
ETAG_HEX_DIGITS = 32
ETAG = re.compile(f'"[0-9a-f]{{{ETAG_HEX_DIGITS}}}"')  # what etag() makes
_ALPHANUMERIC = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
# What the largest (version 40) code holds per encoding mode and level
# (ISO/IEC 18004 table 7); only used to word the "too long" message.
_CAPACITY = {
    "numeric": ("digits", {"L": 7089, "M": 5596, "Q": 3993, "H": 3057}),
    "alphanumeric": ("characters", {"L": 4296, "M": 3391, "Q": 2420, "H": 1852}),
    "byte": ("bytes", {"L": 2953, "M": 2331, "Q": 1663, "H": 1273}),
}


class QrParamError(ValueError):
    """Bad image parameter. .field is the parameter name; str(err) is one readable sentence."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class QrParams:
    """A valid, normalised image request; constructing one checks every rule."""

    data: str
    format: str = "png"
    size: int = 512
    ecc: str = "M"
    margin: int = 4
    dark: str = "#000000"
    light: str = "#ffffff"

    def __post_init__(self) -> None:
        # Normalising here (not only in parse_query) makes equal images equal
        # cache keys and lets no invalid QrParams reach render().
        values = {
            "format": _check_format("format", self.format),
            "size": _check_int("size", self.size, SIZE_MIN, SIZE_MAX, "pixels"),
            "ecc": _check_ecc("ecc", self.ecc),
            "margin": _check_int("margin", self.margin, MARGIN_MIN, MARGIN_MAX, "modules"),
            "dark": _check_colour("dark", self.dark),
            "light": _check_colour("light", self.light, allow_transparent=True),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)
        _check_contrast("dark", self.dark, self.light)
        modules = _modules(_check_data(self.data, self.ecc), self.ecc)
        minimum = modules + 2 * self.margin
        if self.size < minimum:
            raise QrParamError(
                "size",
                f"size must be at least {minimum} pixels for this data: the code is "
                f"{modules}x{modules} modules plus a {self.margin}-module margin each side.",
            )


def parse_query(
    args: Mapping[str, str], *, style: Mapping | None = None, data: str | None = None
) -> QrParams:
    """QrParams from query-string args over a code's saved `style`; raises QrParamError.

    When `data` is given (a dynamic code's short URL) a `data` arg is refused.
    Args other than the image parameters are ignored.
    """
    values: dict = validate_style(style) if style is not None else {}
    if data is None:
        data = args.get("data")
        if data is None:
            raise QrParamError("data", "data is required: give the text or URL to encode.")
    elif "data" in args:
        raise QrParamError(
            "data",
            "data cannot be set here: this image always encodes the code's own short URL.",
        )
    for key in ("format", "ecc", "dark", "light"):
        if key in args:
            values[key] = args[key]
    for key in ("size", "margin"):
        if key in args:
            values[key] = _parse_int(key, args[key])
    return QrParams(data=data, **values)


def validate_style(style: object) -> dict:
    """A code's saved style, checked like the query and normalised; raises QrParamError."""
    if not isinstance(style, dict):
        raise QrParamError(
            "style",
            f"style must be a JSON object with any of: {', '.join(STYLE_KEYS)}.",
        )
    clean: dict = {}
    for key, value in style.items():
        field = f"style.{key}"
        if key == "dark":
            clean[key] = _check_colour(field, value)
        elif key == "light":
            clean[key] = _check_colour(field, value, allow_transparent=True)
        elif key == "ecc":
            clean[key] = _check_ecc(field, value)
        elif key == "margin":
            margin = _parse_int(field, value) if isinstance(value, str) else value
            clean[key] = _check_int(field, margin, MARGIN_MIN, MARGIN_MAX, "modules")
        else:
            raise QrParamError(
                field,
                f"{field} is not a style setting; the settings are {', '.join(STYLE_KEYS)}.",
            )
    # Judge the colours as they will be drawn, defaults filling the gaps.
    _check_contrast(
        "style.dark",
        clean.get("dark", QrParams.dark),
        clean.get("light", QrParams.light),
    )
    return clean


# --- the same rules as JSON Schema (the OpenAPI document reads these) ---


def query_schema() -> dict[str, dict]:
    """The image parameters `parse_query` reads (all but `data`), each with its description."""
    return {
        "format": {
            "type": "string",
            "enum": list(FORMATS),
            "default": QrParams.format,
            "description": "Image format.",
        },
        "size": {
            "type": "integer",
            "minimum": SIZE_MIN,
            "maximum": SIZE_MAX,
            "default": QrParams.size,
            "description": "Edge in pixels; too small for the data is a 400 saying the minimum.",
        },
        "ecc": {
            "type": "string",
            "enum": list(ECC_LEVELS),
            "description": "Error correction level, lowest to highest.",
        },
        "margin": {**_margin_schema(), "default": QrParams.margin, "description": "Quiet zone in modules."},
        "dark": {
            **_colour_schema(),
            "description": "Module colour, `#rgb` or `#rrggbb` (write `#` as `%23`).",
        },
        "light": {
            **_colour_schema(allow_transparent=True),
            "description": f"Background colour or `{TRANSPARENT}`; must contrast with `dark` by at least "
            f"{MIN_CONTRAST:g}:1.",
        },
    }


def data_schema() -> dict:
    """The `data` parameter of `parse_query`."""
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": DATA_MAX_CHARS,
        "description": "The text or URL to encode.",
    }


def style_schema() -> dict:
    """A style as `validate_style` takes it."""
    fields = {
        "dark": _colour_schema(),
        "light": _colour_schema(allow_transparent=True),
        "ecc": {"type": "string", "enum": [*ECC_LEVELS, *(level.lower() for level in ECC_LEVELS)]},
        "margin": {"anyOf": [_margin_schema(), {"type": "string", "pattern": anchored(_INTEGER)}]},
    }
    says = f"How the code's image is drawn; dark must contrast with light by at least {MIN_CONTRAST:g}:1."
    return closed({key: fields[key] for key in STYLE_KEYS}, [], says)


def stored_style_schema() -> dict:
    """A style as `validate_style` returns it: colours normalised, `ecc` in capitals."""
    colour = {"type": "string", "pattern": anchored(_NORMAL_COLOUR)}
    fields = {
        "dark": colour,
        "light": {"anyOf": [colour, {"const": TRANSPARENT}]},
        "ecc": {"type": "string", "enum": list(ECC_LEVELS)},
        "margin": _margin_schema(),
    }
    return closed({key: fields[key] for key in STYLE_KEYS}, [])


def _colour_schema(*, allow_transparent: bool = False) -> dict:
    colour = {"type": "string", "pattern": anchored(_HEX_COLOUR)}
    return {"anyOf": [colour, {"const": TRANSPARENT}]} if allow_transparent else colour


def _margin_schema() -> dict:
    return {"type": "integer", "minimum": MARGIN_MIN, "maximum": MARGIN_MAX}


@lru_cache(maxsize=256)
def render(params: QrParams) -> bytes:
    """The image bytes; the same params always give identical bytes (cached)."""
    qr = _encode(params.data, params.ecc)
    modules = qr.symbol_size(scale=1, border=0)[0]
    scale = params.size // (modules + 2 * params.margin)
    # The pixels that do not divide evenly widen the quiet zone, code centred.
    lead = params.margin * scale + (params.size - scale * (modules + 2 * params.margin)) // 2
    # The module rows (1 = dark) without a border; `matrix` rather than
    # matrix_iter(), whose per-module generator costs more than the whole PNG.
    rows = qr.matrix
    if params.format == "svg":
        return _svg(rows, params, scale, lead)
    return _png(rows, params, scale, lead, params.size - lead - modules * scale)


@lru_cache(maxsize=256)
def etag(params: QrParams) -> str:
    """A strong, quoted ETag: a hash of the rendered bytes."""
    return f'"{hashlib.sha256(render(params)).hexdigest()[:ETAG_HEX_DIGITS]}"'


def media_type(fmt: str) -> str:
    """The Content-Type of a format ("png" or "svg")."""
    return FORMATS[_check_format("format", fmt)]


def _check_format(field: str, value: object) -> str:
    if isinstance(value, str) and value.lower() in FORMATS:
        return value.lower()
    raise QrParamError(field, f'{field} must be "png" or "svg".')


def _check_ecc(field: str, value: object) -> str:
    if isinstance(value, str) and value.upper() in ECC_LEVELS:
        return value.upper()
    raise QrParamError(
        field,
        f"{field} must be one of L, M, Q or H (error correction, lowest to highest).",
    )


def _parse_int(field: str, value: object) -> int:
    """A query string's digits, or an integer as an assistant's JSON arguments carry it."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str) or not _INTEGER.fullmatch(value):
        raise QrParamError(field, f"{field} must be a whole number, not {str(value)[:20]!r}.")
    return int(value)


def _check_int(field: str, value: object, low: int, high: int, unit: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise QrParamError(field, f"{field} must be a whole number of {unit} from {low} to {high}.")
    return value


def _check_colour(field: str, value: object, *, allow_transparent: bool = False) -> str:
    if allow_transparent and isinstance(value, str) and value.lower() == TRANSPARENT:
        return TRANSPARENT
    if not isinstance(value, str) or not _HEX_COLOUR.fullmatch(value):
        also = ' or "transparent"' if allow_transparent else ""
        raise QrParamError(
            field,
            f'{field} must be a colour written "#rgb" or "#rrggbb"{also} (in a URL, write # as %23).',
        )
    digits = value[1:].lower()
    return "#" + (digits if len(digits) == 6 else "".join(c * 2 for c in digits))


def _luminance(colour: str) -> float:
    # WCAG 2 relative luminance of a "#rrggbb" colour.
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _check_contrast(field: str, dark: str, light: str) -> None:
    if light == TRANSPARENT:
        return
    if dark == light:
        raise QrParamError(field, f"dark and light must be different colours (both are {dark}).")
    dark_lum, light_lum = _luminance(dark), _luminance(light)
    # Many scanners only read dark modules on a lighter ground.
    if dark_lum > light_lum:
        raise QrParamError(
            field,
            f"dark ({dark}) must be darker than light ({light}): many scanners cannot read inverted codes.",
        )
    ratio = (light_lum + 0.05) / (dark_lum + 0.05)
    if ratio < MIN_CONTRAST:
        raise QrParamError(
            field,
            f"dark ({dark}) and light ({light}) have too little contrast for scanners "
            f"({math.floor(ratio * 100) / 100:.2f}:1; at least {MIN_CONTRAST:g}:1 is needed).",
        )


def _mode(data: str) -> str:
    if data.isascii() and data.isdigit():
        return "numeric"
    if all(c in _ALPHANUMERIC for c in data):
        return "alphanumeric"
    return "byte"


def _check_data(data: object, ecc: str) -> str:
    if not isinstance(data, str) or not data:
        raise QrParamError("data", "data is required: give the text or URL to encode.")
    if len(data) > DATA_MAX_CHARS:
        raise QrParamError(
            "data",
            f"data is {len(data)} characters long; the limit is {DATA_MAX_CHARS}.",
        )
    try:
        needed = len(data.encode("utf-8"))
    except UnicodeEncodeError:
        raise QrParamError("data", "data must be valid Unicode text.") from None
    try:
        _encode(data, ecc)
    except segno.DataOverflowError:
        mode = _mode(data)
        unit, capacity = _CAPACITY[mode]
        if mode != "byte":
            needed = len(data)
        raise QrParamError(
            "data",
            f"data is too long for a QR code at error correction level {ecc}: it needs {needed} {unit} "
            f"and the largest code holds {capacity[ecc]}; "
            "shorten it or choose a lower level (L holds the most).",
        ) from None
    return data


@lru_cache(maxsize=256)
def _encode(data: str, ecc: str) -> segno.QRCode:
    # Non-ASCII text goes as UTF-8 bytes with the mode forced: left to itself segno
    # picks Latin-1 or Shift_JIS (misread by scanners that guess UTF-8), or kanji
    # mode when UTF-8 bytes happen to look like Shift_JIS.
    return segno.make_qr(data, error=ecc, boost_error=False, mode=_mode(data), encoding="utf-8")


def _modules(data: str, ecc: str) -> int:
    return _encode(data, ecc).symbol_size(scale=1, border=0)[0]


def _png(rows, params: QrParams, scale: int, lead: int, trail: int) -> bytes:
    # A 1-bit palette PNG written directly: segno cannot pad to an exact size,
    # and building each module row once as a bit string is faster than its writer.
    size = params.size
    row_bytes = (size + 7) // 8
    on, off = "1" * scale, "0" * scale
    left = "0" * lead
    right = "0" * (trail + row_bytes * 8 - size)
    blank = bytes(row_bytes + 1)  # filter byte 0, then light pixels
    lines = [blank * lead]
    for row in rows:
        bits = left + "".join([on if dark else off for dark in row]) + right
        lines.append((b"\0" + int(bits, 2).to_bytes(row_bytes, "big")) * scale)
    lines.append(blank * trail)
    light = "#ffffff" if params.light == TRANSPARENT else params.light
    palette = bytes.fromhex(light[1:] + params.dark[1:])  # index 0 light, 1 dark
    chunks = [
        _chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 1, 3, 0, 0, 0)),
        _chunk(b"PLTE", palette),
    ]
    if params.light == TRANSPARENT:
        chunks.append(_chunk(b"tRNS", b"\0"))
    chunks.append(_chunk(b"IDAT", zlib.compress(b"".join(lines), 6)))
    chunks.append(_chunk(b"IEND", b""))
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _svg(rows, params: QrParams, scale: int, lead: int) -> bytes:
    # The same layout as the PNG in a size x size viewBox: identical at its own
    # size, and it scales. Each run of dark modules in a row is one rectangle.
    runs = []
    for y, row in enumerate(rows):
        x = 0
        for dark, group in itertools.groupby(row):
            width = len(list(group))
            if dark:
                runs.append(f"M{x} {y}h{width}v1h-{width}z")
            x += width
    size = params.size
    background = (
        "" if params.light == TRANSPARENT else f'<rect width="{size}" height="{size}" fill="{params.light}"/>'
    )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 {size} {size}">'
        f"{background}"
        f'<path transform="translate({lead} {lead}) scale({scale})" fill="{params.dark}" '
        f'shape-rendering="crispEdges" d="{"".join(runs)}"/></svg>\n'
    )
    return svg.encode("ascii")
