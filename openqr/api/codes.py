"""`/v1/dynamic`: create, list, read, edit, delete codes, bulk create, and scan analytics.

Where a route parses query arguments, it does so in a function of `(account, args)` that
returns the API's JSON: the assistant tools (openqr/assistant) call the same function.
"""

from collections.abc import Mapping

from flask import Blueprint, g, jsonify, request

from ..codes import core as codes
from ..codes.filters import read_filters
from ..models import Account
from ..scans import analytics
from .params import days_arg, int_arg, json_body, tz_arg

bp = Blueprint("codes", __name__)


@bp.post("/dynamic")
def create():
    """Create one code (counts against the hourly single-create limit)."""
    code, budget = codes.create_code(g.account, json_body())
    response = jsonify(codes.code_json(code))
    response.status_code = 201
    response.headers.update(budget.headers())
    response.headers["Location"] = f"/v1/dynamic/{code.id}"
    return response


@bp.get("/dynamic")
def list_():
    """The account's codes, newest first; filters tag, folder_id, q; limit and offset."""
    return code_list(g.account, request.args)


def code_list(account: Account, args: Mapping) -> dict:
    """`GET /v1/dynamic`'s answer for these arguments."""
    found = codes.list_codes(
        account,
        limit=int_arg(args, "limit", codes.LIST_DEFAULT, 1, codes.LIST_MAX),
        offset=int_arg(args, "offset", 0, 0, codes.OFFSET_MAX),
        filters=read_filters(args),
    )
    totals = analytics.stored_scans([code.id for code in found if (code.smart or {}).get("max_scans")])
    return {"codes": [codes.code_json(code, totals.get(code.id, 0)) for code in found]}


@bp.post("/dynamic/bulk")
def bulk():
    """Create 1..MAX_BULK codes at once, all or nothing."""
    created = codes.bulk_create(g.account, json_body())
    return {"codes": [codes.code_json(code) for code in created]}, 201


@bp.get("/dynamic/<code_id>")
def get(code_id):
    """One code."""
    return codes.code_json(codes.get_code(g.account, code_id))


@bp.patch("/dynamic/<code_id>")
def patch(code_id):
    """Change only the fields sent."""
    return codes.code_json(codes.update_code(g.account, code_id, json_body()))


@bp.delete("/dynamic/<code_id>")
def delete(code_id):
    """Delete a code; its slug stops resolving at once."""
    codes.delete_code(g.account, code_id)
    return {"deleted": True}


@bp.get("/dynamic/<code_id>/history")
def history(code_id):
    """Every change of the code's destination (creation included), newest first, with its source."""
    return {"history": codes.history(g.account, code_id)}


@bp.get("/dynamic/<code_id>/scans")
def scans(code_id):
    """Scan analytics: lifetime summary plus a `days` window (1..365, default 30) in zone `tz`."""
    return scan_report(g.account, code_id, request.args)


def scan_report(account: Account, code_id: str, args: Mapping) -> dict:
    """`GET /v1/dynamic/{id}/scans`'s answer for these arguments."""
    code = codes.get_code(account, code_id)
    summary = analytics.scan_summary(code, days_arg(args), tz=tz_arg(args))
    return {
        "id": code.id,
        "slug": code.slug,
        "short_url": codes.short_url(code),
        "destination": code.destination,
        **summary,
    }
