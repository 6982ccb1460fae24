"""Bulk: paste lines or upload a CSV, preview each line's problems, create all, download a ZIP."""

from __future__ import annotations

import csv
import io
import re
import zipfile

from flask import Response, g, request

from ..codes import core as codes
from ..errors import ValidationError
from ..images import gate
from ..models import Code
from ..web.htmx import page_or_block
from ..web.spreadsheet import csv_text
from .base import TOO_LARGE_PAGES, bp
from .forms import tags_from_text

COLUMNS = ("destination", "label", "slug", "tags")
MAX_UPLOAD = 512 * 1024


def parse_lines(text: str) -> list[dict]:
    """CSV rows (`destination,label,slug,tags`) -> API items; a header row and blank lines are skipped.

    Raises ValidationError for text the CSV reader refuses (a cell over its limit: a quote left open).
    """
    items = []
    reader = csv.reader(io.StringIO(text))
    try:
        for cells in reader:
            cells = [cell.strip() for cell in cells]
            if not any(cells) or (cells and cells[0].lower() == "destination"):
                continue
            cells += [""] * (len(COLUMNS) - len(cells))
            item = {"destination": cells[0]}
            if cells[1]:
                item["label"] = cells[1]
            if cells[2]:
                item["slug"] = cells[2]
            if cells[3]:
                item["tags"] = tags_from_text(cells[3], "bulk")
            item["_extra"] = len([c for c in cells[len(COLUMNS) :] if c])
            items.append(item)
    except csv.Error:
        raise ValidationError(
            f"Line {reader.line_num} has a cell longer than {csv.field_size_limit():,} characters; "
            "is a quotation mark left open?",
            field="lines",
        ) from None
    return items


def _source_text() -> str:
    upload = request.files.get("file")
    if upload and upload.filename:
        raw = upload.read(MAX_UPLOAD + 1)
        if len(raw) > MAX_UPLOAD:
            raise ValidationError(
                f"The file is larger than {MAX_UPLOAD // 1024} KB; split it up.", field="file"
            )
        return raw.decode("utf-8-sig", errors="replace")
    return request.form.get("lines", "")


def preview_rows(items: list[dict]) -> list[dict]:
    """Each line with the first problem the bulk API would report for it (codes.check_bulk_items)."""
    bodies = [{k: v for k, v in item.items() if k != "_extra"} for item in items]
    _cleaned, problems = codes.check_bulk_items(g.workspace, bodies)
    errors = {problem["index"]: problem["message"] for problem in problems}
    return [
        {
            "line": index + 1,
            "item": body,
            "error": errors.get(index)
            or ("Too many columns: use destination,label,slug,tags." if item["_extra"] else None),
        }
        for index, (item, body) in enumerate(zip(items, bodies, strict=True))
    ]


def _render(status: int = 200, **context):
    base = {"text": "", "rows": None, "created": None, "message": None}
    return page_or_block("dashboard/bulk.html", "work", status=status, **{**base, **context})


# More than the server reads of a form: the bulk page again, the message above its empty form.
TOO_LARGE_PAGES["dashboard.bulk_post"] = lambda message: _render(413, message=message)


@bp.get("/codes/bulk")
def bulk():
    """The bulk page: paste or upload."""
    return _render()


@bp.post("/codes/bulk")
def bulk_post():
    """`preview` shows each line's problems; `create` makes them all (or none) and offers the ZIP."""
    try:
        text = _source_text()
        items = parse_lines(text)
    except ValidationError as err:
        return _render(400, message=err.message)
    try:
        codes.check_bulk_count(len(items))
    except ValidationError as err:
        return _render(400, text=text, message=err.message)
    rows = preview_rows(items)
    bad = sum(1 for row in rows if row["error"])
    if request.form.get("action") != "create" or bad:
        message = f"{bad} of {len(rows)} lines need fixing; nothing was created." if bad else None
        return _render(
            400 if bad and request.form.get("action") == "create" else 200,
            text=text,
            rows=rows,
            message=message,
        )
    try:
        created = codes.bulk_create(g.workspace, {"codes": [row["item"] for row in rows]}, source="dashboard")
    except ValidationError as err:
        for problem in err.details or []:
            rows[problem["index"]]["error"] = problem["message"]
        return _render(err.status, text=text, rows=rows, message=err.message)
    return _render(201, created=created, ids=",".join(code.id for code in created))


def safe_names(created: list[Code]) -> list[str]:
    """One file name per code, from its label or slug: safe characters only, never repeated."""
    names, used = [], set()
    for code in created:
        stem = re.sub(r"[^A-Za-z0-9._-]+", "-", code.label or code.slug).strip("-._")[:60] or code.slug
        name, n = stem, 2
        while name.lower() in used:
            name, n = f"{stem}-{n}", n + 1
        used.add(name.lower())
        names.append(name)
    return names


def _selected() -> list[Code]:
    ids = [part for part in request.args.get("ids", "").split(",") if part][: codes.MAX_BULK]
    found = {code.id: code for code in (codes.get_code(g.workspace, code_id) for code_id in ids)}
    return [found[code_id] for code_id in ids]


@bp.get("/codes/export.zip")
def export_zip():
    """A ZIP with one PNG per code (print-ready, 1024 px) and codes.csv of the short URLs."""
    selected = _selected()
    buffer = io.BytesIO()
    table = [["file", "short_url", "destination", "label", "slug", "tags"]]
    # One admission for the whole archive: its images are drawn together, in one render slot.
    images = gate.render_many(
        g.workspace.id, [codes.code_image_params(c, {"size": "1024"}) for c in selected]
    )
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for code, name, image in zip(selected, safe_names(selected), images, strict=True):
            archive.writestr(f"{name}.png", image)
            link, tags = codes.short_url(code), "|".join(code.tags)
            table.append([f"{name}.png", link, code.destination, code.label, code.slug, tags])
        archive.writestr("codes.csv", csv_text(table))
    response = Response(buffer.getvalue(), mimetype="application/zip")
    response.headers["Content-Disposition"] = 'attachment; filename="openqr-codes.zip"'
    return response
