"""QR images: `/v1/qr` for any data, `/v1/dynamic/{id}/qr` for a code's short URL in its style."""

from flask import Blueprint, Response, g, request

from .. import codes, qr
from ..errors import ValidationError

bp = Blueprint("images", __name__)

# The same parameters always give the same bytes, so clients may keep them for a long time.
IMMUTABLE = "public, max-age=31536000, immutable"


def image_response(params: qr.QrParams, cache_control: str) -> Response:
    tag = qr.etag(params)
    if request.if_none_match.contains(tag.strip('"')):
        response = Response(status=304)
    else:
        response = Response(qr.render(params), mimetype=qr.media_type(params.format))
    response.headers["ETag"] = tag
    response.headers["Cache-Control"] = cache_control
    return response


def _params(**kwargs) -> qr.QrParams:
    try:
        return qr.parse_query(request.args, **kwargs)
    except qr.QrParamError as err:
        raise ValidationError(str(err), field=err.field, code="invalid_parameter") from None


@bp.get("/qr")
def image():
    """Any data as a QR image."""
    return image_response(_params(), IMMUTABLE)


@bp.get("/dynamic/<code_id>/qr")
def code_image(code_id):
    """A code's short URL as a QR image in the code's saved style."""
    code = codes.get_code(g.account, code_id)
    params = _params(style=code.style or {}, data=codes.short_url(code))
    # The style can change, so revalidate; the ETag makes that cheap.
    return image_response(params, "private, no-cache")
