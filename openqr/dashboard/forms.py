"""Turning HTML form fields into the domain's JSON-like bodies, and domain errors into per-field messages."""

from __future__ import annotations

import re

from ..errors import DomainError


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
