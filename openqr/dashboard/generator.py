"""The Generator: a static code (Wi-Fi, a contact card, a URL...) from a form, previewed as it is
typed and downloaded as a file. Nothing is stored; the rules are `POST /v1/qr`'s (images.payloads)."""

from __future__ import annotations

import base64

from flask import g, request

from ..auth.roles import needs
from ..errors import DomainError
from ..images import gate, payloads
from ..images import render as qr
from ..images.http import PRIVATE, image_response
from ..images.params import VECTOR_FORMATS
from ..web.htmx import page_or_block
from .base import bp
from .code_page import DOWNLOAD_SIZES, PRINT_SIZES_MM
from .forms import style_choices, style_defaults, style_of_form

PREVIEW_SIZE = 512
DOWNLOAD_SIZE = 1024
CHOICE_LABELS = {"WPA": "WPA, WPA2 or WPA3", "WEP": "WEP (old)", "nopass": "None: an open network"}


def _type_name(raw: str | None) -> str:
    return raw if raw in payloads.TYPES else "url"


def _body(form, name: str, *, fmt: str, size: int | str, size_mm: int | str | None = None) -> dict:
    """The form as `POST /v1/qr`'s body: blank fields left out, a box ticked or not."""
    body: dict = {"type": name}
    for field in payloads.TYPES[name].fields:
        if field.kind == "flag":
            body[field.name] = bool(form.get(field.name))
        elif form.get(field.name, "") != "":
            body[field.name] = form[field.name]
    if body.get("encryption") == "nopass":
        body.pop("password", None)  # the person chose an open network: a password typed before goes
    sizing = {"size": size} if size_mm is None else {"size_mm": size_mm}
    return {**body, "format": fmt, **sizing, "style": _style(form)}


def _style(form) -> dict:
    """The style controls as sent, a cleared one left to its default."""
    return {key: value for key, value in style_of_form(form).items() if value != ""}


def _is_blank(form, name: str) -> bool:
    """Nothing typed yet: show how to start rather than an error."""
    return not any(
        form.get(field.name, "").strip()
        for field in payloads.TYPES[name].fields
        if field.kind not in ("flag", "choice")
    )


def _readable(err: DomainError, name: str) -> tuple[str, str]:
    """The field at fault and the message as a person reads it: the field's label, not its JSON name."""
    field = (err.field or "").split(".")[0]
    message = err.message
    for spec in payloads.TYPES[name].fields:
        if spec.name == field:
            message = message.replace(f"'{field}'", spec.label, 1)
    return field, message[:1].upper() + message[1:]


def _refused(name: str, form, err: DomainError, block: str):
    field, message = _readable(err, name)
    return _page(name, form, err.status, block, error=message, error_field=field, errors={field: message})


def _page(name: str, values, status: int = 200, block: str = "generator", **context):
    base = {
        "types": payloads.TYPES,
        "type": name,
        "kind": payloads.TYPES[name],
        "values": values,
        "style": {**style_defaults(), **_style(values)},
        "choice_labels": CHOICE_LABELS,
        "sizes": DOWNLOAD_SIZES,
        "download_size": values.get("size") or str(DOWNLOAD_SIZE),
        "print_sizes": PRINT_SIZES_MM,
        "print_size": values.get("size_mm") or str(qr.SIZE_MM_DEFAULT),
        "pixel_formats": [fmt for fmt in qr.FORMATS if fmt not in VECTOR_FORMATS],
        "vector_formats": [fmt for fmt in qr.FORMATS if fmt in VECTOR_FORMATS],
        **style_choices(),
        "image": None,
        "text": None,
        "error": None,
        "error_field": None,
        "errors": {},
    }
    return page_or_block("dashboard/generator.html", block, status=status, **{**base, **context})


@bp.get("/generator")
def generator():
    """The Generator for one type (`?type=wifi`); switching type (HTMX) swaps the form and preview."""
    return _page(_type_name(request.args.get("type")), {})


@bp.post("/generator")
@needs("viewer")  # computes an image, changes nothing
def generator_preview():
    """The preview for the form as typed: the image and the text it encodes, or why it cannot be made."""
    form = request.form
    name = _type_name(form.get("type"))
    if _is_blank(form, name):
        return _page(name, form, block="preview")
    try:
        params = payloads.static_image(_body(form, name, fmt="png", size=PREVIEW_SIZE))
    except DomainError as err:
        return _refused(name, form, err, "preview")
    image = base64.b64encode(gate.render(g.workspace.id, params)).decode("ascii")
    return _page(name, form, block="preview", image=image, text=params.data)


@bp.post("/generator/download")
@needs("viewer")  # computes an image, changes nothing
def generator_download():
    """The code as a file in the chosen format and size (a form post: a Wi-Fi password stays out of URLs)."""
    form = request.form
    name = _type_name(form.get("type"))
    fmt = form.get("format", "png")
    size = form.get("size") or DOWNLOAD_SIZE
    # Vector files are made at a printed width; a PNG at a width in pixels.
    size_mm = (form.get("size_mm") or qr.SIZE_MM_DEFAULT) if fmt in VECTOR_FORMATS else None
    try:
        params = payloads.static_image(_body(form, name, fmt=fmt, size=size, size_mm=size_mm))
    except DomainError as err:
        return _refused(name, form, err, "generator")
    response = image_response(params, PRIVATE, g.workspace.id)
    size = f"{params.size_mm}mm" if params.size_mm else params.size
    response.headers["Content-Disposition"] = f'attachment; filename="qr-{name}-{size}.{params.format}"'
    return response
