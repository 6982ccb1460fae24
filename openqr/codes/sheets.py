"""Print sheets of a workspace's codes: which codes (a list of ids, a folder or a tag) and what each
prints, read from a request body; the layout's own rules are the image area's (images/sheet.py).

`POST /v1/sheets` and the dashboard's Print form both call `read_sheet`, then draw the result
through the render gate.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import NotFound, ValidationError
from ..images import render as qr
from ..images import sheet
from ..models import Code, Workspace
from ..text import closed
from . import core, filters, folders

SOURCES = ("codes", "folder_id", "tag")  # what to print: exactly one of them
FIELDS = (*SOURCES, *sheet.OPTION_KEYS)


def read_sheet(workspace: Workspace, body: object) -> sheet.Sheet:
    """The sheet a request asks for, every code in its saved style; a ValidationError naming the
    field for a bad body, NotFound for a code or folder the workspace does not have."""
    if not isinstance(body, Mapping):
        raise ValidationError("The body must be a JSON object.")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise ValidationError(f"Unknown field: {unknown[0]}.", field=unknown[0], code="unknown_field")
    given = [name for name in SOURCES if body.get(name) is not None]
    if len(given) != 1:
        which = "none" if not given else " and ".join(given)
        raise ValidationError(
            f"Give exactly one of codes (a list of ids), folder_id or tag: what to print (this has {which}).",
            field=given[1] if len(given) > 1 else "codes",
        )
    source = given[0]
    try:
        options = sheet.read_options(body)
        chosen = _chosen(workspace, source, body[source])
        cells = [(core.code_image_params(code, {}), _label(code, options.label)) for code in chosen]
        return sheet.sheet(options, cells, source)
    except qr.QrParamError as err:
        raise ValidationError(err.message, field=err.field, code="invalid_parameter") from None


def _chosen(workspace: Workspace, source: str, value: object) -> list[Code]:
    """The codes to print, in order: a list's as given, a folder's or a tag's oldest first."""
    if source == "codes":
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ValidationError("codes must be a list of code ids.", field="codes")
        sheet.check_count(len(value), "codes")
        found = {code_id: _code(workspace, code_id) for code_id in dict.fromkeys(value)}
        return [found[code_id] for code_id in value]
    wanted = filters.clean_filter(source, value)
    if wanted is None:
        raise ValidationError(f"{source} must not be blank.", field=source)
    if source == "folder_id":
        where = f"the folder {folders.get_folder(workspace, wanted).name!r}"
    else:
        where = f"the tag {wanted!r}"
    found = core.list_codes(workspace, limit=sheet.MAX_CODES + 1, **{source: wanted})
    if not found:
        raise ValidationError(f"No codes in {where}: nothing to print.", field=source)
    if len(found) > sheet.MAX_CODES:
        raise ValidationError(
            f"More than {sheet.MAX_CODES} codes in {where}; a sheet prints at most {sheet.MAX_CODES}: "
            "print a selection of them.",
            field=source,
        )
    return found[::-1]


def _code(workspace: Workspace, code_id: str) -> Code:
    try:
        return core.get_code(workspace, code_id)
    except NotFound:  # say which of the list, as far as a person can read it
        raise NotFound(f"No such code: {code_id[:40]!r}.", field="codes") from None


def _label(code: Code, choice: str) -> str | None:
    if choice == "none":
        return None
    return code.slug if choice == "slug" else code.label or code.slug


def request_schema() -> dict:
    """The body of `read_sheet`: one of the sources, and the layout (images/sheet.py)."""
    sources = {
        "codes": {
            "type": "array",
            "minItems": 1,
            "maxItems": sheet.MAX_CODES,
            "items": {"type": "string"},
            "description": "Code ids, printed in this order (an id may repeat).",
        },
        "folder_id": {
            **filters.schema("folder_id"),
            "description": "Every code in this folder, oldest first.",
        },
        "tag": {**filters.schema("tag"), "description": "Every code with this tag, oldest first."},
    }
    schema = closed(
        {**sources, **sheet.options_schema()},
        [],
        f"Exactly one of {', '.join(SOURCES)}; at most {sheet.MAX_CODES} codes.",
    )
    return {**schema, "oneOf": [{"required": [name]} for name in SOURCES]}
