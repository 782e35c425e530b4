"""The scheduler's clock: real time, or real time running ``scheduler.time_scale`` times faster
(fault endpoint), so a test sees a ``rate(1 minute)`` schedule fire every second at scale 60.

A change of scale keeps the clock continuous (it goes on from where it is, at the new rate);
DELETE of the fault configuration puts it back on real time. Firings already made are not made
again after that: a schedule whose last firing lies ahead of the real clock waits for it.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from typing import Callable


class SchedulerClock:
    def __init__(self, real: Callable[[], float] = time.time):
        self._real = real
        self._lock = threading.Lock()
        self._anchor_real = self._anchor_clock = real()
        self._scale = 1.0

    def _epoch(self) -> float:
        return self._anchor_clock + (self._real() - self._anchor_real) * self._scale

    def now(self) -> datetime:
        with self._lock:
            return datetime.fromtimestamp(self._epoch(), tz=timezone.utc)

    def set_scale(self, scale: float) -> None:
        with self._lock:
            if scale == self._scale:
                return
            self._anchor_clock = self._epoch()
            self._anchor_real = self._real()
            self._scale = float(scale)

    def reset(self, scale: float = 1.0) -> None:
        """Back on real time (at ``scale`` from now on)."""
        with self._lock:
            self._anchor_real = self._anchor_clock = self._real()
            self._scale = float(scale)

    def real_seconds(self, clock_seconds: float) -> float:
        """How long ``clock_seconds`` of this clock take in real time."""
        with self._lock:
            return clock_seconds / self._scale

    def view(self) -> dict:
        with self._lock:
            epoch = self._epoch()
            return {
                "now": datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat().replace("+00:00", "Z"),
                "time_scale": self._scale,
                "ahead_of_real_seconds": round(epoch - self._real(), 3),
            }
