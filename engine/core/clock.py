"""Injected time: the only place the engine reads the wall clock."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Source of the current time and of cancellable waits."""

    def now_ms(self) -> int:
        """Return the current time in epoch milliseconds."""
        ...

    def sleep(self, ms: float, cancel: threading.Event | None = None) -> bool:
        """Wait `ms` milliseconds or until `cancel` is set; return True if cancelled."""
        ...


class SystemClock:
    """The wall clock."""

    def now_ms(self) -> int:
        """Return the wall-clock time in epoch milliseconds."""
        return time.time_ns() // 1_000_000

    def sleep(self, ms: float, cancel: threading.Event | None = None) -> bool:
        """Wait on the cancel event (never `time.sleep`) so a stop is prompt."""
        event = cancel or threading.Event()
        return event.wait(max(ms, 0) / 1000)


class SimulatedClock:
    """A clock that only moves when slept on or advanced: tests run in milliseconds."""

    def __init__(self, start_ms: int) -> None:
        self._now = int(start_ms)
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        """Return the simulated time."""
        with self._lock:
            return self._now

    def advance(self, ms: float) -> None:
        """Move the simulated time forward by `ms`."""
        with self._lock:
            self._now += int(ms)

    def sleep(self, ms: float, cancel: threading.Event | None = None) -> bool:
        """Advance the time instantly; report a cancel that is already set."""
        if cancel is not None and cancel.is_set():
            return True
        self.advance(ms)
        return False


SYSTEM_CLOCK = SystemClock()
