"""Print sheets: many codes on A4 or Letter pages, a grid of cells, each code with its label under it.

The rules of a sheet's options (paper, columns, rows, label, size_mm) and its layout live here;
which codes go on it is the caller's (the codes area hands over each code's image parameters and
the words to print). A `Sheet` is a render job like a `QrParams`: it passes the render gate and
is drawn in a worker process (`render`), as one vector PDF with the shipped font embedded for the
labels. The same sheet is the same bytes.
"""

from __future__ import annotations

import dataclasses
import math
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from . import font
from .geometry import layout
from .params import (
    SIZE_MM_MAX,
    SIZE_MM_MIN,
    QrParamError,
    QrParams,
    _check_choice,
    _check_int,
    _parse_int,
    extent,
)
from .pdfdoc import Document, EmbeddedFont, num
from .vector import POINTS_PER_MM, pdf_paint, shading_resources

MEDIA_TYPE = "application/pdf"
PAPERS = {"a4": (210.0, 297.0), "letter": (215.9, 279.4)}  # width, height in millimetres
PAPER_NAMES = {"a4": "A4", "letter": "Letter"}
COLUMNS_MIN, COLUMNS_MAX, COLUMNS_DEFAULT = 1, 6, 3
ROWS_MIN, ROWS_MAX, ROWS_DEFAULT = 1, 10, 8
LABELS = ("label", "slug", "none")  # the code's label (its slug when it has none), its slug, nothing
MAX_CODES = 500
OPTION_KEYS = ("paper", "columns", "rows", "label", "size_mm")

PAGE_MARGIN_MM = 10  # what most printers can reach
CELL_PADDING_MM = 2  # around each code: cut lines and neighbours stay clear of it
LABEL_POINTS = 8  # the labels' font size
LABEL_GAP_MM = 1  # between a code and its label
LABEL_LINE = 1.25  # a label's line, in ems
ELLIPSIS = "…"


@dataclass(frozen=True)
class Options:
    """A sheet's layout, checked; `size_mm` None means the largest code that fits a cell."""

    paper: str = "a4"
    columns: int = COLUMNS_DEFAULT
    rows: int = ROWS_DEFAULT
    label: str = LABELS[0]
    size_mm: int | None = None

    @property
    def per_page(self) -> int:
        return self.columns * self.rows

    def cell_mm(self) -> tuple[float, float]:
        """A cell's width and height in millimetres."""
        width, height = PAPERS[self.paper]
        return (width - 2 * PAGE_MARGIN_MM) / self.columns, (height - 2 * PAGE_MARGIN_MM) / self.rows

    def label_mm(self) -> float:
        """The height a label takes under its code (none without labels)."""
        return 0.0 if self.label == "none" else LABEL_GAP_MM + LABEL_POINTS * LABEL_LINE / POINTS_PER_MM


def read_options(body: Mapping) -> Options:
    """The layout fields of a sheet request (others are the caller's); raises QrParamError naming
    the field. Numbers may be JSON integers or a form's digits."""
    values: dict = {}
    if "paper" in body:
        values["paper"] = _check_choice("paper", body["paper"], tuple(PAPERS))
    for name, low, high in (("columns", COLUMNS_MIN, COLUMNS_MAX), ("rows", ROWS_MIN, ROWS_MAX)):
        if name in body:
            values[name] = _check_int(name, _whole(name, body[name]), low, high, name)
    if "label" in body:
        values["label"] = _check_choice("label", body["label"], LABELS)
    if body.get("size_mm") is not None:  # how large may fit is judged with the codes (`sheet`)
        size = _whole("size_mm", body["size_mm"])
        values["size_mm"] = _check_int("size_mm", size, SIZE_MM_MIN, SIZE_MM_MAX, "millimetres")
    return Options(**values)


def _whole(name: str, value: object) -> int:
    return _parse_int(name, value) if isinstance(value, str) else value


def largest_size_mm(options: Options, images: Sequence[QrParams]) -> int:
    """The widest code, in whole millimetres, whose image (the tallest of `images`) and label
    fit a cell."""
    width, height = options.cell_mm()
    room_w = width - 2 * CELL_PADDING_MM
    room_h = height - 2 * CELL_PADDING_MM - options.label_mm()
    tallest = max(height / width for width, height in map(extent, images))
    return math.floor(min(room_w, room_h / tallest) + 1e-9)


def check_count(count: int, field: str) -> None:
    """How many codes one sheet takes; `field` names where they came from."""
    if not 1 <= count <= MAX_CODES:
        raise QrParamError(field, f"A sheet prints 1 to {MAX_CODES} codes; this one has {count}.")


@dataclass(frozen=True)
class Cell:
    """One code on a sheet: its image, drawn as a PDF at the sheet's size, and its label."""

    image: QrParams
    label: str | None


@dataclass(frozen=True)
class Sheet:
    """A sheet to draw: its options (size_mm settled) and its cells in order, row by row."""

    options: Options
    cells: tuple[Cell, ...]

    def render(self) -> bytes:
        """The PDF (a render gate job: drawn in a worker process)."""
        return write(self)


def sheet(options: Options, codes: Sequence[tuple[QrParams, str | None]], field: str) -> Sheet:
    """A sheet of `codes` (each code's image parameters and its label); raises QrParamError when
    there are too many or too few (naming `field`) or `size_mm` does not fit a cell."""
    check_count(len(codes), field)
    largest = largest_size_mm(options, [image for image, _label in codes])
    size = options.size_mm if options.size_mm is not None else largest
    if not SIZE_MM_MIN <= size <= largest:
        what = "with labels" if options.label != "none" else "without labels"
        raise QrParamError(
            "size_mm",
            f"size_mm must be a whole number of millimetres from {SIZE_MM_MIN} to {largest}: {largest} mm "
            f"is the largest code that fits a cell of {options.columns} x {options.rows} on "
            f"{PAPER_NAMES[options.paper]} paper {what}.",
        )
    cells = tuple(
        Cell(dataclasses.replace(image, format="pdf", size_mm=size), label or None) for image, label in codes
    )
    return Sheet(dataclasses.replace(options, size_mm=size), cells)


# --- drawing ---


def fitted(text: str, room: float) -> str:
    """`text` as it fits `room` points at the label size: whole, or cut with an ellipsis."""
    text = unicodedata.normalize("NFC", text)
    if _width(text) <= room:
        return text
    room -= _width(ELLIPSIS)
    end, used = 0, 0.0
    while used + _width(text[end]) <= room:
        used += _width(text[end])
        end += 1
    cut = text[:end].rstrip()
    while cut and unicodedata.combining(cut[-1]):  # never end on a mark cut from its letter
        cut = cut[:-1]
    return cut + ELLIPSIS


def _width(text: str) -> float:
    return sum(font.advance(ch) for ch in text) * LABEL_POINTS


def write(job: Sheet) -> bytes:
    """The sheet's pages: each cell's code as its own vector drawing, its label as real text."""
    options, size = job.options, job.options.size_mm
    page_w, page_h = (v * POINTS_PER_MM for v in PAPERS[options.paper])
    cell_w, cell_h = (v * POINTS_PER_MM for v in options.cell_mm())
    margin, padding = PAGE_MARGIN_MM * POINTS_PER_MM, CELL_PADDING_MM * POINTS_PER_MM
    room = cell_w - 2 * padding
    labels = [fitted(cell.label, room) if cell.label else "" for cell in job.cells]
    doc = Document()
    chars = {ch for label in labels for ch in label}
    lettering = EmbeddedFont(doc, chars) if chars else None
    pages = []
    for first in range(0, len(job.cells), options.per_page):
        content, shadings = [], []
        for index in range(first, min(first + options.per_page, len(job.cells))):
            place = index - first
            x = margin + (place % options.columns) * cell_w
            y = margin + (place // options.columns) * cell_h  # from the top of the page
            image = job.cells[index].image
            # Drawn in modules and scaled into place: whole numbers mostly, so a short page.
            across, _tall = extent(image)
            drawing = layout(image, across, snap=False)
            scale = size * POINTS_PER_MM / across
            height = drawing.height * scale
            label_h = options.label_mm() * POINTS_PER_MM if labels[index] else 0
            top = y + (cell_h - height - label_h) / 2
            left = x + (cell_w - size * POINTS_PER_MM) / 2
            # The geometry's y grows downwards: each code flips its own coordinates.
            place_it = f"{scale:.6f} 0 0 {-scale:.6f} {num(left)} {num(page_h - top)} cm"
            content += ["q", place_it, *pdf_paint(drawing, shadings), "Q"]
            if labels[index]:
                content.append(_label(lettering, labels[index], x + cell_w / 2, page_h - top - height))
        resources = shading_resources(doc, shadings)
        if lettering:
            resources += f" /Font << /L {lettering.number} 0 R >>"
        pages.append((page_w, page_h, "\n".join(content).encode("ascii"), resources))
    doc.pages(pages)
    return doc.bytes()


def _label(lettering: EmbeddedFont, text: str, centre: float, under: float) -> str:
    """`text` centred on `centre`, its line starting `under` the code (page points, y upwards)."""
    line = LABEL_POINTS * LABEL_LINE
    baseline = under - LABEL_GAP_MM * POINTS_PER_MM - (line + font.cap_height() * LABEL_POINTS) / 2
    left = centre - _width(text) / 2
    return f"BT /L {LABEL_POINTS} Tf 0 g {num(left)} {num(baseline)} Td {lettering.hex(text)} Tj ET"


# --- the published contract ---


def options_schema() -> dict:
    """The layout fields `read_options` takes, as JSON Schema, from the same constants."""

    def ranged(low: int, high: int, default: int, says: str) -> dict:
        return {"type": "integer", "minimum": low, "maximum": high, "default": default, "description": says}

    return {
        "paper": {
            "type": "string",
            "enum": list(PAPERS),
            "default": Options.paper,
            "description": "Page size.",
        },
        "columns": ranged(COLUMNS_MIN, COLUMNS_MAX, COLUMNS_DEFAULT, "Codes across a page."),
        "rows": ranged(ROWS_MIN, ROWS_MAX, ROWS_DEFAULT, "Codes down a page."),
        "label": {
            "type": "string",
            "enum": list(LABELS),
            "default": Options.label,
            "description": "Under each code: its label (its slug when it has none), its slug, or nothing. "
            "A label wider than its cell is shortened with an ellipsis.",
        },
        "size_mm": {
            "type": "integer",
            "minimum": SIZE_MM_MIN,
            "description": "Each code's printed width in millimetres, frame included. Default, and most: "
            "the largest that fits a cell with its label (a 400 says how large that is).",
        },
    }
