"""Turning HTML form fields and query strings into the domain's values, and domain errors into
per-field messages."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..codes.filters import NAMES, NO_FILTERS, Filters, read_filters
from ..errors import DomainError, ValidationError
from ..images import render as qr

FILTER_PARAMS = {"folder_id": "folder"}  # the dashboard's URLs say `?folder=`


def tags_from_text(text: str, separators: str = ",") -> list[str]:
    """'a, b' -> ['a', 'b'] (the form); bulk cells also split on '|' and spaces."""
    pattern = "[" + re.escape(separators) + "]+" if separators != "bulk" else r"[|\s]+"
    return [part.strip() for part in re.split(pattern, text or "") if part.strip()]


def code_body(form, *, creating: bool) -> dict:
    """A create or patch body from the code form: blank label/folder mean none, blank slug means random."""
    body: dict = {"destination": form.get("destination", "").strip()}
    if "label" in form:
        body["label"] = form.get("label") or None
    if "tags" in form:
        body["tags"] = tags_from_text(form.get("tags", ""))
    if "folder_id" in form:
        body["folder_id"] = form.get("folder_id") or None
    slug = form.get("slug", "").strip()
    if creating:
        if slug:
            body["slug"] = slug
    elif "slug" in form:
        body["slug"] = slug
    return body


def style_defaults() -> dict:
    """The style an image gets when nothing is saved: the form's starting values."""
    return {key: getattr(qr.QrParams, key) for key in qr.STYLE_KEYS}


def style_of_form(form) -> dict:
    """The style the controls ask for. A corner or frame colour equal to dark is "same as dark"
    (null); no gradient type means no gradient, no frame text means no frame."""
    wanted = {name: form.get(name, "") for name in ("dark", "light", "ecc", "margin")}
    if form.get("transparent"):
        wanted["light"] = qr.TRANSPARENT
    for name in ("dots", "corners", "corner_dots"):
        if name in form:
            wanted[name] = form[name]
    dark = form.get("dark", "").lower()
    if "corner_color" in form:
        wanted["corner_color"] = None if form["corner_color"].lower() == dark else form["corner_color"]
    if "gradient_type" in form:
        kind = form["gradient_type"]
        wanted["gradient"] = (
            {
                "type": kind,
                "to": form.get("gradient_to", ""),
                "rotation": form.get("gradient_rotation") or "0",
            }
            if kind
            else None
        )
    if "frame_text" in form:
        text, colour = form["frame_text"], form.get("frame_color", "")
        wanted["frame"] = (
            {"text": text, "color": None if colour.lower() == dark else colour} if text.strip() else None
        )
    return wanted


def style_choices() -> dict:
    """What the style controls offer, from the image rules: the shapes and the gradients."""
    return {
        "choices": {"dots": qr.DOTS, "corners": qr.CORNERS, "corner_dots": qr.CORNER_DOTS},
        "gradient_types": qr.GRADIENT_TYPES,
    }


def field_errors(err: DomainError) -> dict[str, str]:
    """{field: message} for showing beside the field; unnamed errors go under '_'."""
    field = (err.field or "_").split(".")[0]
    return {field: err.message}


def list_filters(
    args: Mapping, names: tuple[str, ...] = NAMES
) -> tuple[Filters, dict[str, str], ValidationError | None]:
    """A page's filters as the rules read them, the values its filter form shows, and the rules'
    refusal if there is one: then nothing is filtered and the form shows what was sent, so the
    person sees why and can correct it (never a silently shortened filter)."""
    params = {name: FILTER_PARAMS.get(name, name) for name in names}
    try:
        chosen = read_filters(args, names, params=FILTER_PARAMS)
    except ValidationError as err:
        return NO_FILTERS, {param: args.get(param, "") for param in params.values()}, err
    return chosen, {param: getattr(chosen, name) or "" for name, param in params.items()}, None
