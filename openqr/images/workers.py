"""The render worker processes: QR images drawn beside the server's interpreter, not in it.

A pool per process and size, shared by every app in the process (a test run starts it once):
started by `start` (the server does, so the first image waits for no interpreter to boot) or by
the first render; spawned rather than forked (a fresh interpreter, no copy of the server's threads
and their locks); at the lowest CPU priority, so a worker draws with what the scans leave over. A
worker imports the app's package: about 75 MB and a few seconds to start.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from . import render as qr

log = logging.getLogger(__name__)

NICENESS = 19

_lock = threading.Lock()
_pools: dict[int, ProcessPoolExecutor] = {}


def _lower_priority() -> None:
    """A worker's first step: yield the CPU to the server, and so to every scan."""
    os.nice(NICENESS)


def draw_all(params: Sequence[qr.QrParams]) -> list[bytes]:
    """The images of a batch (one, or a ZIP's), in the process that calls it."""
    return [qr.render(each) for each in params]


def _pool(size: int) -> ProcessPoolExecutor:
    with _lock:
        if size not in _pools:
            _pools[size] = ProcessPoolExecutor(
                max_workers=size, mp_context=multiprocessing.get_context("spawn"), initializer=_lower_priority
            )
        return _pools[size]


def start(size: int) -> None:
    """Start `size` workers now, without waiting for them: each boots (and draws once) while the
    server gets on with its own start."""
    pool = _pool(size)
    for _ in range(size):
        pool.submit(draw_all, [qr.QrParams(data="warm-up")])


def draw(size: int, params: Sequence[qr.QrParams]) -> list[bytes]:
    """The images of a batch, drawn by one of `size` workers. A worker that died (killed, out of
    memory) takes its pool along: this batch is drawn here and the next render starts a new pool."""
    pool = _pool(size)
    try:
        return pool.submit(draw_all, list(params)).result()
    except BrokenProcessPool:
        log.error("A render worker process died; drawing this image here, starting new workers")
        with _lock:
            if _pools.get(size) is pool:
                del _pools[size]
        return draw_all(params)


def stop() -> None:
    """End every worker (a stopping server): what they are drawing is finished first."""
    with _lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.shutdown(wait=True, cancel_futures=True)
