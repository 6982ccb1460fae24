"""One drawing of a styled code, made once and drawn by every writer (PNG, SVG, PDF, EPS).

A `Drawing` is layers of paint: each a colour or a gradient and the shapes it fills, in the
writer's own units (pixels, millimetres or points; y grows downwards). Every shape is a `Box`, a
rectangle with its own radius at each corner (a circle, a rounded module, a quarter disc, a
finder's ring are all boxes), with at most one box cut out of it; the frame's words are glyphs
of the shipped font. The dot and corner styles are defined here and only here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import font
from .symbol import encode

if TYPE_CHECKING:
    from .params import QrParams

FINDER = 7  # a finder pattern is 7 x 7 modules: a ring of 7, a gap, a 3 x 3 centre
KAPPA = 0.5522847498  # the Bezier handle that draws a quarter circle


@dataclass(frozen=True)
class Box:
    """A rectangle whose corners (top-left, top-right, bottom-right, bottom-left) are rounded."""

    x: float
    y: float
    w: float
    h: float
    radii: tuple[float, float, float, float] = (0, 0, 0, 0)


@dataclass(frozen=True)
class Shape:
    outer: Box
    hole: Box | None = None


@dataclass(frozen=True)
class Text:
    """Glyphs of the shipped font: each character with the x of its origin, on one baseline."""

    chars: tuple[tuple[str, float], ...]
    baseline: float
    size: float


@dataclass(frozen=True)
class Linear:
    x0: float
    y0: float
    x1: float
    y1: float
    start: str
    end: str


@dataclass(frozen=True)
class Radial:
    cx: float
    cy: float
    r: float
    start: str
    end: str


@dataclass
class Layer:
    paint: str | Linear | Radial
    shapes: list[Shape] = field(default_factory=list)
    text: Text | None = None


@dataclass
class Drawing:
    width: float
    height: float
    background: str | None  # the colour under everything, None for transparent (or a frame's card)
    layers: list[Layer]
    crisp: bool  # only squares on the module grid: writers may skip anti-aliasing


def width_in_modules(modules: int, margin: int, *, framed: bool) -> float:
    """How many modules wide the image is: the symbol, its quiet zone and any frame."""
    units = modules + 2 * margin
    return units + 2 * _frame_side(units) if framed else units


def height_in_modules(modules: int, margin: int, *, framed: bool) -> float:
    """How many modules tall the image is when drawn to any scale (a frame adds its caption)."""
    units = modules + 2 * margin
    return _frame_side(units) + units + _caption(units) if framed else units


def _caption(units: int) -> float:
    # The band under the code that holds the frame's words.
    return max(3.0, 0.17 * units)


def _frame_border(units: int) -> float:
    return max(0.5, 0.025 * units)


def _frame_side(units: int) -> float:
    # The border, then light ground between it and the code's own quiet zone.
    return _frame_border(units) + max(1.0, 0.055 * units)


def layout(params: QrParams, width: float, *, snap: bool) -> Drawing:
    """The drawing of `params`, `width` units wide. With `snap` (pixels) a module is a whole
    number of units and the code sits on whole units; the pixels left over widen the margin."""
    matrix = encode(params.data, params.ecc).matrix
    n = len(matrix)
    units = n + 2 * params.margin
    across = width_in_modules(n, params.margin, framed=params.frame is not None)
    module = int(width // across) if snap else width / across
    left = (width - units * module) // 2 if snap else (width - units * module) / 2
    height = width
    layers: list[Layer] = []
    if params.frame:
        caption = _caption(units) * module
        height = left + units * module + caption
        height = math.ceil(height) if snap else height
        layers += _frame(params, width, height, module, units, bottom=left + units * module)
    x0 = y0 = left + params.margin * module
    layers.append(Layer(_dots_paint(params, x0, y0, n * module), _dots(params, matrix, x0, y0, module)))
    corner = params.corner_color or params.dark
    rings, centres = _corners(params, n, x0, y0, module)
    layers += [Layer(corner, rings), Layer(corner, centres)]
    crisp = params.dots == params.corners == params.corner_dots == "square" and not params.frame
    background = None if params.frame or params.light == "transparent" else params.light
    return Drawing(width, height, background, _merged(layers), crisp)


def _merged(layers: list[Layer]) -> list[Layer]:
    # Neighbouring layers of one paint are one fill: fewer, smaller paths in every writer.
    out: list[Layer] = []
    for layer in layers:
        last = out[-1] if out else None
        if last and last.paint == layer.paint and not (last.text and layer.text):
            out[-1] = Layer(last.paint, last.shapes + layer.shapes, last.text or layer.text)
        else:
            out.append(layer)
    return out


def _in_finder(row: int, col: int, n: int) -> bool:
    return (row < FINDER and (col < FINDER or col >= n - FINDER)) or (row >= n - FINDER and col < FINDER)


def _dots(params: QrParams, matrix, x0: float, y0: float, module: float) -> list[Shape]:
    n = len(matrix)

    def dark(row: int, col: int) -> bool:
        return 0 <= row < n and 0 <= col < n and bool(matrix[row][col]) and not _in_finder(row, col, n)

    shapes = []
    for row in range(n):
        y = y0 + row * module
        col = 0
        while col < n:
            if not dark(row, col):
                col += 1
                continue
            if params.dots == "square":  # a run of squares is one rectangle
                end = col
                while end < n and dark(row, end):
                    end += 1
                shapes.append(Shape(Box(x0 + col * module, y, (end - col) * module, module)))
                col = end
                continue
            near = (dark(row, col - 1), dark(row - 1, col), dark(row, col + 1), dark(row + 1, col))
            radii = tuple(r * module for r in dot_radii(params.dots, *near))
            shapes.append(Shape(Box(x0 + col * module, y, module, module, radii)))
            col += 1
    return shapes


def dot_radii(style: str, left: bool, top: bool, right: bool, bottom: bool) -> tuple[float, ...]:
    """The corner radii (top-left, top-right, bottom-right, bottom-left) of one module, in modules,
    from which of its four neighbours are dark too: shapes flow into their neighbours."""
    count = left + top + right + bottom
    if style == "dots":
        return (0.5,) * 4
    if style in ("rounded", "extra-rounded"):
        if count == 0:
            return (0.5,) * 4  # a lone module is a dot
        if count > 2 or (left and right) or (top and bottom):
            return (0,) * 4  # inside a line or a block
        if count == 2:  # an elbow: round the corner away from both neighbours
            r = 1.0 if style == "extra-rounded" else 0.5
            return (
                r if right and bottom else 0,
                r if left and bottom else 0,
                r if left and top else 0,
                r if top and right else 0,
            )
        # The end of a line: a half circle away from its one neighbour.
        return (
            0.5 if right or bottom else 0,
            0.5 if left or bottom else 0,
            0.5 if left or top else 0,
            0.5 if right or top else 0,
        )
    if style in ("classy", "classy-rounded"):
        r = 1.0 if style == "classy-rounded" else 0.5
        if count == 0:
            return (0.5, 0, 0.5, 0)  # a leaf: two opposite corners
        if not left and not top:
            return (r, 0, 0, 0)
        if not right and not bottom:
            return (0, 0, r, 0)
    return (0,) * 4


# Each finder style as (ring, cut-out, centre), in modules from the pattern's top-left corner.
_RING = {"square": (0, 0), "dot": (3.5, 2.5), "extra-rounded": (2.5, 1.5)}
_CENTRE = {"square": 0, "dot": 1.5}


def _corners(params: QrParams, n: int, x0: float, y0: float, module: float) -> tuple[list, list]:
    outer, inner = _RING[params.corners]
    centre = _CENTRE[params.corner_dots]
    rings, centres = [], []
    for col, row in ((0, 0), (n - FINDER, 0), (0, n - FINDER)):
        x, y = x0 + col * module, y0 + row * module
        ring = Box(x, y, FINDER * module, FINDER * module, (outer * module,) * 4)
        cut = Box(x + module, y + module, 5 * module, 5 * module, (inner * module,) * 4)
        rings.append(Shape(ring, cut))
        centres.append(
            Shape(Box(x + 2 * module, y + 2 * module, 3 * module, 3 * module, (centre * module,) * 4))
        )
    return rings, centres


def _dots_paint(params: QrParams, x0: float, y0: float, side: float) -> str | Linear | Radial:
    gradient = params.gradient
    if gradient is None:
        return params.dark
    cx, cy = x0 + side / 2, y0 + side / 2
    if gradient.type == "radial":  # from the centre out to the symbol's corners
        return Radial(cx, cy, side / math.sqrt(2), params.dark, gradient.to)
    # Along `rotation` degrees (0: left to right, 90: top to bottom), across the whole symbol.
    angle = math.radians(gradient.rotation)
    dx, dy = math.cos(angle), math.sin(angle)
    reach = (abs(dx) + abs(dy)) * side / 2
    return Linear(
        cx - dx * reach, cy - dy * reach, cx + dx * reach, cy + dy * reach, params.dark, gradient.to
    )


def _frame(
    params: QrParams, width: float, height: float, module: float, units: int, bottom: float
) -> list[Layer]:
    """The card (light, white when transparent), its border and the words under the code."""
    border = _frame_border(units) * module
    radius = max(1.5 * border, 0.06 * units * module)
    colour = params.frame.color or params.dark
    card_colour = "#ffffff" if params.light == "transparent" else params.light
    card = Box(0, 0, width, height, (radius,) * 4)
    cut = Box(border, border, width - 2 * border, height - 2 * border, (radius - border,) * 4)
    caption = height - border - bottom
    size, spacing = 0.5 * caption, 0.08 * caption
    text = params.frame.text
    advances = [font.advance(ch) for ch in text]
    room = width - 2 * (radius + border)
    wide = sum(advances) * size + spacing * (len(text) - 1)
    if wide > room:  # long words get smaller rather than leave the card
        size, spacing, wide = size * room / wide, spacing * room / wide, room
    x = (width - wide) / 2
    chars = []
    for ch, step in zip(text, advances, strict=True):
        chars.append((ch, x))
        x += step * size + spacing
    baseline = bottom + caption / 2 + font.cap_height() * size / 2
    return [
        Layer(card_colour, [Shape(card)]),
        Layer(colour, [Shape(card, cut)], Text(tuple(chars), baseline, size)),
    ]


def box_path(box: Box) -> list[tuple]:
    """The outline of a box as path operations ("M"/"L" x y, "C" x1 y1 x2 y2 x y, "Z"), clockwise."""
    x, y, w, h = box.x, box.y, box.w, box.h
    tl, tr, br, bl = box.radii
    ops: list[tuple] = [("M", x + tl, y)]

    def line(px: float, py: float) -> None:
        if ops[-1][-2:] != (px, py):
            ops.append(("L", px, py))

    line(x + w - tr, y)
    if tr:
        ops.append(("C", x + w - tr + KAPPA * tr, y, x + w, y + tr - KAPPA * tr, x + w, y + tr))
    line(x + w, y + h - br)
    if br:
        ops.append(("C", x + w, y + h - br + KAPPA * br, x + w - br + KAPPA * br, y + h, x + w - br, y + h))
    line(x + bl, y + h)
    if bl:
        ops.append(("C", x + bl - KAPPA * bl, y + h, x, y + h - bl + KAPPA * bl, x, y + h - bl))
    line(x, y + tl)
    if tl:
        ops.append(("C", x, y + tl - KAPPA * tl, x + tl - KAPPA * tl, y, x + tl, y))
    ops.append(("Z",))
    return ops


def layer_path(layer: Layer) -> list[tuple]:
    """Every outline of a layer, its shapes' and its glyphs', to be filled even-odd."""
    ops: list[tuple] = []
    for shape in layer.shapes:
        ops += box_path(shape.outer)
        if shape.hole:
            ops += box_path(shape.hole)
    if layer.text:
        size, base = layer.text.size, layer.text.baseline
        for ch, left in layer.text.chars:
            for op in font.outline(ch):
                if op[0] == "Z":
                    ops.append(op)
                else:
                    coords = op[1:]
                    ops.append(
                        (
                            op[0],
                            *(
                                left + v * size if i % 2 == 0 else base - v * size
                                for i, v in enumerate(coords)
                            ),
                        )
                    )
    return ops
