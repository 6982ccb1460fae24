"""`/v1/scans`: the account's scans across codes, or a folder's or a tag's."""

from flask import Blueprint, g

from .. import analytics
from .params import days_arg, str_arg, tz_arg

bp = Blueprint("scans", __name__)


@bp.get("/scans")
def account_scans():
    """Totals, daily series, top codes, breakdowns and time of day over a `days` window."""
    return analytics.account_summary(
        g.account,
        days_arg(),
        tz=tz_arg(),
        folder_id=str_arg("folder_id", 32),
        tag=str_arg("tag", 40),
    )
