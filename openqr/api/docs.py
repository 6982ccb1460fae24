"""`/docs`: the API reference for people, the OpenAPI document rendered by a vendored Swagger UI."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("docs", __name__)

# The vendored renderer under static/vendor/ (see its LICENSE there).
SWAGGER_UI = "vendor/swagger-ui-dist-5.32.0"


@bp.get("/docs")
def docs_page():
    """The API reference for people, rendered by the vendored Swagger UI from /v1/openapi.json."""
    return render_template("docs/index.html", vendor=SWAGGER_UI)
