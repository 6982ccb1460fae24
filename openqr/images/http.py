"""QR images as HTTP answers: one way to parse image parameters and send the bytes,
shared by the API (`/v1/qr`, `/v1/dynamic/{id}/qr`) and the dashboard."""

from __future__ import annotations

from collections.abc import Hashable, Mapping

from flask import Response, request

from ..errors import ValidationError
from . import gate, proof
from . import render as qr

# The same parameters always give the same bytes, so clients may keep them for a long time.
IMMUTABLE = "public, max-age=31536000, immutable"
# A code's style can change: clients revalidate, and the ETag makes that cheap.
REVALIDATE = "private, no-cache"
# Built from a request body (a static code's fields, perhaps a Wi-Fi password): kept by no cache.
PRIVATE = "no-store"


def image_params(args: Mapping[str, str], **kwargs) -> qr.QrParams:
    """`qr.parse_query`, with its errors as the ValidationError the API and dashboard show."""
    try:
        return qr.parse_query(args, **kwargs)
    except qr.QrParamError as err:
        raise ValidationError(str(err), field=err.field, code="invalid_parameter") from None


def prove(params: qr.QrParams) -> None:
    """`proof.prove`: a style that would not scan is a 400 `unscannable` naming `style`."""
    try:
        proof.prove(params)
    except qr.Unscannable as err:
        raise ValidationError(err.message, field="style", code="unscannable") from None


def image_response(params: qr.QrParams, cache_control: str, owner: Hashable) -> Response:
    """The image drawn for `owner` through the render gate, or 304 to a GET when the client already
    holds these bytes (strong ETag). Raises the gate's RateLimited or RenderBusy beyond its limits."""
    return bytes_response(gate.render(owner, params), qr.media_type(params.format), cache_control)


def bytes_response(image: bytes, media_type: str, cache_control: str) -> Response:
    """Drawn bytes with their strong ETag, or 304 to a GET whose If-None-Match holds it."""
    tag = qr.etag_of(image)
    if request.method in ("GET", "HEAD") and request.if_none_match.contains(tag.strip('"')):
        response = Response(status=304)
    else:
        response = Response(image, mimetype=media_type)
    response.headers["ETag"] = tag
    response.headers["Cache-Control"] = cache_control
    return response
