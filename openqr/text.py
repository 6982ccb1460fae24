"""Small rules about text that many modules share: control characters and UTC timestamps."""

from __future__ import annotations

import datetime as dt
import re

# As a character-class body that both Python's `re` and JSON Schema (ECMA 262) read the same way.
CONTROL_CLASS = "\\u0000-\\u001f\\u007f"
_CONTROL = re.compile(f"[{CONTROL_CLASS}]")


def has_control(value: str) -> bool:
    """Whether `value` holds a C0 control character or DEL (tabs and newlines included)."""
    return _CONTROL.search(value) is not None


def iso_z(moment: dt.datetime) -> str:
    """A stored (naive UTC) time as ISO 8601 with seconds and `Z`: `2026-05-01T09:30:00Z`."""
    return moment.isoformat(timespec="seconds") + "Z"
