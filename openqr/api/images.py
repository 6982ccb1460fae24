"""QR images: `/v1/qr` for any data, `/v1/dynamic/{id}/qr` for a code's short URL in its style."""

from flask import Blueprint, g, request

from ..codes import core as codes
from ..images.http import IMMUTABLE, REVALIDATE, image_params, image_response

bp = Blueprint("images", __name__)


@bp.get("/qr")
def image():
    """Any data as a QR image."""
    return image_response(image_params(request.args), IMMUTABLE, g.account.id)


@bp.get("/dynamic/<code_id>/qr")
def code_image(code_id):
    """A code's short URL as a QR image in the code's saved style."""
    code = codes.get_code(g.account, code_id)
    return image_response(codes.code_image_params(code, request.args), REVALIDATE, g.account.id)
