"""The demo market on a clock: live candles with no network, and a fast simulated clock.

The demo market is deterministic for any minute from 2020 to 2034, so a live run can ask
it for the minutes up to "now" on demand; a candle is served only once it has closed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from engine.core.clock import SYSTEM_CLOCK, Clock
from engine.core.errors import ConfigError
from engine.core.intervals import interval_ms
from engine.core.models import Candle
from engine.data.demo import DEMO_SYMBOLS, generate
from engine.data.store import aggregate, to_ms
from engine.persist.base import PersistBase
from engine.sim.builtins import exchange_store, shared_demo_store
from engine.sim.live_schema import check_store, finite_speed


class DemoLiveFeed:
    """`get_candles` of the demo market as of `clock.now_ms()` (closed candles only)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def get_candles(
        self, symbol: str, interval: str, since: datetime | int, limit: int
    ) -> list[Candle]:
        """Return up to `limit` closed candles opening at or after `since`."""
        step = interval_ms(interval)
        start = to_ms(since)
        start -= start % step
        now = self.clock.now_ms()
        end = min(start + max(limit, 0) * step, now - now % step)
        minutes = generate(symbol, start, end)
        return aggregate(minutes, step).to_candles()[: max(limit, 0)]


@dataclass(frozen=True, slots=True)
class ClockAnchor:
    """Where a scaled clock starts: wall time, simulated time, speed."""

    wall_ms: int
    sim_ms: int
    speed: float


class ScaledClock:
    """A clock running `speed` times faster than the wall clock from an anchor.

    Sleeps wait `ms / speed` real milliseconds on the cancel event, so a stop stays prompt.
    """

    def __init__(self, anchor: ClockAnchor, wall: Clock = SYSTEM_CLOCK) -> None:
        finite_speed(anchor.speed)
        self.anchor = anchor
        self._wall = wall

    def now_ms(self) -> int:
        """Return the simulated time."""
        a = self.anchor
        return a.sim_ms + int((self._wall.now_ms() - a.wall_ms) * a.speed)

    def sleep(self, ms: float, cancel: threading.Event | None = None) -> bool:
        """Wait `ms` simulated milliseconds; return True if cancelled."""
        event = cancel or threading.Event()
        return event.wait(max(ms, 0) / self.anchor.speed / 1000)


def resume_scaled_clock(
    speed: float, store: PersistBase, key: str, wall: Clock = SYSTEM_CLOCK
) -> ScaledClock:
    """Return a fast clock that continues where the last run with `key` left it.

    A session's simulated time keeps running while the process is down (as a market does),
    and never jumps backwards: a new speed re-anchors at the time the old one reached. Only
    the process holding the session's lock may call this: it writes the anchor.

    Raises:
        ConfigError: `speed` is not a finite number above 0 (nothing is written).
        StateError: a stored anchor does not fit its shape (the clock file was moved aside).
    """
    finite_speed(speed)
    check_store(store, "clock")
    now = wall.now_ms()
    anchor = ClockAnchor(now, now, speed)
    if store.has_value(key):
        saved = store.read_value(key)
        old = ScaledClock(ClockAnchor(saved["wall_ms"], saved["sim_ms"], saved["speed"]), wall)
        same = saved["speed"] == speed
        anchor = old.anchor if same else ClockAnchor(now, old.now_ms(), speed)
    store.write_value(key, {"wall_ms": anchor.wall_ms, "sim_ms": anchor.sim_ms, "speed": speed})
    return ScaledClock(anchor, wall)


def check_live_symbol(exchange_name: str, symbol: str) -> None:
    """Refuse a symbol the demo market does not have (other exchanges are not asked).

    Raises:
        ConfigError: the exchange is the demo market and `symbol` is not one of its own.
    """
    if exchange_store(exchange_name) is shared_demo_store() and symbol not in DEMO_SYMBOLS:
        raise ConfigError(
            f"--symbol {symbol!r} is not traded on the demo market {exchange_name!r}; use one "
            f"of {', '.join(DEMO_SYMBOLS)}"
        )
