"""In-memory rolling-hour limits for sign-in requests, per address and per client."""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque

WINDOW = 3600.0


class Throttle:
    """Counts hits per key over a rolling window; one instance per app, shared by threads."""

    def __init__(self, window: float = WINDOW, clock=time.monotonic):
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int) -> int:
        """Count one hit; return 0 when allowed, else the seconds until the next one is."""
        now = self.clock()
        with self._lock:
            hits = self._hits[key]
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= limit:
                return max(1, math.ceil(hits[0] + self.window - now))
            hits.append(now)
            return 0

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()
