"""`/v1/dynamic`: create, list, read, edit, delete codes, bulk create, and scan analytics.

Where a route parses query arguments, it does so in a function of `(workspace, args)` that
returns the API's JSON: the assistant tools (openqr/assistant) call the same function.
"""

from collections.abc import Mapping

from flask import Blueprint, g, jsonify, request

from ..codes import core as codes
from ..models import Workspace
from ..ops import ratelimit
from ..scans import analytics
from . import params
from .openapi import operation
from .params import json_body

bp = Blueprint("codes", __name__)
LIST_QUERY = (params.LIMIT, params.OFFSET, params.TAG, params.FOLDER, params.SEARCH)


def _created_headers() -> dict:
    return {
        **ratelimit.header_schemas(),
        "Location": {"type": "string", "description": "The new code's URL."},
    }


@bp.post("/dynamic")
@operation(
    "createCode",
    "Code",
    "Created.",
    status=201,
    headers=_created_headers,
    body="CodeCreate",
    body_says="The new code.",
    errors=(409, 429),
)
def create():
    """Create a dynamic code (counts against the hourly single-create limit)."""
    code, budget = codes.create_code(g.workspace, json_body())
    response = jsonify(codes.code_json(code))
    response.status_code = 201
    response.headers.update(budget.headers())
    response.headers["Location"] = f"/v1/dynamic/{code.id}"
    return response


@bp.get("/dynamic")
@operation("listCodes", "CodeList", "The codes.", query=params.schemas(*LIST_QUERY))
def list_():
    """The workspace's codes, newest first."""
    return code_list(g.workspace, request.args)


def code_list(workspace: Workspace, args: Mapping) -> dict:
    """`GET /v1/dynamic`'s answer for these arguments."""
    found = codes.list_codes(workspace, **{query.name: query.read(args) for query in LIST_QUERY})
    totals = analytics.stored_scans([code.id for code in found if (code.smart or {}).get("max_scans")])
    return {"codes": [codes.code_json(code, totals.get(code.id, 0)) for code in found]}


@bp.post("/dynamic/bulk")
@operation(
    "bulkCreateCodes",
    "CodeList",
    "Created, in input order.",
    status=201,
    body="BulkCreate",
    body_says="The codes, in order.",
    errors=(409, 429),
    summary=f"Create 1..{codes.MAX_BULK} codes at once, all or nothing (own hourly budget).",
)
def bulk():
    """Create 1..MAX_BULK codes at once, all or nothing."""
    created = codes.bulk_create(g.workspace, json_body())
    return {"codes": [codes.code_json(code) for code in created]}, 201


@bp.get("/dynamic/<code_id>")
@operation("getCode", "Code", "The code.")
def get(code_id):
    """One code."""
    return codes.code_json(codes.get_code(g.workspace, code_id))


@bp.patch("/dynamic/<code_id>")
@operation(
    "updateCode", "Code", "The code.", body="CodePatch", body_says="The fields to change.", errors=(409,)
)
def patch(code_id):
    """Change only the fields sent; a new slug retires the old one at once."""
    return codes.code_json(codes.update_code(g.workspace, code_id, json_body()))


@bp.delete("/dynamic/<code_id>")
@operation("deleteCode", "Deleted")
def delete(code_id):
    """Delete a code; its slug stops resolving at once."""
    codes.delete_code(g.workspace, code_id)
    return {"deleted": True}


@bp.get("/dynamic/<code_id>/history")
@operation("getCodeHistory", "History", "The history.")
def history(code_id):
    """Every change of the code's destination, newest first, with its source."""
    return {"history": codes.history(g.workspace, code_id)}


@bp.get("/dynamic/<code_id>/scans")
@operation("getCodeScans", "ScanReport", "The analytics.", query=params.schemas(params.DAYS, params.TZ))
def scans(code_id):
    """Scan analytics: lifetime summary and a `days` window."""
    return scan_report(g.workspace, code_id, request.args)


def scan_report(workspace: Workspace, code_id: str, args: Mapping) -> dict:
    """`GET /v1/dynamic/{id}/scans`'s answer for these arguments."""
    code = codes.get_code(workspace, code_id)
    summary = analytics.scan_summary(code, params.DAYS.read(args), tz=params.TZ.read(args))
    return {
        "id": code.id,
        "slug": code.slug,
        "short_url": codes.short_url(code),
        "destination": code.destination,
        **summary,
    }
