"""CSV downloads that spreadsheets open as data: one writer for every CSV this server hands out.

A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is run as a formula by
Excel, LibreOffice and Google Sheets (CSV injection). OWASP's advice, followed here: such a cell
gets a leading single quote, which spreadsheets show as text. Numbers are written as they are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from flask import Response

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """A value as a CSV cell: None is empty, text that a spreadsheet would run is quoted with `'`."""
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(rows: Iterable[Iterable[object]]) -> str:
    """Rows as CSV text, every cell through `safe_cell`."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
    return out.getvalue()


def csv_download(rows: Iterable[Iterable[object]], filename: str) -> Response:
    """Rows as a CSV attachment named `filename`."""
    response = Response(csv_text(rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
