"""QR images: `/v1/qr` for any data, `/v1/dynamic/{id}/qr` for a code's short URL in its style."""

from flask import Blueprint, g, request

from ..codes import core as codes
from ..images import render as qr
from ..images.http import IMMUTABLE, REVALIDATE, image_params, image_response
from .openapi import operation

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
    return image_response(image_params(request.args), IMMUTABLE)


@bp.get("/dynamic/<code_id>/qr")
@operation("getCodeImage", query=qr.query_schema, image=REVALIDATE)
def code_image(code_id):
    """The code's short URL as a QR image in its saved style (query overrides it)."""
    code = codes.get_code(g.account, code_id)
    return image_response(codes.code_image_params(code, request.args), REVALIDATE)
