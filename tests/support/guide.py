"""The published guide (shared/spec beside the checkout) and the examples tests run from it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def guide_text() -> str:
    """The guide as published, from `shared/spec` beside the checkout (or above it). A checkout
    copied elsewhere on its own has no guide: the tests that run its examples skip, saying so."""
    import pytest

    for parent in ROOT.parents:
        guide = parent / "shared" / "spec" / "openqr-dynamic-codes-guide.txt"
        if guide.is_file():
            return guide.read_text()
    pytest.skip(f"the published guide (shared/spec/openqr-dynamic-codes-guide.txt) is not beside {ROOT}")


def python_example() -> str:
    """The guide's Python reporting script, as published."""
    script = guide_text()
    script = script[script.index("import os, requests") :]
    return script[: script.index("Where dynamic codes")]


def curl_commands() -> list[str]:
    """Every `curl` command of the guide, in order, each as one shell command line.

    The published text lost the line break after each code block, so the prose that follows is
    glued to the last word of a command ("-o spring-poster.pngRate limit: ..."): a command ends
    at the end of a line that neither ends with a backslash nor leaves a quote open, and at a
    capitalised word glued to the end of its last line.
    """
    commands, current = [], None
    for line in guide_text().splitlines():
        if current is None:
            if not line.startswith("curl "):
                continue
            current = []
        current.append(line)
        text = "\n".join(current)
        if line.endswith("\\") or text.count("'") % 2:
            continue
        current[-1] = re.sub(r"(?<=[a-z0-9])[A-Z][a-z]+ .*$", "", line)
        commands.append("\n".join(current))
        current = None
    return commands
