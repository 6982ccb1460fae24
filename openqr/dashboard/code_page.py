"""A code's own page: big preview, style controls saved live, downloads, and its analytics."""

from __future__ import annotations

import hashlib

from flask import g, request, url_for

from ..codes import core as codes
from ..codes import smart
from ..errors import DomainError
from ..images import proof
from ..scans import analytics
from ..scans.countries import country_name
from ..web.htmx import hx_redirect, is_htmx, page_or_block
from .base import bp
from .chart import bar_chart
from .forms import field_errors, style_choices, style_defaults, style_of_form
from .overview import WINDOWS, account_zone, analytics_csv, named_countries, time_of_day_context
from .overview import window_days as _days
from .smart_form import body_of, field_errors_of, form_of_request
from .smart_form import form_of_code as smart_form_of

DOWNLOAD_SIZES = (256, 512, 1024, 2048)


PRINT_SIZES_MM = (20, 30, 40, 60, 100)


def _style_values(code) -> dict:
    """The code's style with every default filled in, as the style controls show it."""
    return {**style_defaults(), **(code.style or {})}


def _context(
    code,
    days: int,
    *,
    style_form: dict | None = None,
    errors: dict | None = None,
    saved: bool = False,
    smart_form: dict | None = None,
    smart_errors: dict | None = None,
    smart_saved: bool = False,
) -> dict:
    summary = analytics.scan_summary(code, days, tz=account_zone())
    history = codes.history(g.workspace, code.id)
    data = named_countries(summary["analytics"])
    preview = codes.code_image_params(code, {"size": "512"})
    return {
        "code": code,
        "days": days,
        "windows": WINDOWS,
        "summary": summary,
        "chart": bar_chart(data["daily"], history),
        "history": history,
        "code_state": codes.status_of(code, summary["scans"]["total"]),
        "smart": smart_form or smart_form_of(code),
        "smart_errors": smart_errors or {},
        "smart_saved": smart_saved,
        "devices": smart.DEVICES,
        "oses": smart.OSES,
        "utm_keys": smart.UTM_KEYS,
        "top_country": country_name(summary["scans"]["topCountry"])
        if summary["scans"]["topCountry"]
        else None,
        "style": style_form or _style_values(code),
        "errors": errors or {},
        "saved": saved,
        # Changes with the style, so the browser fetches the new image; read from the parameters,
        # not the image: showing the page draws nothing.
        "version": hashlib.sha256(repr(preview).encode()).hexdigest()[:12],
        # The stored style's proof (styles saved before proofs existed are judged here too).
        "verdict": proof.verdict(preview),
        **style_choices(),
        "sizes": DOWNLOAD_SIZES,
        "print_sizes": PRINT_SIZES_MM,
        **time_of_day_context(data),
    }


@bp.get("/codes/<code_id>")
def code(code_id: str):
    """The code page; the window selector (HTMX) gets only the analytics block."""
    item = codes.get_code(g.workspace, code_id)
    return page_or_block("dashboard/code.html", "analytics", **_context(item, _days()))


@bp.post("/codes/<code_id>/style")
def style(code_id: str):
    """Save the style controls to the code and send back the controls with the new preview."""
    item = codes.get_code(g.workspace, code_id)
    wanted = style_of_form(request.form)
    try:
        item = codes.update_code(g.workspace, code_id, {"style": wanted}, source="dashboard")
    except DomainError as err:
        return page_or_block(
            "dashboard/code.html",
            "style",
            status=err.status,
            **_context(item, _days(), style_form=wanted, errors=field_errors(err)),
        )
    if not is_htmx():
        return hx_redirect(url_for("dashboard.code", code_id=code_id))
    return page_or_block("dashboard/code.html", "style", **_context(item, _days(), saved=True))


@bp.post("/codes/<code_id>/smart")
def smart_settings(code_id: str):
    """Save the smart-destination settings; errors come back beside their fields."""
    item = codes.get_code(g.workspace, code_id)
    values = form_of_request(request.form)
    body = body_of(values)
    errors = field_errors_of(body)
    if not errors:
        try:
            item = codes.update_code(g.workspace, code_id, body, source="dashboard")
        except DomainError as err:
            errors = {err.field or "_": err.message}
    if errors:
        context = _context(item, _days(), smart_form=values, smart_errors=errors)
        return page_or_block("dashboard/code.html", "smart", status=400, **context)
    if not is_htmx():
        return hx_redirect(url_for("dashboard.code", code_id=code_id))
    return page_or_block("dashboard/code.html", "smart", **_context(item, _days(), smart_saved=True))


@bp.get("/codes/<code_id>/scans.csv")
def scans_csv(code_id: str):
    """The window's analytics as CSV: the daily series, then each breakdown."""
    item = codes.get_code(g.workspace, code_id)
    days = _days()
    data = analytics.scan_summary(item, days, tz=account_zone())["analytics"]
    return analytics_csv(data, f"{item.slug}-scans-{days}d.csv")
