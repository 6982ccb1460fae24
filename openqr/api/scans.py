"""`/v1/scans`: the account's scans across codes, or a folder's or a tag's."""

from collections.abc import Mapping

from flask import Blueprint, g, request

from ..codes.filters import read_filters
from ..models import Account
from ..scans import analytics
from .params import days_arg, tz_arg

bp = Blueprint("scans", __name__)


@bp.get("/scans")
def account_scans():
    """Totals, daily series, top codes, breakdowns and time of day over a `days` window."""
    return account_report(g.account, request.args)


def account_report(account: Account, args: Mapping) -> dict:
    """`GET /v1/scans`'s answer for these arguments (the assistants' get_account_scans too)."""
    days, tz = days_arg(args), tz_arg(args)
    filters = read_filters(args, ("folder_id", "tag"))
    return analytics.account_summary(account, days, tz=tz, folder_id=filters.folder_id, tag=filters.tag)
