"""`/v1/scans`: the workspace's scans across codes, or a folder's or a tag's."""

from collections.abc import Mapping

from flask import Blueprint, g, request

from ..models import Workspace
from ..scans import analytics
from . import params
from .openapi import operation

bp = Blueprint("scans", __name__)
QUERY = (params.DAYS, params.TZ, params.SCANS_FOLDER, params.SCANS_TAG)


@bp.get("/scans")
@operation("getAccountScans", "AccountScans", "The analytics.", query=params.schemas(*QUERY), errors=(404,))
def account_scans():
    """The workspace's scans across codes (or a folder's or a tag's) over `days`."""
    return workspace_report(g.workspace, request.args)


def workspace_report(workspace: Workspace, args: Mapping) -> dict:
    """`GET /v1/scans`'s answer for these arguments (the assistants' get_account_scans too)."""
    return analytics.workspace_summary(workspace, **{query.name: query.read(args) for query in QUERY})
