"""Turning HTML form fields and query strings into the domain's values, and domain errors into
per-field messages."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..codes.filters import NAMES, NO_FILTERS, Filters, read_filters
from ..errors import DomainError, ValidationError

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
