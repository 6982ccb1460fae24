"""QR images: `/v1/qr` for any data or a static code's fields, `/v1/dynamic/{id}/qr` for a code's
short URL in its style."""

from flask import Blueprint, g, request

from ..auth.roles import needs
from ..codes import core as codes
from ..images import payloads
from ..images import render as qr
from ..images.http import IMMUTABLE, PRIVATE, REVALIDATE, image_params, image_response
from .openapi import operation
from .params import json_body

bp = Blueprint("images", __name__)


@bp.get("/qr")
@operation(
    "getImage",
    query=lambda: {"data": qr.data_schema(), **qr.query_schema()},
    required=("data",),
    image=IMMUTABLE,
)
def image():
    """Any text as a QR image; the same parameters always give the same bytes."""
    return image_response(image_params(request.args), IMMUTABLE, g.workspace.id)


@bp.post("/qr")
@needs("viewer")  # computes an image, changes nothing
@operation(
    "createStaticImage",
    body="QrCreate",
    body_says="What to encode (`data`, or `type` and its fields), and how to draw it.",
    image=PRIVATE,
)
def static_image():
    """A static code (URL, text, email, phone, SMS, WhatsApp, Wi-Fi, location, contact card) as a QR image.

    The same body always gives the same bytes. The answer is kept by no cache: the body may hold a
    Wi-Fi password.
    """
    return image_response(payloads.static_image(json_body()), PRIVATE, g.workspace.id)


@bp.get("/dynamic/<code_id>/qr")
@operation("getCodeImage", query=qr.query_schema, image=REVALIDATE)
def code_image(code_id):
    """The code's short URL as a QR image in its saved style (query overrides it)."""
    code = codes.get_code(g.workspace, code_id)
    return image_response(codes.code_image_params(code, request.args), REVALIDATE, g.workspace.id)
