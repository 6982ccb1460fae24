"""The JSON `/v1` API: Bearer-key auth, JSON errors, and the route modules beside this file."""

from flask import Blueprint, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from ..auth import keys, roles
from ..errors import API_PREFIX, DomainError, error_response
from . import codes, folders, images, openapi, scans, sheets, webhooks
from .openapi import operation

bp = Blueprint("api", __name__, url_prefix=API_PREFIX)
bp.register_blueprint(codes.bp)
bp.register_blueprint(folders.bp)
bp.register_blueprint(images.bp)
bp.register_blueprint(sheets.bp)
bp.register_blueprint(webhooks.bp)
bp.register_blueprint(scans.bp)
# The parent and every nested blueprint: CSRF exemption is checked per nested blueprint.
ALL_BLUEPRINTS = (bp, codes.bp, folders.bp, images.bp, sheets.bp, webhooks.bp, scans.bp)

# Paths under /v1 that anyone may read (the published contract).
PUBLIC_ENDPOINTS: set[str] = {"api.openapi_document"}


@bp.get("/openapi.json")
@operation("getOpenApi", {"type": "object", "required": ["openapi"]}, "The OpenAPI document.")
def openapi_document():
    """This document.

    The OpenAPI 3.1 description of this API (public, like everything in PUBLIC_ENDPOINTS).
    """
    return openapi.spec(current_app.config["OPENQR_BASE_URL"])


@bp.before_request
def require_key():
    """Every /v1 call but the public ones needs `Authorization: Bearer oqr_live_...`, and a key
    whose role may make it (`roles.required_role`: a view's mark, else read or change)."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    access = keys.access_for_authorization(request.headers.get("Authorization", ""))
    if access is None:
        return error_response(
            401, "unauthorized", keys.UNAUTHORIZED_MESSAGE, {"WWW-Authenticate": keys.CHALLENGE}
        )
    g.access, g.workspace = access, access.workspace
    view = current_app.view_functions.get(request.endpoint or "")
    if view is not None:  # an unknown path stays a 404, whatever the role
        roles.require_for_request(access, roles.required_role(view, request.method), request.view_args)
    return None


@bp.errorhandler(DomainError)
def domain_error(err: DomainError):
    response = jsonify(err.to_json())
    response.status_code = err.status
    response.headers.update(getattr(err, "headers", {}) or {})
    return response


def http_error_as_json(err: HTTPException):
    """HTTP errors under /v1 (unknown path, wrong method, body too large...) as JSON."""
    codes_by_status = {
        404: "not_found",
        405: "method_not_allowed",
        413: "body_too_large",
        415: "unsupported_media_type",
        400: "bad_request",
    }
    headers = {}
    if err.code == 405 and err.valid_methods:
        headers["Allow"] = ", ".join(err.valid_methods)
    message = {404: "No such resource.", 405: f"{request.method} is not allowed here."}.get(
        err.code, err.description or err.name
    )
    return error_response(err.code or 500, codes_by_status.get(err.code, "error"), message, headers)
