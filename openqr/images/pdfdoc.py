"""PDF files written by hand: numbered objects, pages, and the shipped font embedded for text.

Nothing here reads the clock or the machine (no Info dictionary, no ID, the font's own dates
kept), so the same content is the same bytes. Used by the one-page code (`vector.pdf`) and by
print sheets (`sheet`).
"""

from __future__ import annotations

import hashlib
import string
import zlib
from collections.abc import Iterable, Sequence

from . import font

HEADER = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
BFCHAR_BLOCK = 100  # the most entries one `beginbfchar` section may hold


class Document:
    """Objects numbered in the order they are added, written with their
    cross-reference table; objects 1 and 2 are the catalogue and the page tree (`pages`)."""

    CATALOGUE, PAGES = 1, 2

    def __init__(self) -> None:
        self._objects: list[bytes | None] = [
            None,
            None,
        ]  # the catalogue and the page tree, written by pages()

    def put(self, number: int, body: str | bytes) -> int:
        self._objects[number - 1] = body.encode("ascii") if isinstance(body, str) else body
        return number

    def add(self, body: str | bytes) -> int:
        """A new object; its number."""
        self._objects.append(None)
        return self.put(len(self._objects), body)

    def stream(self, data: bytes, entries: str = "") -> int:
        """A Flate-compressed stream object; `entries` are more of its dictionary's keys."""
        packed = zlib.compress(data, 6)  # as small as 9 on these pages, in a third of the time
        head = f"<< /Length {len(packed)} /Filter /FlateDecode{' ' + entries if entries else ''} >>"
        return self.add(head.encode("ascii") + b"\nstream\n" + packed + b"\nendstream")

    def pages(self, pages: Sequence[tuple[float, float, bytes, str]]) -> None:
        """One page per (width, height, content, resources), in points: `content` the page's
        operators, `resources` the inside of its resource dictionary. Call once, last."""
        kids = []
        for width, height, content, resources in pages:
            stream = self.stream(content)
            kids.append(
                self.add(
                    f"<< /Type /Page /Parent {self.PAGES} 0 R /MediaBox [0 0 {num(width)} {num(height)}] "
                    f"/Resources << {resources} >> /Contents {stream} 0 R >>"
                )
            )
        self.put(self.CATALOGUE, f"<< /Type /Catalog /Pages {self.PAGES} 0 R >>")
        refs = " ".join(f"{kid} 0 R" for kid in kids)
        self.put(self.PAGES, f"<< /Type /Pages /Kids [{refs}] /Count {len(kids)} >>")

    def bytes(self) -> bytes:
        out = bytearray(HEADER)
        offsets = []
        for number, body in enumerate(self._objects, start=1):
            if body is None:
                raise ValueError(f"object {number} was never written")
            offsets.append(len(out))
            out += f"{number} 0 obj\n".encode("ascii") + body + b"\nendobj\n"
        xref = len(out)
        count = len(self._objects) + 1
        out += f"xref\n0 {count}\n0000000000 65535 f \n".encode("ascii")
        out += b"".join(f"{offset:010d} 00000 n \n".encode("ascii") for offset in offsets)
        out += f"trailer\n<< /Size {count} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode("ascii")
        return bytes(out)


def num(value: float) -> str:
    """A coordinate in at most three decimals, without trailing zeros (and never "-0")."""
    if value == int(value):  # most coordinates on a module grid: the quick way
        return str(int(value))
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


class EmbeddedFont:
    """The shipped font as a Type 0 font holding only the glyphs of `chars`: each character its
    own two-byte code, so copied text is exactly what was drawn (even a character the font lacks,
    drawn as its empty box)."""

    def __init__(self, doc: Document, chars: Iterable[str]):
        self.chars = sorted(set(chars))
        self.codes = {ch: index for index, ch in enumerate(self.chars, start=1)}
        data, gids, em, metrics = font.subset(tuple(self.chars))
        widths = " ".join(num(font.advance(ch) * 1000) for ch in self.chars)
        tag = _subset_tag(self.chars)
        name = f"{tag}+{metrics['name']}"
        file = doc.stream(data, f"/Length1 {len(data)}")
        box = " ".join(num(v * 1000 / em) for v in metrics["bbox"])
        descriptor = doc.add(
            f"<< /Type /FontDescriptor /FontName /{name} /Flags 32 /FontBBox [{box}] /ItalicAngle 0 "
            f"/Ascent {num(metrics['ascent'] * 1000 / em)} /Descent {num(metrics['descent'] * 1000 / em)} "
            f"/CapHeight {num(metrics['cap'] * 1000 / em)} /StemV 120 /FontFile2 {file} 0 R >>"
        )
        # Code 0 is unused; code n draws the glyph the subset gives character n.
        gid_map = doc.stream(b"\0\0" + b"".join(gids[ch].to_bytes(2, "big") for ch in self.chars))
        cid_font = doc.add(
            f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{name} "
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
            f"/FontDescriptor {descriptor} 0 R /W [1 [{widths}]] /CIDToGIDMap {gid_map} 0 R >>"
        )
        unicode_map = doc.stream(_to_unicode(self.chars).encode("ascii"))
        self.number = doc.add(
            f"<< /Type /Font /Subtype /Type0 /BaseFont /{name} /Encoding /Identity-H "
            f"/DescendantFonts [{cid_font} 0 R] /ToUnicode {unicode_map} 0 R >>"
        )

    def hex(self, text: str) -> str:
        """`text` as a string operand of `Tj` in this font's codes."""
        return "<" + "".join(f"{self.codes[ch]:04X}" for ch in text) + ">"


def _subset_tag(chars: list[str]) -> str:
    # Six capitals naming the subset (PDF's convention), the same for the same characters.
    digest = hashlib.sha256("".join(chars).encode("utf-8", "surrogatepass")).digest()
    return "".join(string.ascii_uppercase[b % 26] for b in digest[:6])


def _utf16_hex(ch: str) -> str:
    return ch.encode("utf-16-be", "surrogatepass").hex().upper()


def _to_unicode(chars: list[str]) -> str:
    """The CMap that maps each code back to its character (copy, search, screen readers)."""
    lines = [
        "/CIDInit /ProcSet findresource begin",
        "12 dict begin",
        "begincmap",
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        "/CMapName /Adobe-Identity-UCS def",
        "/CMapType 2 def",
        "1 begincodespacerange",
        "<0000> <FFFF>",
        "endcodespacerange",
    ]
    pairs = [f"<{index:04X}> <{_utf16_hex(ch)}>" for index, ch in enumerate(chars, start=1)]
    for start in range(0, len(pairs), BFCHAR_BLOCK):
        block = pairs[start : start + BFCHAR_BLOCK]
        lines += [f"{len(block)} beginbfchar", *block, "endbfchar"]
    lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return "\n".join(lines)
