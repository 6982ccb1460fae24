"""The overview: the account's scans across codes, narrowed by folder or tag, and its time zone."""

from __future__ import annotations

from flask import Response, g, request, url_for
from flask_login import current_user

from ..codes import core as codes
from ..codes import folders
from ..codes.filters import Filters
from ..errors import DomainError
from ..extensions import db
from ..scans import analytics
from ..scans.countries import country_name
from ..web.htmx import hx_redirect, page_or_block
from ..web.pages import safe_next
from ..web.spreadsheet import csv_download
from .base import bp
from .chart import WEEKDAYS, bar_chart, busiest, heat_map
from .forms import list_filters

WINDOWS = (7, 30, 90, 365)


def window_days() -> int:
    """`?days=` as the dashboard offers it: one of WINDOWS, else 30."""
    raw = request.args.get("days", "30")
    return int(raw) if raw.isdigit() and int(raw) in WINDOWS else 30


def account_zone():
    """The account's saved time zone (checked when saved; UTC if it ever stops existing)."""
    try:
        return analytics.parse_tz(current_user.timezone)
    except DomainError:
        return analytics.UTC


def time_of_day_context(data: dict) -> dict:
    """What the heat map, its table and the unique-visitors note need, from an analytics answer."""
    peak = busiest(data["by_weekday_hour"])
    return {
        "heat": heat_map(data["by_weekday_hour"], data["tz"]),
        "heat_tall": heat_map(data["by_weekday_hour"], data["tz"], "tall"),
        "grid": data["by_weekday_hour"],
        "weekdays": WEEKDAYS,
        "peak": peak,
        "unique_note": None if data["window_unique"] is not None else analytics.UNIQUE_NEEDS_UTC,
        "zone_names": sorted(analytics.zone_names()),
    }


def named_countries(data: dict) -> dict:
    data["by_country"] = [{**row, "name": country_name(row["value"])} for row in data["by_country"]]
    return data


def _summary(chosen: Filters, days: int) -> dict:
    return analytics.workspace_summary(
        g.workspace, days, tz=account_zone(), folder_id=chosen.folder_id, tag=chosen.tag
    )


def _context() -> dict:
    """The overview's numbers; a filter the rules refuse shows why instead (`filter_error`)."""
    chosen, f, refused = list_filters(request.args, ("folder_id", "tag"))
    f = {"days": window_days(), **f}
    page = {
        "filters": f,
        "windows": WINDOWS,
        "folders": [folder for folder, _n in folders.list_folders(g.workspace)],
        "tags": codes.workspace_tags(g.workspace),
    }
    if refused:
        return {**page, "filter_error": refused.message}
    data = _summary(chosen, f["days"])
    return {
        **page,
        "data": named_countries(data),
        "query": {k: v for k, v in f.items() if v and not (k == "days" and v == 30)},
        "chart": bar_chart(data["daily"]),
        **time_of_day_context(data),
    }


@bp.get("/overview")
def overview():
    """All your codes' scans: chart, top codes, breakdowns, time of day; filters reload the results."""
    context = _context()
    status = 400 if context.get("filter_error") else 200
    return page_or_block("dashboard/overview.html", "results", status=status, **context)


def analytics_csv(data: dict, filename: str, *, with_codes: bool = False) -> Response:
    """An analytics answer as CSV: daily series (with unique visitors), top codes, breakdowns, hours."""
    rows = [["section", "key", "name", "scans", "unique"]]
    rows += [["day", entry["day"], "", entry["n"], entry["unique"]] for entry in data["daily"]]
    if with_codes:
        rows += [["code", entry["slug"], entry["label"], entry["n"], ""] for entry in data["by_code"]]
    for entry in data["by_country"]:
        rows.append(["country", entry["value"], country_name(entry["value"]), entry["n"], ""])
    for section, key in (
        ("device", "by_device"),
        ("referrer", "by_referrer"),
        ("destination", "by_destination"),
    ):
        # A code's answer says where its scans went; the account's does not.
        rows += [[section, entry["value"], "", entry["n"], ""] for entry in data.get(key, ())]
    rows += [["hour", f"{entry['hour']:02d}", data["tz"], entry["n"], ""] for entry in data["by_hour"]]
    for entry in data["by_weekday"]:
        rows.append(["weekday", entry["weekday"], WEEKDAYS[entry["weekday"]], entry["n"], ""])
    return csv_download(rows, filename)


@bp.get("/overview/scans.csv")
def overview_csv():
    """The overview's numbers for the chosen window and filters, as CSV."""
    chosen, _shown, refused = list_filters(request.args, ("folder_id", "tag"))
    if refused:
        raise refused
    days = window_days()
    return analytics_csv(_summary(chosen, days), f"openqr-scans-{days}d.csv", with_codes=True)


@bp.post("/settings/timezone")
def timezone():
    """Save the account's time zone, then show the page it was chosen on again."""
    back = safe_next(request.form.get("next")) or url_for("dashboard.overview")
    try:
        zone = analytics.parse_tz(request.form.get("tz", "").strip())
    except DomainError as err:
        return page_or_block(
            "dashboard/overview.html", "results", status=400, **{**_context(), "tz_error": err.message}
        )
    current_user.timezone = zone.key
    db.session.commit()
    return hx_redirect(back)
