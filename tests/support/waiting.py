"""Waiting for something another thread or process does, for a bounded time."""

from __future__ import annotations

import time


def wait_for(predicate, timeout: float = 20.0, pause: float = 0.05) -> bool:
    """Whether `predicate()` came true within `timeout` seconds (asked every `pause` seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(pause)
    return predicate()
