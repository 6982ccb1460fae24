"""Running the SDK's async client from a synchronous test."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import anyio


def run(async_fn, *args):
    """`anyio.run` in a thread of its own: the browser tests' Playwright keeps an event loop
    running in the main thread for the whole session, and anyio refuses to start a second one."""
    with ThreadPoolExecutor(1, thread_name_prefix="test-async") as pool:
        return pool.submit(anyio.run, async_fn, *args).result()
