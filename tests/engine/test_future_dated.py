"""A backtest never reads the wall clock: data dated years ahead runs like any other.

The demo market's candles of ten days are shifted by exactly 3,653 days (ten years, whole
days, so the strategies' hour-of-day rules see the same hours). Run with a simulated clock
far in the past, with the machine's clock and on the unshifted data, the results are the
same trades, only dated ten years later, and every close is yielded.
"""

from __future__ import annotations

from typing import Any

import pytest

import engine
from engine import CandleArrays, CandleStore
from engine.core.clock import SYSTEM_CLOCK, Clock, SimulatedClock
from engine.data.demo import generate
from engine.strategies import register_builtin_strategies
from tests.engine.helpers import dt, reset_engine

pytestmark = pytest.mark.usefixtures("clean_engine")

DAY = 86_400_000
SHIFT = 3_653 * DAY  # ten years of whole days
START = 1_704_067_200_000  # 2024-01-01T00:00:00Z
DAYS = 10
LONG_AGO = SimulatedClock(946_684_800_000)  # 2000-01-01, before any of the data
PROFILES = ("backtest-kit-1.4.10", "default")


def shifted(candles: CandleArrays, by: int) -> CandleArrays:
    return CandleArrays.from_columns(
        candles.timestamp + by,
        candles.open,
        candles.high,
        candles.low,
        candles.close,
        candles.volume,
    )


def trades(strategy: str, profile: str, shift: int, clock: Clock) -> list[tuple[Any, ...]]:
    """Run `strategy` on ten demo days moved by `shift`; return its results moved back."""
    reset_engine()
    store = CandleStore()
    store.put("BTCUSDT", shifted(generate("BTCUSDT", START, START + DAYS * DAY), shift))
    engine.add_exchange(
        exchange_name="x",
        get_candles=store.get_candles,
        format_price=lambda s, p: f"{p:.2f}",
        format_quantity=lambda s, q: f"{q:.8f}",
    )
    first, last = START + shift, START + shift + DAYS * DAY - 60_000
    engine.add_frame(frame_name="f", interval="1m", start_date=dt(first), end_date=dt(last))
    register_builtin_strategies()
    results = list(
        engine.Backtest.run(
            "BTCUSDT",
            strategy_name=strategy,
            exchange_name="x",
            frame_name="f",
            profile=profile,
            clock=clock,
            seed=7,
        )
    )
    closes = sum(1 for r in results if r.action == "closed")
    assert closes == engine.Backtest.get_data("BTCUSDT", strategy).total_signals
    return [
        (
            r.action,
            r.signal.id,
            r.signal.position,
            r.signal.pending_at - shift,
            r.current_price,
            getattr(r, "close_reason", None),
            r.close_timestamp - shift if hasattr(r, "close_timestamp") else None,
        )
        for r in results
    ]


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("strategy", ["bracket", "limit"])
def test_future_dated_data_gives_the_same_trades_whatever_the_clock(
    strategy: str, profile: str
) -> None:
    today = trades(strategy, profile, 0, SYSTEM_CLOCK)
    ahead_real_clock = trades(strategy, profile, SHIFT, SYSTEM_CLOCK)
    ahead_old_clock = trades(strategy, profile, SHIFT, LONG_AGO)
    closed = [t for t in today if t[0] == "closed"]
    # Ten days of bracket trades (one every few hours at most), limits a handful.
    assert len(closed) >= (40 if strategy == "bracket" else 3)
    assert ahead_real_clock == today
    assert ahead_old_clock == today


def test_the_past_dated_data_ignores_a_clock_set_before_it() -> None:
    """Even today's data runs in full with a clock that says it has not happened yet."""
    assert trades("bracket", "default", 0, LONG_AGO) == trades(
        "bracket", "default", 0, SYSTEM_CLOCK
    )
