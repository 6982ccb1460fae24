"""The lettering of frames and sheet labels: DejaVu Sans Bold, shipped in the package (Latin, Greek,
Cyrillic and more).

Vector writers draw each frame glyph's outline (read with fontTools); the PNG writer hands the same
file to FreeType through Pillow; a sheet's PDF embeds the glyphs of its labels (`subset`). Sizes
here are in ems (1 = the font size); y grows upwards, as in the font.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from fontTools import subset as subsetting
from fontTools.pens.basePen import BasePen
from fontTools.ttLib import TTFont

PATH = Path(__file__).resolve().parent / "fonts" / "DejaVuSans-Bold.ttf"


@lru_cache(maxsize=1)
def _font() -> tuple[TTFont, dict[int, str], float]:
    # Read once per process, and only when a frame is first drawn or checked.
    font = TTFont(PATH, lazy=True)
    return font, font.getBestCmap(), float(font["head"].unitsPerEm)


def missing(text: str) -> list[str]:
    """The characters of `text` the font has no glyph for, each once, in order."""
    cmap = _font()[1]
    found: list[str] = []
    for ch in text:
        if ord(ch) not in cmap and not ch.isspace() and ch not in found:
            found.append(ch)
    return found


@lru_cache(maxsize=4096)
def advance(ch: str) -> float:
    """How far the pen moves after `ch`, in ems."""
    font, cmap, em = _font()
    name = cmap.get(ord(ch), ".notdef")
    return font["hmtx"][name][0] / em


@lru_cache(maxsize=1)
def cap_height() -> float:
    """The height of a capital H, in ems: the frame centres its text on it."""
    font, cmap, em = _font()
    return font["glyf"][cmap[ord("H")]].yMax / em


class _Recorder(BasePen):
    """Collects a glyph as ("M", x, y), ("L", x, y), ("C", x1, y1, x2, y2, x, y) and ("Z",) in ems;
    BasePen turns the font's quadratic curves into cubic ones."""

    def __init__(self, glyphs, em: float):
        super().__init__(glyphs)
        self.ops: list[tuple] = []
        self.em = em

    def _moveTo(self, pt):
        self.ops.append(("M", pt[0] / self.em, pt[1] / self.em))

    def _lineTo(self, pt):
        self.ops.append(("L", pt[0] / self.em, pt[1] / self.em))

    def _curveToOne(self, pt1, pt2, pt3):
        self.ops.append(("C", *(v / self.em for pt in (pt1, pt2, pt3) for v in pt)))

    def _closePath(self):
        self.ops.append(("Z",))


@lru_cache(maxsize=512)
def outline(ch: str) -> tuple[tuple, ...]:
    """The glyph of `ch` as path operations in ems, y upwards (nothing for a space)."""
    font, cmap, em = _font()
    glyphs = font.getGlyphSet()
    pen = _Recorder(glyphs, em)
    glyphs[cmap.get(ord(ch), ".notdef")].draw(pen)
    return tuple(pen.ops)


@lru_cache(maxsize=32)
def subset(chars: tuple[str, ...]) -> tuple[bytes, dict[str, int], float, dict]:
    """The font file cut down to the glyphs of `chars` (and its empty box, drawn for a character
    it lacks), for embedding; with each character's glyph number in it, the units per em, and the
    metrics a PDF describes it by (in font units). The same characters give the same bytes."""
    options = subsetting.Options()
    options.notdef_outline = True  # a character the font lacks shows as a box, not as nothing
    options.hinting = False  # print and PDF viewers scale outlines; hints only add bytes
    options.layout_features = []  # glyphs are placed one after another, without shaping
    options.drop_tables += ["FFTM"]  # FontForge's own dates: of no use to a reader
    cut = TTFont(PATH, recalcTimestamp=False)
    subsetter = subsetting.Subsetter(options)
    subsetter.populate(unicodes=sorted({ord(ch) for ch in chars}))
    subsetter.subset(cut)
    out = io.BytesIO()
    cut.save(out)
    cmap = cut.getBestCmap()
    gids = {ch: cut.getGlyphID(cmap[ord(ch)]) if ord(ch) in cmap else 0 for ch in chars}
    head, hhea = cut["head"], cut["hhea"]
    metrics = {
        "name": cut["name"].getDebugName(6),
        "bbox": (head.xMin, head.yMin, head.xMax, head.yMax),
        "ascent": hhea.ascent,
        "descent": hhea.descent,
        "cap": cap_height() * head.unitsPerEm,
    }
    return out.getvalue(), gids, float(head.unitsPerEm), metrics
