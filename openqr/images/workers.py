"""The render worker processes: QR images drawn beside the server's interpreter, not in it.

`WorkerPool` starts its processes with the server (`start`, without waiting for them: a worker
imports the app's package, about 75 MB and a few seconds) or at the first image; spawned rather
than forked (a fresh interpreter, no copy of the server's threads and their locks); at the
lowest CPU priority, so a worker draws with what the scans leave over.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Protocol

from . import render as qr

log = logging.getLogger(__name__)

NICENESS = 19


def _lower_priority() -> None:
    """A worker's first step: yield the CPU to the server, and so to every scan."""
    os.nice(NICENESS)


class Drawn(Protocol):
    """A render job that draws itself (a print sheet), sent to a worker as it is (pickled)."""

    def render(self) -> bytes: ...


Job = qr.QrParams | Drawn


def draw_all(params: Sequence[Job]) -> list[bytes]:
    """The images of a batch (one, or a ZIP's), in the process that calls it."""
    return [qr.render(each) if isinstance(each, qr.QrParams) else each.render() for each in params]


class WorkerPool:
    """`size` worker processes, made when first needed and again after one died."""

    def __init__(self, size: int):
        self.size = size
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None

    def _running(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    max_workers=self.size,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_lower_priority,
                )
            return self._executor

    def pids(self) -> list[int]:
        """The worker processes' ids (none before the first start)."""
        executor = self._executor
        return list(executor._processes) if executor is not None else []

    def start(self) -> None:
        """Start the workers now, without waiting: each boots (and draws once) meanwhile."""
        executor = self._running()
        for _ in range(self.size):
            executor.submit(draw_all, [qr.QrParams(data="warm-up")])

    def draw(self, params: Sequence[Job]) -> list[bytes]:
        """The images of a batch, drawn by a worker. A worker that died (killed, out of memory)
        takes its pool along: this batch is drawn here and the next one gets new workers."""
        executor = self._running()
        try:
            return executor.submit(draw_all, list(params)).result()
        except BrokenProcessPool:
            log.error("A render worker process died; drawing this image here, starting new workers")
            with self._lock:
                if self._executor is executor:
                    self._executor = None
            return draw_all(params)

    def stop(self, timeout: float) -> None:
        """End the workers, letting them finish what they draw for at most `timeout` seconds."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            ending = threading.Thread(target=executor.shutdown, kwargs={"cancel_futures": True}, daemon=True)
            ending.start()
            ending.join(timeout)
            if ending.is_alive():
                log.error("The render workers did not stop within %.0f s", timeout)
