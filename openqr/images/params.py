"""The rules of an image: what a query or a saved `style` may hold, checked and normalised once.

`QrParams` is a valid image request (constructing one checks every rule); `validate_style` cleans a
style to be saved; `parse_query` lays a query over a saved style. A refusal is a `QrParamError`
naming its field, or `Unscannable` (field `style`) when a saved style would not scan.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import segno
from segno import encoder

from ..text import anchored
from . import font, geometry
from .symbol import mode_of

FORMATS = {
    "png": "image/png",
    "svg": "image/svg+xml",
    "pdf": "application/pdf",
    "eps": "application/postscript",
}
VECTOR_FORMATS = ("svg", "pdf", "eps")  # the ones sized in millimetres by size_mm
ECC_LEVELS = ("L", "M", "Q", "H")
SIZE_MIN, SIZE_MAX = 64, 4096
SIZE_MM_MIN, SIZE_MM_MAX, SIZE_MM_DEFAULT = 10, 1000, 40
MARGIN_MIN, MARGIN_MAX = 0, 16
DATA_MAX_CHARS = 2048
MIN_CONTRAST = 3.0
TRANSPARENT = "transparent"
DOTS = ("square", "rounded", "dots", "classy", "classy-rounded", "extra-rounded")
CORNERS = ("square", "dot", "extra-rounded")
CORNER_DOTS = ("square", "dot")
GRADIENT_TYPES = ("linear", "radial")
ROTATION_MIN, ROTATION_MAX = 0, 359
FRAME_TEXT_MIN, FRAME_TEXT_MAX = 1, 32
STYLE_KEYS = (
    "dark",
    "light",
    "ecc",
    "margin",
    "dots",
    "corners",
    "corner_dots",
    "corner_color",
    "gradient",
    "frame",
)
GRADIENT_KEYS = ("type", "to", "rotation")
FRAME_KEYS = ("text", "color")

HEX_COLOUR = r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})"
INTEGER_TEXT = r"[+-]?[0-9]{1,9}"
_HEX_COLOUR = re.compile(HEX_COLOUR)
_NORMAL_COLOUR = re.compile("#[0-9a-f]{6}")  # what _check_colour returns
_INTEGER = re.compile(INTEGER_TEXT)
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


class Unscannable(QrParamError):
    """A style that scanners would not read: too little contrast, or its rendering did not decode."""

    def __init__(self, message: str):
        super().__init__("style", message)


@dataclass(frozen=True)
class Gradient:
    """The modules' colour runs from `dark` to `to`, along `rotation` degrees (linear) or outwards."""

    type: str
    to: str
    rotation: int = 0


@dataclass(frozen=True)
class Frame:
    """A rounded card around the code with `text` under it, drawn in `color` (None: dark)."""

    text: str
    color: str | None = None


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
    size_mm: int | None = None
    dots: str = "square"
    corners: str = "square"
    corner_dots: str = "square"
    corner_color: str | None = None
    gradient: Gradient | None = None
    frame: Frame | None = None

    def __post_init__(self) -> None:
        # Normalising here (not only in parse_query) makes equal images equal
        # cache keys and lets no invalid QrParams reach render().
        fmt = _check_format("format", self.format)
        values = {
            "format": fmt,
            "size": _check_int("size", self.size, SIZE_MIN, SIZE_MAX, "pixels"),
            "size_mm": _check_size_mm(fmt, self.size_mm),
            "ecc": _check_ecc("ecc", self.ecc),
            "margin": _check_int("margin", self.margin, MARGIN_MIN, MARGIN_MAX, "modules"),
            "dark": _check_colour("dark", self.dark),
            "light": _check_colour("light", self.light, allow_transparent=True),
            "dots": _check_choice("dots", self.dots, DOTS),
            "corners": _check_choice("corners", self.corners, CORNERS),
            "corner_dots": _check_choice("corner_dots", self.corner_dots, CORNER_DOTS),
            "corner_color": _check_colour("corner_color", self.corner_color, allow_null=True),
            "gradient": _as_gradient("gradient", self.gradient),
            "frame": _as_frame("frame", self.frame),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)
        problem = contrast_problem(
            colours_of(self.dark, self.corner_color, self.gradient, self.frame), self.light
        )
        if problem:
            raise QrParamError(problem[0], problem[1])
        modules = _modules(_check_data(self.data, self.ecc), self.ecc)
        if self.format == "png" or (self.format == "svg" and self.size_mm is None):
            minimum = math.ceil(geometry.width_in_modules(modules, self.margin, framed=bool(self.frame)))
            if self.size < minimum:
                framed = " and the frame" if self.frame else ""
                raise QrParamError(
                    "size",
                    f"size must be at least {minimum} pixels for this data: the code is "
                    f"{modules}x{modules} modules plus a {self.margin}-module margin each side{framed}.",
                )


def colours_of(
    dark: str, corner_color: str | None, gradient: Gradient | None, frame: Frame | None
) -> list[tuple[str, str]]:
    """Every (field, colour) drawn on the light ground: each must contrast with it."""
    found = [("dark", dark)]
    if corner_color:
        found.append(("corner_color", corner_color))
    if gradient:
        found.append(("gradient", gradient.to))
    if frame and frame.color:
        found.append(("frame", frame.color))
    return found


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
    for key in ("size", "margin", "size_mm"):
        if key in args:
            values[key] = _parse_int(key, args[key])
    return QrParams(data=data, **values)


def validate_style(style: object) -> dict:
    """A style to be saved, checked like the query and normalised; raises QrParamError, or
    Unscannable when its colours would not scan."""
    if not isinstance(style, dict):
        raise QrParamError(
            "style",
            f"style must be a JSON object with any of: {', '.join(STYLE_KEYS)}.",
        )
    clean: dict = {}
    for key, value in style.items():
        field = f"style.{key}"
        if key not in STYLE_KEYS:
            raise QrParamError(
                field,
                f"{field} is not a style setting; the settings are {', '.join(STYLE_KEYS)}.",
            )
        clean[key] = _STYLE_CHECKS[key](field, value)
    # Judge the colours as they will be drawn, defaults filling the gaps.
    colours = colours_of(
        clean.get("dark", QrParams.dark),
        clean.get("corner_color"),
        _as_gradient("style.gradient", clean.get("gradient")),
        _as_frame("style.frame", clean.get("frame")),
    )
    problem = contrast_problem(colours, clean.get("light", QrParams.light))
    if problem:
        raise Unscannable(problem[1])
    if clean.get("corners") == "dot" and clean.get("corner_dots", QrParams.corner_dots) == "square":
        # Scanners check a finder pattern across its diagonal too, where a square centre in a
        # round ring breaks the 1:1:3:1:1 rhythm: no size of it decodes reliably.
        raise Unscannable(
            'Round corners ("dot") around square centres do not scan: scanners lose the finder patterns. '
            'Choose corner_dots "dot", or corners "square" or "extra-rounded".'
        )
    return clean


def _clean_margin(field: str, value: object) -> int:
    margin = _parse_int(field, value) if isinstance(value, str) else value
    return _check_int(field, margin, MARGIN_MIN, MARGIN_MAX, "modules")


def _clean_gradient(field: str, value: object) -> dict | None:
    gradient = _as_gradient(field, value)
    return (
        None
        if gradient is None
        else {"type": gradient.type, "to": gradient.to, "rotation": gradient.rotation}
    )


def _clean_frame(field: str, value: object) -> dict | None:
    frame = _as_frame(field, value)
    return None if frame is None else {"text": frame.text, "color": frame.color}


_STYLE_CHECKS = {
    "dark": lambda field, value: _check_colour(field, value),
    "light": lambda field, value: _check_colour(field, value, allow_transparent=True),
    "ecc": lambda field, value: _check_ecc(field, value),
    "margin": _clean_margin,
    "dots": lambda field, value: _check_choice(field, value, DOTS),
    "corners": lambda field, value: _check_choice(field, value, CORNERS),
    "corner_dots": lambda field, value: _check_choice(field, value, CORNER_DOTS),
    "corner_color": lambda field, value: _check_colour(field, value, allow_null=True),
    "gradient": _clean_gradient,
    "frame": _clean_frame,
}


def _as_gradient(field: str, value: object) -> Gradient | None:
    if value is None or isinstance(value, Gradient):
        return value
    if not isinstance(value, Mapping):
        raise QrParamError(
            field,
            f"{field} must be null or an object such as "
            '{"type": "linear", "to": "#0d47a1", "rotation": 45}.',
        )
    for key in value:
        if key not in GRADIENT_KEYS:
            raise QrParamError(
                f"{field}.{key}", f"{field}.{key} is not a gradient setting; they are type, to and rotation."
            )
    if "to" not in value:
        raise QrParamError(f"{field}.to", f"{field}.to is required: the colour the gradient ends in.")
    rotation = value.get("rotation", 0)
    if isinstance(rotation, str):
        rotation = _parse_int(f"{field}.rotation", rotation)
    return Gradient(
        type=_check_choice(f"{field}.type", value.get("type"), GRADIENT_TYPES),
        to=_check_colour(f"{field}.to", value["to"]),
        rotation=_check_int(f"{field}.rotation", rotation, ROTATION_MIN, ROTATION_MAX, "degrees"),
    )


def _as_frame(field: str, value: object) -> Frame | None:
    if value is None or isinstance(value, Frame):
        return value
    if not isinstance(value, Mapping):
        raise QrParamError(field, f'{field} must be null or an object such as {{"text": "SCAN ME"}}.')
    for key in value:
        if key not in FRAME_KEYS:
            raise QrParamError(
                f"{field}.{key}", f"{field}.{key} is not a frame setting; they are text and color."
            )
    return Frame(
        text=_check_frame_text(f"{field}.text", value.get("text")),
        color=_check_colour(f"{field}.color", value.get("color"), allow_null=True),
    )


def _check_frame_text(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise QrParamError(
            field,
            f"{field} is required: the words under the code, "
            f"{FRAME_TEXT_MIN} to {FRAME_TEXT_MAX} characters.",
        )
    text = " ".join(unicodedata.normalize("NFC", value).split())
    if any(unicodedata.category(ch).startswith("C") for ch in value if ch not in " \t\n"):
        raise QrParamError(field, f"{field} must not contain control characters.")
    if not FRAME_TEXT_MIN <= len(text) <= FRAME_TEXT_MAX:
        raise QrParamError(field, f"{field} must be {FRAME_TEXT_MIN} to {FRAME_TEXT_MAX} characters long.")
    missing = font.missing(text)
    if missing:
        raise QrParamError(
            field,
            f"{field} has characters the frame's font cannot draw ({' '.join(missing)}); "
            "use Latin, Greek or Cyrillic letters, digits and punctuation.",
        )
    return text


def _check_size_mm(fmt: str, value: object) -> int | None:
    if value is None:
        # A PDF or EPS is always made at a printed size; an SVG without one is sized in pixels.
        return SIZE_MM_DEFAULT if fmt in ("pdf", "eps") else None
    if fmt not in VECTOR_FORMATS:
        raise QrParamError("size_mm", "size_mm is for svg, pdf and eps; a png is sized in pixels by size.")
    return _check_int("size_mm", value, SIZE_MM_MIN, SIZE_MM_MAX, "millimetres")


def _check_format(field: str, value: object) -> str:
    if isinstance(value, str) and value.lower() in FORMATS:
        return value.lower()
    raise QrParamError(field, f"{field} must be one of {', '.join(FORMATS)}.")


def _check_choice(field: str, value: object, choices: tuple[str, ...]) -> str:
    if isinstance(value, str) and value.lower() in choices:
        return value.lower()
    raise QrParamError(field, f"{field} must be one of {', '.join(choices)}.")


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


def _check_colour(
    field: str, value: object, *, allow_transparent: bool = False, allow_null: bool = False
) -> str | None:
    if allow_null and value is None:
        return None
    if allow_transparent and isinstance(value, str) and value.lower() == TRANSPARENT:
        return TRANSPARENT
    if not isinstance(value, str) or not _HEX_COLOUR.fullmatch(value):
        also = ' or "transparent"' if allow_transparent else (" or null" if allow_null else "")
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


def contrast_problem(colours: list[tuple[str, str]], light: str) -> tuple[str, str] | None:
    """(field, message) for the first colour that would not scan on `light`, or None.

    A transparent light is judged as the white a code is usually printed on.
    """
    ground = "#ffffff" if light == TRANSPARENT else light
    against = "white (a transparent light prints on white)" if light == TRANSPARENT else f"light ({light})"
    for name, colour in colours:
        if colour == ground:
            return name, f"{name} and light must be different colours (both are {colour})."
        dark_lum, light_lum = _luminance(colour), _luminance(ground)
        # Many scanners only read dark modules on a lighter ground.
        if dark_lum > light_lum:
            return name, (
                f"{name} ({colour}) must be darker than {against}: many scanners cannot read inverted codes."
            )
        ratio = (light_lum + 0.05) / (dark_lum + 0.05)
        if ratio < MIN_CONTRAST:
            return name, (
                f"{name} ({colour}) and {against} have too little contrast for scanners "
                f"({math.floor(ratio * 100) / 100:.2f}:1; at least {MIN_CONTRAST:g}:1 is needed); "
                f"choose a darker {name} or a lighter light."
            )
    return None


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
        _modules(data, ecc)
    except segno.DataOverflowError:
        mode = mode_of(data)
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


@lru_cache(maxsize=1024)
def _modules(data: str, ecc: str) -> int:
    """The code's edge in modules, found the way segno's encoder picks the version (same segments,
    same capacity table) but without drawing the symbol: checking a request costs a fraction of a
    millisecond, and the drawing is left to the render gate. Raises segno.DataOverflowError."""
    segments = encoder.prepare_data(data, encoder.normalize_mode(mode_of(data)), "utf-8")
    version = encoder.find_version(segments, encoder.normalize_errorlevel(ecc), eci=False, micro=False)
    return encoder.calc_matrix_size(version)


def extent(params: QrParams) -> tuple[float, float]:
    """The image's width and height in modules (a frame's words make it taller), judged without
    drawing it."""
    modules, framed = _modules(params.data, params.ecc), params.frame is not None
    return (
        geometry.width_in_modules(modules, params.margin, framed=framed),
        geometry.height_in_modules(modules, params.margin, framed=framed),
    )


def style_schema(*, saved: bool = False) -> dict:
    """The JSON Schema of a style: as sent (`saved=False`, what validate_style accepts) or as
    stored and shown (`saved=True`, normalised), from the same constants the checks use."""
    colour = {"type": "string", "pattern": anchored(_NORMAL_COLOUR if saved else _HEX_COLOUR)}
    whole = {"type": "integer"}
    if not saved:  # a form or a query string sends numbers as text
        whole = {"anyOf": [whole, {"type": "string", "pattern": anchored(_INTEGER)}]}

    def ranged(low: int, high: int) -> dict:
        if saved:
            return {"type": "integer", "minimum": low, "maximum": high}
        return {
            "anyOf": [
                {"type": "integer", "minimum": low, "maximum": high},
                {"type": "string", "pattern": anchored(_INTEGER)},
            ]
        }

    def choice(values: tuple[str, ...]) -> dict:
        return {"type": "string", "enum": list(values)}

    gradient = {
        "type": "object",
        "additionalProperties": False,
        "required": ["type", "to", "rotation"] if saved else ["type", "to"],
        "properties": {
            "type": choice(GRADIENT_TYPES),
            "to": colour,
            "rotation": {**ranged(ROTATION_MIN, ROTATION_MAX), "description": "Degrees, 0 left to right."},
        },
    }
    frame = {
        "type": "object",
        "additionalProperties": False,
        "required": ["text", "color"] if saved else ["text"],
        "properties": {
            "text": {"type": "string", "minLength": FRAME_TEXT_MIN, "maxLength": FRAME_TEXT_MAX},
            "color": {"anyOf": [colour, {"type": "null"}], "description": "`null`: the dark colour."},
        },
    }
    ecc = list(ECC_LEVELS) if saved else [*ECC_LEVELS, *(e.lower() for e in ECC_LEVELS)]
    return {
        "type": "object",
        "additionalProperties": False,
        "description": "How the code's image is drawn. Every colour must contrast with light (white "
        f"for transparent) by at least {MIN_CONTRAST:g}:1, and the style must decode back "
        "(else 400 unscannable).",
        "properties": {
            "dark": colour,
            "light": {"anyOf": [colour, {"const": TRANSPARENT}]},
            "ecc": {"type": "string", "enum": ecc},
            "margin": ranged(MARGIN_MIN, MARGIN_MAX),
            "dots": choice(DOTS),
            "corners": choice(CORNERS),
            "corner_dots": choice(CORNER_DOTS),
            "corner_color": {"anyOf": [colour, {"type": "null"}], "description": "`null`: the dark colour."},
            "gradient": {"anyOf": [gradient, {"type": "null"}], "description": "From dark to `to`."},
            "frame": {
                "anyOf": [frame, {"type": "null"}],
                "description": "A rounded card, the text under the code.",
            },
        },
    }


def stored_style_schema() -> dict:
    """A style as `validate_style` returns it (normalised), as stored and shown."""
    return style_schema(saved=True)


def query_schema() -> dict[str, dict]:
    """The image parameters `parse_query` reads (all but `data`), each with its description."""
    whole = {"type": "integer"}
    return {
        "format": {
            "type": "string",
            "enum": list(FORMATS),
            "default": QrParams.format,
            "description": "Image format.",
        },
        "size": {
            **whole,
            "minimum": SIZE_MIN,
            "maximum": SIZE_MAX,
            "default": QrParams.size,
            "description": "Edge in pixels; too small for the data is a 400 saying the minimum.",
        },
        "size_mm": {
            **whole,
            "minimum": SIZE_MM_MIN,
            "maximum": SIZE_MM_MAX,
            "description": f"Printed width in millimetres, frame included, for {', '.join(VECTOR_FORMATS)} "
            f"(pdf and eps default to {SIZE_MM_DEFAULT}; an svg without it is `size` pixels wide). "
            "A png refuses it.",
        },
        "ecc": {
            "type": "string",
            "enum": list(ECC_LEVELS),
            "description": "Error correction level, lowest to highest.",
        },
        "margin": {
            **whole,
            "minimum": MARGIN_MIN,
            "maximum": MARGIN_MAX,
            "default": QrParams.margin,
            "description": "Quiet zone in modules.",
        },
        "dark": {
            "type": "string",
            "pattern": anchored(_HEX_COLOUR),
            "description": "Module colour, `#rgb` or `#rrggbb` (write `#` as `%23`).",
        },
        "light": {
            "anyOf": [{"type": "string", "pattern": anchored(_HEX_COLOUR)}, {"const": TRANSPARENT}],
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
