"""The vector writers: SVG, PDF (one page, hand-written) and EPS, each filling the geometry's paths.

Nothing in them depends on the clock or the machine, so the same drawing is the same bytes. The
PDF has no Info dictionary and no ID; its page is exactly the drawing's size in points. A print
sheet places many drawings on its pages with `pdf_paint`.
"""

from __future__ import annotations

import math

from .geometry import Drawing, Linear, Radial, layer_path
from .pdfdoc import Document, num

POINTS_PER_MM = 72 / 25.4


def _path(ops: list[tuple], names: dict[str, str], postfix: bool) -> str:
    parts = []
    for op in ops:
        name = names[op[0]]
        coords = " ".join(map(num, op[1:]))
        if postfix:
            parts.append(f"{coords} {name}" if coords else name)
        else:
            parts.append(f"{name}{coords}")
    return ("\n" if postfix else "").join(parts)


def _rgb(colour: str) -> str:
    return " ".join(num(int(colour[i : i + 2], 16) / 255) for i in (1, 3, 5))


# --- SVG ---


def svg(drawing: Drawing, unit: str = "") -> bytes:
    """The drawing as SVG, `width` x `height` in `unit` ("" for pixels, "mm")."""
    w, h = num(drawing.width), num(drawing.height)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}{unit}" height="{h}{unit}" viewBox="0 0 {w} {h}">'
    ]
    if drawing.background:
        parts.append(f'<rect width="{w}" height="{h}" fill="{drawing.background}"/>')
    crisp = ' shape-rendering="crispEdges"' if drawing.crisp else ""
    names = {"M": "M", "L": "L", "C": "C", "Z": "Z"}
    for index, layer in enumerate(drawing.layers):
        fill = layer.paint
        if isinstance(fill, (Linear, Radial)):
            parts.append(f"<defs>{_svg_gradient(fill, f'g{index}')}</defs>")
            fill = f"url(#g{index})"
        d = _path(layer_path(layer), names, postfix=False)
        if d:
            parts.append(f'<path fill="{fill}" fill-rule="evenodd"{crisp} d="{d}"/>')
    parts.append("</svg>\n")
    return "".join(parts).encode("utf-8")


def _svg_gradient(paint: Linear | Radial, ident: str) -> str:
    stops = f'<stop offset="0" stop-color="{paint.start}"/><stop offset="1" stop-color="{paint.end}"/>'
    if isinstance(paint, Linear):
        coords = f'x1="{num(paint.x0)}" y1="{num(paint.y0)}" x2="{num(paint.x1)}" y2="{num(paint.y1)}"'
        return (
            f'<linearGradient id="{ident}" gradientUnits="userSpaceOnUse" {coords}>{stops}</linearGradient>'
        )
    coords = f'cx="{num(paint.cx)}" cy="{num(paint.cy)}" r="{num(paint.r)}"'
    return f'<radialGradient id="{ident}" gradientUnits="userSpaceOnUse" {coords}>{stops}</radialGradient>'


# --- PDF and EPS share PostScript's painting model ---


def _shading(paint: Linear | Radial) -> str:
    if isinstance(paint, Linear):
        kind, coords = 2, (paint.x0, paint.y0, paint.x1, paint.y1)
    else:
        kind, coords = 3, (paint.cx, paint.cy, 0, paint.cx, paint.cy, paint.r)
    return (
        f"<< /ShadingType {kind} /ColorSpace /DeviceRGB /Coords [{' '.join(num(v) for v in coords)}] "
        f"/Function << /FunctionType 2 /Domain [0 1] /C0 [{_rgb(paint.start)}] "
        f"/C1 [{_rgb(paint.end)}] /N 1 >> "
        "/Extend [true true] >>"
    )


def _painting(drawing: Drawing, names: dict[str, str], flat: str, shaded) -> list[str]:
    """Each layer filled even-odd: `flat` formats a colour fill, `shaded(path, paint)` a gradient."""
    out = []
    for layer in drawing.layers:
        path = _path(layer_path(layer), names, postfix=True)
        if not path:
            continue
        if isinstance(layer.paint, (Linear, Radial)):
            out.append(shaded(path, layer.paint))
        else:
            out.append(flat.format(rgb=_rgb(layer.paint), path=path))
    return out


def pdf_paint(drawing: Drawing, shadings: list[str]) -> list[str]:
    """The operators that paint `drawing` in its own units, y downwards (the caller flips the
    page's coordinates); each gradient is appended to `shadings` and named `/Sh<its index>`."""

    def shaded(path: str, paint) -> str:
        shadings.append(_shading(paint))
        return f"q\n{path}\nW* n\n/Sh{len(shadings) - 1} sh\nQ"

    content = []
    if drawing.background:
        content.append(f"{_rgb(drawing.background)} rg\n0 0 {num(drawing.width)} {num(drawing.height)} re f")
    names = {"M": "m", "L": "l", "C": "c", "Z": "h"}
    return content + _painting(drawing, names, "{rgb} rg\n{path}\nf*", shaded)


def shading_resources(doc: Document, shadings: list[str]) -> str:
    """The `/Shading` entry of a page's resources: each of `shadings` an object of `doc`."""
    named = " ".join(f"/Sh{index} {doc.add(body)} 0 R" for index, body in enumerate(shadings))
    return f"/Shading << {named} >>"


def pdf(drawing: Drawing) -> bytes:
    """One page exactly `width` x `height` points, drawn in vectors."""
    shadings: list[str] = []
    # The geometry's y grows downwards: flip the page's coordinates once.
    content = [f"1 0 0 -1 0 {num(drawing.height)} cm", *pdf_paint(drawing, shadings)]
    doc = Document()
    resources = shading_resources(doc, shadings)
    doc.pages([(drawing.width, drawing.height, "\n".join(content).encode("ascii"), resources)])
    return doc.bytes()


def eps(drawing: Drawing) -> bytes:
    """Encapsulated PostScript (level 3 for gradients), `width` x `height` points."""
    w, h = num(drawing.width), num(drawing.height)
    lines = [
        "%!PS-Adobe-3.0 EPSF-3.0",
        f"%%BoundingBox: 0 0 {math.ceil(drawing.width)} {math.ceil(drawing.height)}",
        f"%%HiResBoundingBox: 0 0 {w} {h}",
        "%%LanguageLevel: 3",
        "%%Pages: 0",
        "%%EndComments",
        "/m {moveto} bind def /l {lineto} bind def /c {curveto} bind def /h {closepath} bind def",
        f"0 {h} translate 1 -1 scale",
    ]
    if drawing.background:
        lines.append(f"{_rgb(drawing.background)} setrgbcolor 0 0 {w} {h} rectfill")
    names = {"M": "m", "L": "l", "C": "c", "Z": "h"}

    def shaded(path: str, paint) -> str:
        return f"gsave newpath\n{path}\neoclip newpath {_shading(paint)} shfill grestore"

    lines += _painting(drawing, names, "{rgb} setrgbcolor newpath\n{path}\neofill", shaded)
    lines += ["showpage", "%%EOF", ""]
    return "\n".join(lines).encode("ascii")
