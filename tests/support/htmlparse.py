"""A tiny HTML reader for tests: the visible text and the elements a person would notice."""

from __future__ import annotations

from html.parser import HTMLParser


class Page(HTMLParser):
    """Collects visible text and every element's attributes (html.parser, no extra dependency)."""

    def __init__(self, html: str):
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.chunks: list[str] = []
        self._skip = 0
        self.feed(html)
        self.text = " ".join(" ".join(self.chunks).split())

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if tag in ("script", "style", "title"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style", "title"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.chunks.append(data)

    def find_all(self, tag: str, **attrs) -> list[dict]:
        return [
            a
            for t, a in self.elements
            if t == tag and all(a.get(k.rstrip("_")) == v for k, v in attrs.items())
        ]

    def has(self, tag: str, **attrs) -> bool:
        return bool(self.find_all(tag, **attrs))


class _Table(HTMLParser):
    """The rows (lists of cell texts) of the first table carrying the given attribute."""

    def __init__(self, html: str, attribute: str, value: str):
        super().__init__()
        self.wanted, self.depth, self.rows, self.cell, self.done = (attribute, value), 0, [], None, False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if (
            tag == "table"
            and not self.done
            and (self.depth or dict(attrs).get(self.wanted[0]) == self.wanted[1])
        ):
            self.depth += 1
        elif self.depth and tag == "tr":
            self.rows.append([])
        elif self.depth and tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "table" and self.depth:
            self.depth -= 1
            self.done = not self.depth
        elif self.depth and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(" ".join(" ".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def table_rows(html: str, attribute: str, value: str) -> list[list[str]]:
    """The rows of the table with `attribute="value"`, as the text of each cell."""
    return _Table(html, attribute, value).rows
