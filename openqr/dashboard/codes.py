"""The codes page: list with search, filters and pages; create; inline edit; delete; QR images."""

from __future__ import annotations

from dataclasses import asdict

from flask import flash, g, make_response, request, url_for

from ..codes import core as codes
from ..codes import folders
from ..errors import DomainError
from ..images.http import REVALIDATE, image_response
from ..models import Code
from ..scans import analytics
from ..web.htmx import hx_redirect, is_htmx, page_or_block
from .base import bp
from .forms import code_body, field_errors, list_filters

PAGE_SIZE = 20


def list_context(form: dict | None = None, errors: dict | None = None, created: Code | None = None) -> dict:
    """Everything the codes page shows: one list query plus one scan-count query for the page;
    a filter the rules refuse lists nothing and says why (`filter_error`)."""
    chosen, f, refused = list_filters(request.args)
    page = request.args.get("page", "1")
    f["page"] = int(page) if page.isdigit() and 0 < int(page) < 100000 else 1
    rows = []
    if refused is None:
        rows = codes.list_codes(
            g.workspace, limit=PAGE_SIZE + 1, offset=(f["page"] - 1) * PAGE_SIZE, **asdict(chosen)
        )
    has_next = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    folder_list = [folder for folder, _n in folders.list_folders(g.workspace)]

    def page_url(page: int) -> str:
        return url_for("dashboard.codes", **{k: v for k, v in {**f, "page": page}.items() if v and v != 1})

    return {
        "rows": rows,
        "counts": analytics.scan_counts([code.id for code in rows]),
        "filters": f,
        "filtered": bool(f["q"] or f["tag"] or f["folder"]),
        "folders": folder_list,
        "folder_names": {folder.id: folder.name for folder in folder_list},
        "tags": codes.workspace_tags(g.workspace),
        "prev_url": page_url(f["page"] - 1) if f["page"] > 1 else None,
        "next_url": page_url(f["page"] + 1) if has_next else None,
        "form": form or {},
        "errors": errors or {},
        "created": created,
        "filter_error": refused.message if refused else None,
    }


@bp.get("/codes", endpoint="codes")
def codes_page():
    """Your codes, newest first; HTMX filter changes get only the results."""
    context = list_context()
    status = 400 if context["filter_error"] else 200
    return page_or_block("dashboard/codes.html", "results", status=status, **context)


@bp.post("/codes")
def create():
    """Create a code from the form; errors come back beside their fields."""
    form = request.form
    try:
        code, _budget = codes.create_code(g.workspace, code_body(form, creating=True), source="dashboard")
    except DomainError as err:
        context = list_context(form=form.to_dict(), errors=field_errors(err))
        return page_or_block("dashboard/codes.html", "page", status=err.status, **context)
    if not is_htmx():
        flash(f"Created {codes.short_url(code)}")
        return hx_redirect(url_for("dashboard.codes"))
    return page_or_block("dashboard/codes.html", "page", **list_context(created=code))


def _row(
    code: Code,
    *,
    editing: bool = False,
    form: dict | None = None,
    errors: dict | None = None,
    status: int = 200,
):
    folder_list = [folder for folder, _n in folders.list_folders(g.workspace)]
    context = {
        "code": code,
        "editing": editing,
        "form": form or {},
        "errors": errors or {},
        "counts": analytics.scan_counts([code.id]),
        "folders": folder_list,
        "folder_names": {folder.id: folder.name for folder in folder_list},
    }
    return page_or_block("dashboard/row.html", "row", status=status, **context)


@bp.get("/codes/<code_id>/row")
def row(code_id: str):
    """One code's row (what "Cancel" on an inline edit brings back)."""
    return _row(codes.get_code(g.workspace, code_id))


@bp.route("/codes/<code_id>/edit", methods=["GET", "POST"])
def edit(code_id: str):
    """Inline edit: GET the row as a form, POST it back; only that row is swapped."""
    code = codes.get_code(g.workspace, code_id)
    if request.method == "GET":
        return _row(code, editing=True)
    try:
        code = codes.update_code(
            g.workspace, code_id, code_body(request.form, creating=False), source="dashboard"
        )
    except DomainError as err:
        return _row(
            code, editing=True, form=request.form.to_dict(), errors=field_errors(err), status=err.status
        )
    if not is_htmx():
        return hx_redirect(url_for("dashboard.codes"))
    return _row(code)


@bp.post("/codes/<code_id>/delete")
def delete(code_id: str):
    """Delete after the browser's confirmation; the row disappears (HTMX) or the list reloads."""
    codes.delete_code(g.workspace, code_id)
    if is_htmx():
        return make_response("", 200)
    flash("Code deleted.")
    return hx_redirect(url_for("dashboard.codes"))


@bp.get("/codes/<code_id>/qr.<fmt>")
def image(code_id: str, fmt: str):
    """The code's short URL as PNG, SVG, PDF or EPS in its saved style; `?download=1` saves a file."""
    code = codes.get_code(g.workspace, code_id)
    args = {
        k: v for k, v in request.args.items() if k in ("size", "size_mm", "margin", "ecc", "dark", "light")
    }
    params = codes.code_image_params(code, {**args, "format": fmt})
    response = image_response(params, REVALIDATE, g.workspace.id)
    if request.args.get("download"):
        size = f"{params.size_mm}mm" if params.size_mm else params.size
        response.headers["Content-Disposition"] = f'attachment; filename="{code.slug}-{size}.{params.format}"'
    return response
