"""No look-ahead in the default profile: a backtest cut at time t agrees with the full one up to t.

For many cut times t, the data is truncated to the candles that had *closed* by t (a candle
opening at `ts` closes at `ts + 1m`), and the backtest is run again with the frame ending at t.
Everything the strategy saw and decided at times <= t, and every result whose outcome was
known by t, must be identical in both runs. With the `backtest-kit-1.4.10` profile the same
comparison fails (its VWAP and get_candles include the candle still forming at `when`),
which shows the test can detect look-ahead.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pytest

import engine
from engine import CandleArrays, CandleStore
from tests.engine.helpers import MIN, SYMBOL, T0, dt, ms

pytestmark = pytest.mark.usefixtures("clean_engine")

MINUTES = 3000
WARMUP = 40  # minutes of data before the first frame


def random_walk(seed: int = 20240101) -> CandleArrays:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0012, MINUTES)))
    open_ = np.concatenate(([100.0], close[:-1]))
    wick = np.abs(rng.normal(0.0, 0.0007, (2, MINUTES)))
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    volume = rng.uniform(0.5, 10.0, MINUTES)
    ts = T0 + np.arange(MINUTES, dtype=np.int64) * MIN
    return CandleArrays.from_columns(ts, open_, high, low, close, volume)


DATA = random_walk()
FIRST_FRAME = T0 + WARMUP * MIN
LAST_FRAME = T0 + (MINUTES - 1) * MIN


@dataclass
class Run:
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    results: list[Any] = field(default_factory=list)

    def calls_until(self, t: int) -> list[tuple[Any, ...]]:
        return [c for c in self.calls if c[0] <= t]


def decide(symbol: str, when: datetime, record: list[tuple[Any, ...]]) -> dict[str, Any] | None:
    """Long market above the 30-minute SMA (unless the 5m trend is down), short limit below."""
    candles = engine.get_candles(symbol, "1m", 30)
    slow = engine.get_candles(symbol, "5m", 6)
    price = engine.get_average_price(symbol)
    closes = [c.close for c in candles]
    sma = sum(closes) / len(closes)
    trend = slow[-1].close - slow[0].open
    decision: dict[str, Any] | None = None
    if closes[-1] > sma * 1.0008 and trend > -0.5:
        decision = {
            "position": "long",
            "price_take_profit": price * 1.004,
            "price_stop_loss": price * 0.996,
            "minute_estimated_time": 45,
        }
    elif closes[-1] < sma * 0.9992:
        open_ = price * 1.001
        decision = {
            "position": "short",
            "price_open": open_,
            "price_take_profit": open_ * 0.996,
            "price_stop_loss": open_ * 1.004,
            "minute_estimated_time": 45,
        }
    record.append((ms(when), tuple(map(tuple, candles)), tuple(map(tuple, slow)), price, decision))
    return decision


_names = itertools.count()


def backtest(data: CandleArrays, end: int, profile: str) -> Run:
    """Run the recording strategy on `data` with frames FIRST_FRAME..end (1m)."""
    n = next(_names)
    out = Run()
    store = CandleStore()
    store.put(SYMBOL, data)
    engine.add_exchange(
        exchange_name=f"x{n}",
        get_candles=store.get_candles,
        format_price=lambda s, p: f"{p:.2f}",
        format_quantity=lambda s, q: f"{q:.8f}",
    )
    engine.add_frame(
        frame_name=f"f{n}", interval="1m", start_date=dt(FIRST_FRAME), end_date=dt(end)
    )
    engine.add_strategy(
        strategy_name=f"s{n}",
        interval="5m",
        get_signal=lambda symbol, when: decide(symbol, when, out.calls),
    )
    for r in engine.Backtest.run(
        SYMBOL, strategy_name=f"s{n}", exchange_name=f"x{n}", frame_name=f"f{n}", profile=profile
    ):
        out.results.append(r)
    return out


def result_key(r: Any) -> tuple[Any, ...]:
    """Everything about a result except its random id."""
    s = r.signal
    pnl = r.pnl if r.action == "closed" else None
    return (
        str(r.action),
        s.position,
        s.price_open,
        s.price_take_profit,
        s.price_stop_loss,
        s.minute_estimated_time,
        s.scheduled_at,
        s.pending_at,
        s.is_scheduled,
        getattr(r, "close_reason", None),
        getattr(r, "close_timestamp", None),
        r.current_price,
        None if pnl is None else (pnl.pnl_percentage, pnl.price_open, pnl.price_close),
    )


def known_at(r: Any) -> int | None:
    """When a result's outcome is known: TP/SL/cancel stamps the open time of the candle
    that decided it (known once that candle closed); time_expired is known at its stamp."""
    close = getattr(r, "close_timestamp", None)
    if close is None:
        return None
    if r.action == "closed" and r.close_reason == "time_expired":
        return close
    return close + MIN


def minute(ms_: int) -> int:
    """Minutes since T0 (for readable failure messages)."""
    return (ms_ - T0) // MIN


def truncated(t: int) -> CandleArrays:
    """The candles that closed by t (open time + 1m <= t)."""
    k = int(np.searchsorted(DATA.timestamp, t - MIN, side="right"))
    return DATA.slice(0, k)


def cut_times(full: Run) -> list[int]:
    """Cuts at call times, just after them, at fills and closes, and at arbitrary minutes."""
    times = [c[0] for c in full.calls]
    at_calls = times[5 :: max(1, len(times) // 10)][:10]
    after_calls = [t + 2 * MIN for t in times[7 :: max(1, len(times) // 6)][:6]]
    rng = np.random.default_rng(7)
    arbitrary = [int(m) * MIN + T0 for m in rng.integers(WARMUP + 30, MINUTES - 1, 8)]
    # where a cut run ends right after a limit order filled, or right at / after a close
    fills = [
        r.signal.pending_at + MIN
        for r in full.results
        if r.signal.pending_at != r.signal.scheduled_at
    ]
    closes = [r.close_timestamp for r in full.results if getattr(r, "close_timestamp", None)]
    edges = fills[::4][:6] + closes[3::25][:4] + [c + MIN for c in closes[9::25][:4]]
    return sorted(set(at_calls + after_calls + arbitrary + edges))


def differences(full: Run, t: int, profile: str) -> list[str]:
    """Return what differs between the full run and the run cut at t (empty: no look-ahead)."""
    cut = backtest(truncated(t), t, profile)
    problems = []
    a, b = full.calls_until(t), cut.calls_until(t)
    if a != b:
        i = next(
            (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
        )
        full_at = [minute(c[0]) for c in a[i : i + 1]]
        cut_at = [minute(c[0]) for c in b[i : i + 1]]
        problems.append(
            f"t=+{minute(t)}m: get_signal inputs differ: call #{i} at {full_at} in the full run, "
            f"{cut_at} in the cut run"
        )
    known = [r for r in full.results if (k := known_at(r)) is not None and k <= t]
    assert [result_key(r) for r in known] == [result_key(r) for r in full.results[: len(known)]]
    if [result_key(r) for r in known] != [result_key(r) for r in cut.results[: len(known)]]:
        problems.append(f"t=+{minute(t)}m: results known by t differ")
    return problems


def test_default_profile_has_no_look_ahead() -> None:
    full = backtest(DATA, LAST_FRAME, "default")
    cuts = cut_times(full)
    # the scenario is rich enough to mean something
    actions = [str(r.action) for r in full.results]
    assert len(full.calls) > 100
    assert actions.count("closed") > 30
    assert {r.close_reason for r in full.results if r.action == "closed"} >= {
        "take_profit",
        "stop_loss",
    }
    assert any(
        r.signal.is_scheduled is False and r.signal.scheduled_at != r.signal.pending_at
        for r in full.results
        if r.action == "closed"
    ), "no activated limit order"
    assert len(cuts) >= 30
    assert min(cuts) < FIRST_FRAME + 600 * MIN and max(cuts) > LAST_FRAME - 900 * MIN
    compared_calls = 0
    problems: list[str] = []
    for t in cuts:
        problems += differences(full, t, "default")
        compared_calls += len(full.calls_until(t))
    assert problems == []
    assert compared_calls > 1000


def test_the_comparison_detects_look_ahead_in_1_4_10() -> None:
    full = backtest(DATA, LAST_FRAME, "backtest-kit-1.4.10")
    cuts = cut_times(full)
    problems = [p for t in cuts for p in differences(full, t, "backtest-kit-1.4.10")]
    assert any("get_signal inputs" in p for p in problems), problems
