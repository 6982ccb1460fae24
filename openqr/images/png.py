"""The PNG writer: Pillow draws the geometry's boxes, anti-aliased, and the frame's glyphs.

Each paint gets a coverage mask. A rounded shape is drawn four times larger and reduced (so its
edges are smooth); repeated module shapes are drawn once and pasted, since they sit on whole
pixels. A code of squares alone comes out as a two-colour, 1-bit PNG as sharp as its grid.
"""

from __future__ import annotations

import io
import math
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from . import font
from .geometry import Box, Drawing, Layer, Linear, Radial

SUPERSAMPLE = 4
# The largest mask drawn at once for shapes off the pixel grid (the frame), in pixels.
_BIG_MASK = 4096 * 4096


def write(drawing: Drawing) -> bytes:
    size = (int(drawing.width), int(drawing.height))
    masks: dict[object, Image.Image] = {}
    for layer in drawing.layers:
        mask = masks.get(layer.paint)
        if mask is None:
            mask = masks[layer.paint] = Image.new("L", size, 0)
        _draw_layer(mask, layer)
    (ink, *others) = masks
    if not others and isinstance(ink, str):
        return _one_ink(masks[ink], ink, drawing.background, drawing.crisp)
    canvas = Image.new("RGBA", size, drawing.background or (0, 0, 0, 0))
    for paint, mask in masks.items():
        colour = (
            _gradient(paint, size) if isinstance(paint, (Linear, Radial)) else Image.new("RGBA", size, paint)
        )
        colour.putalpha(mask)
        canvas.alpha_composite(colour)
    # An opaque image is a third smaller, and quicker to compress, without its alpha channel.
    return _png(canvas.convert("RGB") if drawing.background else canvas)


def _one_ink(mask: Image.Image, ink: str, ground: str | None, crisp: bool) -> bytes:
    # One colour on a ground (or on nothing): a palette image, 1 bit a pixel when it is all squares.
    levels = [0, 255] if crisp else list(range(256))
    image = (mask.point(lambda v: 1 if v else 0) if crisp else mask).convert("P")
    palette, alpha = bytearray(), bytearray()
    for level in levels:
        palette += bytes(_mix(ground or ink, ink, level / 255))
        alpha.append(level)
    image.putpalette(bytes(palette))
    options: dict = {"bits": 1} if crisp else {}
    if ground is None:
        options["transparency"] = bytes(alpha)
    return _png(image, **options)


def _png(image: Image.Image, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=6, **options)
    return out.getvalue()


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


def _mix(a: str, b: str, t: float) -> tuple[int, ...]:
    return tuple(round(x + (y - x) * t) for x, y in zip(_rgb(a), _rgb(b), strict=True))


def _draw_layer(mask: Image.Image, layer: Layer) -> None:
    draw = ImageDraw.Draw(mask)
    tiles: dict[tuple, Image.Image] = {}
    loose = []
    for shape in layer.shapes:
        box = shape.outer
        if shape.hole is None and not any(box.radii) and _on_grid(box):
            draw.rectangle((box.x, box.y, box.x + box.w - 1, box.y + box.h - 1), fill=255)
        elif _on_grid(box) and box.w * box.h * SUPERSAMPLE**2 <= _BIG_MASK:
            # Same shape, same tile: a module style has only a handful.
            key = (box.w, box.h, box.radii, shape.hole and _moved(shape.hole, -box.x, -box.y))
            tile = tiles.get(key)
            if tile is None:
                tile = tiles[key] = _tile(shape, box)
            x, y = int(box.x), int(box.y)
            mask.paste(255, (x, y, x + tile.width, y + tile.height), tile)
        else:
            loose.append(shape)
    if loose:
        _draw_loose(mask, loose)
    if layer.text:
        _draw_text(draw, layer)


def _on_grid(box: Box) -> bool:
    return all(float(v).is_integer() for v in (box.x, box.y, box.w, box.h))


def _moved(box: Box, dx: float, dy: float, scale: float = 1) -> Box:
    return Box(
        (box.x + dx) * scale,
        (box.y + dy) * scale,
        box.w * scale,
        box.h * scale,
        tuple(r * scale for r in box.radii),
    )


def _tile(shape, box: Box) -> Image.Image:
    big = Image.new("L", (int(box.w) * SUPERSAMPLE, int(box.h) * SUPERSAMPLE), 0)
    draw = ImageDraw.Draw(big)
    _fill_box(draw, _moved(box, -box.x, -box.y, SUPERSAMPLE), 255, 0)
    if shape.hole:
        _fill_box(draw, _moved(shape.hole, -box.x, -box.y, SUPERSAMPLE), 0, 255)
    return big.reduce(SUPERSAMPLE)


def _draw_loose(mask: Image.Image, shapes) -> None:
    # Shapes off the pixel grid (the frame): drawn larger as far as memory allows, then reduced.
    scale = max(1, min(SUPERSAMPLE, math.isqrt(_BIG_MASK // (mask.width * mask.height))))
    big = Image.new("L", (mask.width * scale, mask.height * scale), 0)
    draw = ImageDraw.Draw(big)
    for shape in shapes:
        _fill_box(draw, _moved(shape.outer, 0, 0, scale), 255, 0)
        if shape.hole:
            _fill_box(draw, _moved(shape.hole, 0, 0, scale), 0, 255)
    small = big.reduce(scale) if scale > 1 else big
    mask.paste(255, (0, 0), small)


def _fill_box(draw: ImageDraw.ImageDraw, box: Box, fill: int, ground: int) -> None:
    """A box in whole pixels: the rectangle, then each rounded corner cut square and filled as
    a quarter disc (corners never overlap: a radius is at most the box's side)."""
    x0, y0 = round(box.x), round(box.y)
    x1, y1 = round(box.x + box.w), round(box.y + box.h)
    draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=fill)
    tl, tr, br, bl = (round(r) for r in box.radii)
    corners = (
        (tl, x0, y0, x0 + tl, y0 + tl, 180),
        (tr, x1 - tr, y0, x1 - tr, y0 + tr, 270),
        (br, x1 - br, y1 - br, x1 - br, y1 - br, 0),
        (bl, x0, y1 - bl, x0 + bl, y1 - bl, 90),
    )
    for r, corner_x, corner_y, cx, cy, start in corners:
        if r > 0:
            draw.rectangle((corner_x, corner_y, corner_x + r - 1, corner_y + r - 1), fill=ground)
            draw.pieslice((cx - r, cy - r, cx + r - 1, cy + r - 1), start, start + 90, fill=fill)


@lru_cache(maxsize=32)
def _face(size: float) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font.PATH), size=size, layout_engine=ImageFont.Layout.BASIC)


def _draw_text(draw: ImageDraw.ImageDraw, layer: Layer) -> None:
    text = layer.text
    face = _face(text.size)
    for ch, left in text.chars:
        draw.text((left, text.baseline), ch, fill=255, font=face, anchor="ls")


def _gradient(paint: Linear | Radial, size: tuple[int, int]) -> Image.Image:
    """The gradient's colour at every pixel (clamped past its ends), as an RGBA image."""
    width, height = size
    if isinstance(paint, Linear):
        # Position along the axis, sampled on a coarse grid: it is linear, so stretching it is exact.
        dx, dy = paint.x1 - paint.x0, paint.y1 - paint.y0
        length = dx * dx + dy * dy
        step = 16
        cols, rows = width // step + 2, height // step + 2
        grid = Image.new("F", (cols, rows))
        grid.putdata(
            [
                min(1.0, max(0.0, ((c * step - paint.x0) * dx + (r * step - paint.y0) * dy) / length)) * 255
                for r in range(rows)
                for c in range(cols)
            ]
        )
        where = grid.transform(
            size, Image.Transform.AFFINE, (1 / step, 0, 0, 0, 1 / step, 0), Image.Resampling.BILINEAR
        )
    else:
        # Pillow's radial ramp reaches 255 at 128 pixels from its centre: scale it to our radius.
        ramp = Image.radial_gradient("L")
        k = 128 / paint.r
        where = ramp.transform(
            size,
            Image.Transform.AFFINE,
            (k, 0, 128 - paint.cx * k, 0, k, 128 - paint.cy * k),
            Image.Resampling.BILINEAR,
            fillcolor=255,
        )
    where = where.convert("L")
    start, end = _rgb(paint.start), _rgb(paint.end)
    bands = [
        where.point([round(a + (b - a) * i / 255) for i in range(256)])
        for a, b in zip(start, end, strict=True)
    ]
    return Image.merge("RGB", bands).convert("RGBA")
