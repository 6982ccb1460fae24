"""The filters of a code list or a scan summary (tag, folder, search), read one way everywhere.

`GET /v1/dynamic`, `GET /v1/scans`, the assistants' tools and the dashboard's codes list and
overview read their filters through `read_filters`: one length limit per filter, the tag folded
exactly as a stored tag is (`fold_tag`, which `core.clean_tags` uses too), control characters
refused (PostgreSQL cannot hold a NUL in text), and one message for each refusal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import ValidationError
from ..text import has_control

MAX_TAG_LENGTH = 40  # a stored tag, after folding
MAX_FILTER_LENGTH = 200  # the longest folder id or search text a filter takes
# A tag filter is held to the stored-tag rule: a longer one could never match, so it is refused
# (the same 400 from every list) rather than answered with an empty list here and a 400 there.
MAX_LENGTHS = {"tag": MAX_TAG_LENGTH, "folder_id": MAX_FILTER_LENGTH, "q": MAX_FILTER_LENGTH}
NAMES = tuple(MAX_LENGTHS)
_WHAT = {"tag": "tag filter", "folder_id": "folder filter", "q": "search text"}


def fold_tag(text: str) -> str:
    """A tag as it is stored and looked up: runs of white space made one space, lower case."""
    return " ".join(text.split()).lower()


def schema(name: str) -> dict:
    """The JSON Schema of one filter's value (for the API's published description)."""
    return {"type": "string", "maxLength": MAX_LENGTHS[name]}


@dataclass(frozen=True)
class Filters:
    """Clean filter values (None: not filtered), as `list_codes` and `workspace_summary` take them."""

    tag: str | None = None
    folder_id: str | None = None
    q: str | None = None


NO_FILTERS = Filters()


def clean_filter(name: str, raw: object) -> str | None:
    """One filter's value as the queries compare it, None when absent or blank; a value no stored
    row could match or the database could not hold is a ValidationError naming `name`."""
    if raw is None:
        return None
    what = _WHAT[name]
    if not isinstance(raw, str):
        raise ValidationError(f"The {what} must be a string.", field=name)
    value = fold_tag(raw) if name == "tag" else raw.strip()
    if has_control(value):
        raise ValidationError(f"The {what} must not contain control characters.", field=name)
    if len(value) > MAX_LENGTHS[name]:
        raise ValidationError(f"The {what} must be at most {MAX_LENGTHS[name]} characters.", field=name)
    return value or None


def read_filters(
    args: Mapping, names: tuple[str, ...] = NAMES, *, params: Mapping[str, str] | None = None
) -> Filters:
    """The filters `names` from a query string or an assistant's arguments; `params` maps a filter
    to the parameter it arrives as where that differs (the dashboard's `folder`)."""
    params = params or {}
    return Filters(**{name: clean_filter(name, args.get(params.get(name, name))) for name in names})
