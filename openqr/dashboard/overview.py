"""The overview: the account's scans across codes, narrowed by folder or tag, and its time zone."""

from __future__ import annotations

from flask import Response, request, url_for
from flask_login import current_user

from ..codes import core as codes
from ..codes import folders
from ..errors import DomainError
from ..extensions import db
from ..scans import analytics
from ..scans.countries import country_name
from ..web.htmx import hx_redirect, page_or_block
from ..web.pages import safe_next
from ..web.spreadsheet import csv_download
from .base import bp
from .chart import WEEKDAYS, bar_chart, busiest, heat_map

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


def _filters() -> dict:
    args = request.args
    return {
        "days": window_days(),
        "folder": args.get("folder", "").strip()[:32],
        "tag": args.get("tag", "").strip()[:40],
    }


def _context() -> dict:
    f = _filters()
    data = analytics.account_summary(
        current_user, f["days"], tz=account_zone(), folder_id=f["folder"] or None, tag=f["tag"] or None
    )
    query = {k: v for k, v in f.items() if v and not (k == "days" and v == 30)}
    return {
        "data": named_countries(data),
        "filters": f,
        "query": query,
        "windows": WINDOWS,
        "folders": [folder for folder, _n in folders.list_folders(current_user)],
        "tags": codes.account_tags(current_user),
        "chart": bar_chart(data["daily"]),
        **time_of_day_context(data),
    }


@bp.get("/overview")
def overview():
    """All your codes' scans: chart, top codes, breakdowns, time of day; filters reload the results."""
    return page_or_block("dashboard/overview.html", "results", **_context())


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
    f = _filters()
    data = analytics.account_summary(
        current_user, f["days"], tz=account_zone(), folder_id=f["folder"] or None, tag=f["tag"] or None
    )
    return analytics_csv(data, f"openqr-scans-{f['days']}d.csv", with_codes=True)


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
