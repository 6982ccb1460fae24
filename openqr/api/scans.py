"""`/v1/scans`: the account's scans across codes, or a folder's or a tag's."""

from collections.abc import Mapping

from flask import Blueprint, g, request

from ..models import Account
from ..scans import analytics
from .params import days_arg, str_arg, tz_arg

bp = Blueprint("scans", __name__)


@bp.get("/scans")
def account_scans():
    """Totals, daily series, top codes, breakdowns and time of day over a `days` window."""
    return account_report(g.account, request.args)


def account_report(account: Account, args: Mapping) -> dict:
    """`GET /v1/scans`'s answer for these arguments (the assistants' get_account_scans too)."""
    return analytics.account_summary(
        account,
        days_arg(args),
        tz=tz_arg(args),
        folder_id=str_arg(args, "folder_id", 32),
        tag=str_arg(args, "tag", 40),
    )
