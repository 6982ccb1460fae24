"""Render isolation: every QR image this server draws passes this gate, whatever asked for it
(`/v1/qr`, a code's image, the bulk ZIP, a print sheet, the assistant's `render_qr`).

Drawing a large image is seconds of CPU in a busy minute, and in this process it would hold the
interpreter (the GIL) that every redirect needs. The gate bounds that work:

- **Capacity**: at most `processes` renders at once, each in a worker process (`workers`): the
  drawing happens beside this interpreter, not in it, at the lowest CPU priority. With
  `processes` = 0, one render at a time in the requesting thread.
- **Waiting**: a render beyond capacity waits its turn, but at most `queue` of them per process
  and for at most `wait` seconds; beyond that it is refused with `503` and `Retry-After`
  (`RenderBusy`): waiting requests hold server threads the redirect needs.
- **Budget**: one owner (a workspace) may have at most `per_owner` renders
  running or waiting; beyond that it is refused with `429` and `Retry-After` (`RateLimited`), so
  one workspace cannot take every slot from the others.
- **Cache**: the images drawn last are answered from memory without passing the gate (not
  sheets: megabytes each, and their codes change).

A render job is a `QrParams`, or any picklable object whose `render()` gives its bytes (a
`sheet.Sheet`): one admission, one slot, however many codes it holds.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Hashable, Mapping, Sequence

from ..config import ConfigError
from ..errors import DomainError, RateLimited
from ..services import current_services
from . import render as qr
from . import workers

CACHE_ENTRIES = 256


class RenderBusy(DomainError):
    """Every render slot is taken and the line is full (or moved too slowly): try again shortly."""

    status = 503
    code = "busy"

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


class _Ticket:
    """A render waiting for a slot: granted (with the slot) by the render that frees one."""

    __slots__ = ("granted", "owner", "ready", "seq")

    def __init__(self, owner: Hashable, seq: int):
        self.owner, self.seq, self.granted, self.ready = owner, seq, False, threading.Event()


class RenderGate:
    """The capacity, the line and the per-owner budget of one process's renders."""

    def __init__(
        self,
        *,
        processes: int = 1,
        queue: int = 16,
        per_owner: int = 12,
        wait: float = 10.0,
        cache_entries: int = CACHE_ENTRIES,
    ):
        self.processes, self.slots = processes, max(1, processes)
        self.workers = workers.WorkerPool(processes) if processes else None
        self.queue, self.per_owner, self.wait = queue, per_owner, wait
        self._lock = threading.Lock()
        self._running = 0
        self._running_by: Counter[Hashable] = Counter()  # renders being drawn, per owner
        self._held: Counter[Hashable] = Counter()  # drawn or waiting, per owner: the budget
        self._line: list[_Ticket] = []
        self._seq = itertools.count()
        self._served: dict[Hashable, int] = {}  # when each owner with renders held last got a slot
        self._cache: OrderedDict[qr.QrParams, bytes] = OrderedDict()
        self._cache_entries = cache_entries
        self._seconds = 0.1  # how long a render took lately: what Retry-After is made of

    # The callers' side ------------------------------------------------------------

    def render(self, owner: Hashable, params: qr.QrParams) -> bytes:
        """The image of `params` for `owner`: from the cache, or drawn once admitted."""
        cached = self._cached(params)
        if cached is not None:
            return cached
        return self.render_many(owner, [params])[0]

    def render_many(self, owner: Hashable, params: Sequence[qr.QrParams]) -> list[bytes]:
        """Several images as one admission (a bulk ZIP): drawn together, in one slot."""
        images = [self._cached(each) for each in params]
        missing = [each for each, image in zip(params, images, strict=True) if image is None]
        if missing:
            drawn = iter(self._admitted(owner, missing))
            images = [image if image is not None else next(drawn) for image in images]
            for each, image in zip(params, images, strict=True):
                self._remember(each, image)
        return images

    def draw(self, owner: Hashable, job: workers.Job) -> bytes:
        """A job drawn once admitted, never from or into the cache (a print sheet)."""
        return self._admitted(owner, [job])[0]

    def start(self) -> None:
        """Start the worker processes now (a server about to serve), not at the first image."""
        if self.workers:
            self.workers.start()

    def stop(self, timeout: float) -> None:
        """End the worker processes (a stopping server) within `timeout` seconds."""
        if self.workers:
            self.workers.stop(timeout)

    # Admission --------------------------------------------------------------------

    def _admitted(self, owner: Hashable, params: Sequence[workers.Job]) -> list[bytes]:
        self._enter(owner)
        try:
            started = time.monotonic()
            images = self._draw(params)
            self._seconds = 0.8 * self._seconds + 0.2 * (time.monotonic() - started)
            return images
        finally:
            self._leave(owner)

    def _enter(self, owner: Hashable) -> None:
        """Take a render slot for `owner`, waiting in line when all are taken; raises RateLimited
        beyond the owner's budget, RenderBusy when the line is full or moved too slowly."""
        with self._lock:
            if self._held[owner] >= self.per_owner:
                retry = self._retry_after(self._held[owner])
                raise RateLimited(
                    f"Too many images at once: a workspace may have {self.per_owner} drawn or waiting "
                    f"at a time. Try again in {retry} seconds.",
                    retry_after=retry,
                    headers={"Retry-After": str(retry)},
                )
            if self._running < self.slots and not self._line:
                self._take(owner)
                return
            if len(self._line) >= self.queue:
                raise self._busy()
            ticket = _Ticket(owner, next(self._seq))
            self._line.append(ticket)
            self._held[owner] += 1
        ticket.ready.wait(self.wait)
        with self._lock:
            if not ticket.granted:  # still in line: give up the place
                self._line.remove(ticket)
                self._release(self._held, owner)
                raise self._busy()

    def _take(self, owner: Hashable) -> None:
        self._held[owner] += 1
        self._grant(owner)

    def _grant(self, owner: Hashable) -> None:
        self._running += 1
        self._running_by[owner] += 1
        self._served[owner] = next(self._seq)

    def _leave(self, owner: Hashable) -> None:
        """Free `owner`'s slot and hand it on, round robin: to the owner in line served longest ago
        (the longest waiting of its renders), so one workspace's many requests take turns with
        another's few instead of going first."""
        with self._lock:
            self._running -= 1
            self._release(self._running_by, owner)
            self._release(self._held, owner)
            if self._line:
                ticket = min(self._line, key=self._turn)
                self._line.remove(ticket)
                self._grant(ticket.owner)  # its place in the budget was counted while it waited
                ticket.granted = True
                ticket.ready.set()

    def _turn(self, ticket: _Ticket) -> tuple[int, int, int]:
        """Sorts first for the ticket whose owner draws least now, was served longest ago, and
        among its tickets the oldest."""
        return self._running_by[ticket.owner], self._served.get(ticket.owner, -1), ticket.seq

    def _release(self, counts: Counter, owner: Hashable) -> None:
        counts[owner] -= 1
        if counts[owner] <= 0:
            del counts[owner]
            if counts is self._held:
                self._served.pop(owner, None)  # nothing held: it starts afresh

    def _busy(self) -> RenderBusy:
        retry = self._retry_after(self._running + len(self._line))
        return RenderBusy(
            f"The server is drawing as many images as it can right now. Try again in {retry} seconds.",
            retry_after=retry,
        )

    def _retry_after(self, ahead: int) -> int:
        """Whole seconds until the renders `ahead` of a new one are likely drawn (at least 1)."""
        return max(1, math.ceil(ahead * self._seconds / self.slots))

    # Drawing ----------------------------------------------------------------------

    def _draw(self, params: Sequence[workers.Job]) -> list[bytes]:
        if self.workers:
            return self.workers.draw(params)
        return workers.draw_all(params)

    # The cache --------------------------------------------------------------------

    def _cached(self, params: qr.QrParams) -> bytes | None:
        with self._lock:
            image = self._cache.get(params)
            if image is not None:
                self._cache.move_to_end(params)
            return image

    def _remember(self, params: qr.QrParams, image: bytes) -> None:
        with self._lock:
            self._cache[params] = image
            self._cache.move_to_end(params)
            while len(self._cache) > self._cache_entries:
                self._cache.popitem(last=False)


def create(config: Mapping) -> RenderGate:
    """The gate of these settings; raises ConfigError when its line would leave the redirect no
    threads (every image waiting or drawn holds one)."""
    threads, processes = config["OPENQR_THREADS"], config["OPENQR_RENDER_PROCESSES"]
    queue = config["OPENQR_RENDER_QUEUE"]
    if queue is None:
        queue = threads // 2
    elif queue + max(1, processes) >= threads:
        raise ConfigError(
            f"OPENQR_RENDER_QUEUE={queue} with OPENQR_RENDER_PROCESSES={processes} leaves no thread of "
            f"OPENQR_THREADS={threads} for the redirect: every image waiting or drawn holds one"
        )
    return RenderGate(
        processes=processes,
        queue=queue,
        per_owner=config["OPENQR_RENDER_PER_ACCOUNT"],
        wait=config["OPENQR_RENDER_WAIT"],
    )


def render(owner: Hashable, params: qr.QrParams) -> bytes:
    """The image of `params`, drawn for `owner` through the current app's gate."""
    return current_services().renders.render(owner, params)


def render_many(owner: Hashable, params: Sequence[qr.QrParams]) -> list[bytes]:
    """Several images as one admission, through the current app's gate."""
    return current_services().renders.render_many(owner, params)


def draw(owner: Hashable, job: workers.Job) -> bytes:
    """An uncached job (a print sheet), drawn for `owner` through the current app's gate."""
    return current_services().renders.draw(owner, job)
