"""The backtest's quiet frames (only `get_signal` runs): what strategy code sees, what is measured.

A quiet stretch enters one execution context for many frames and moves its time frame by
frame; these tests pin down that nothing of it shows: each call sees its own frame's time,
helpers refuse outside strategy code, and the kept measurements are the newest ones.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest

import engine
from engine.analytics.performance import MAX_EVENTS
from engine.core.errors import ConfigError
from engine.sim.watchdog import StrategyExitError
from tests.engine.helpers import (
    MIN,
    SYMBOL,
    T0,
    Listeners,
    add_exchange,
    add_frame,
    flat,
    long_dto,
    run,
    setup,
)

pytestmark = pytest.mark.usefixtures("clean_engine")

START = datetime(2024, 1, 1, tzinfo=UTC)  # T0, written out


@pytest.fixture(autouse=True)
def no_measurements() -> Iterator[None]:
    engine.Performance.clear()
    yield
    engine.Performance.clear()


def recorder(seen: list[tuple[datetime, datetime, int]]) -> Any:
    """A get_signal noting its `when`, `get_date()` and the last closed candle's open time."""

    def get_signal(symbol: str, when: datetime) -> None:
        last = engine.get_candles(symbol, "1m", 1)[-1].timestamp
        seen.append((when, engine.get_date(), last))

    return get_signal


@pytest.mark.parametrize(
    ("frame", "interval", "step"),
    [("1m", "1m", 1), ("1m", "3m", 3), ("5m", "1m", 5)],
)
def test_each_quiet_frame_sees_its_own_time(frame: str, interval: str, step: int) -> None:
    seen: list[tuple[datetime, datetime, int]] = []
    add_exchange("x", flat(T0 - 10 * MIN, 80))
    add_frame("f", T0, T0 + 59 * MIN, interval=frame)
    engine.add_strategy(strategy_name="s", interval=interval, get_signal=recorder(seen))
    assert run("s") == []
    expected = [START + timedelta(minutes=k) for k in range(0, 60, step)]
    assert [when for when, _, _ in seen] == expected
    assert [date for _, date, _ in seen] == expected
    assert all(when.tzinfo is UTC and date.tzinfo is UTC for when, date, _ in seen)
    assert [last for _, _, last in seen] == [T0 + (k - 1) * MIN for k in range(0, 60, step)]


def test_a_frame_after_a_throttled_stretch_gets_its_own_time() -> None:
    # Every 7th call returns something invalid (reported), so stretches end and restart.
    seen: list[datetime] = []

    def get_signal(symbol: str, when: datetime) -> Any:
        seen.append(when)
        assert engine.get_date() == when
        return {"position": "sideways"} if len(seen) % 7 == 0 else None

    setup(flat(T0 - 10 * MIN, 80), get_signal, end=T0 + 40 * MIN, interval="3m")
    assert run("s") == []
    assert seen == [START + timedelta(minutes=k) for k in range(0, 41, 3)]


@pytest.mark.parametrize("interval", ["1m", "15m"])
def test_calls_at_uneven_gaps_get_their_own_time(interval: str) -> None:
    # Signals that close after a few minutes make the gaps between calls uneven.
    seen: list[tuple[int, int, datetime]] = []

    def get_signal(symbol: str, when: datetime) -> Any:
        last = engine.get_candles(symbol, "1m", 1)[-1].timestamp
        seen.append((round(when.timestamp() * 1000), last + MIN, engine.get_date()))
        return long_dto(101.0, 99.0, 2 + len(seen) % 4) if len(seen) % 3 == 0 else None

    setup(flat(T0 - 10 * MIN, 400), get_signal, end=T0 + 380 * MIN, interval=interval)
    closed = run("s")
    assert len(closed) >= 5 and len(seen) > 3 * len(closed)
    assert all(when == frame for when, frame, _ in seen)
    assert all(date == START + timedelta(milliseconds=when - T0) for when, _, date in seen)


def test_helpers_refuse_in_engine_code_between_quiet_frames(listen: Listeners) -> None:
    refused: list[str] = []

    def probe(where: str) -> None:
        try:
            engine.get_date()
        except ConfigError as exc:
            refused.append(f"{where}: {exc}")

    def fails(symbol: str, when: datetime) -> None:
        raise RuntimeError("strategy bug")

    listen.add(engine.listen_error(lambda error: probe("error listener")))
    engine.add_risk(risk_name="r", validations=[lambda params: probe("risk validation")])
    setup(flat(T0 - 10 * MIN, 80), fails, end=T0 + 2 * MIN, risk_name="r")
    assert run("s") == []
    outside = "only works inside strategy code"
    assert [r.split(":")[0] for r in refused] == ["risk validation", "error listener"] * 3
    assert all(outside in r for r in refused)
    with pytest.raises(ConfigError, match=outside):
        engine.get_date()


def test_a_long_run_keeps_its_newest_measurements_chained() -> None:
    frames = 3 * MAX_EVENTS  # well past what is kept
    setup(flat(T0 - MIN, frames + 1), lambda s, w: None, end=T0 + (frames - 1) * MIN)
    run("s")
    kept = engine.Performance.get_data(SYMBOL, "s").events
    assert len(kept) == MAX_EVENTS
    assert [e.metric_type for e in kept] == ["backtest_timeframe"] * (MAX_EVENTS - 1) + [
        "backtest_total"
    ]
    # Each measurement's wait starts at the one before it, the first one's included.
    assert kept[0].previous_timestamp is not None
    assert kept[0].previous_timestamp <= kept[0].timestamp
    assert all(b.previous_timestamp == a.timestamp for a, b in pairwise(kept))


def test_kept_measurements_are_the_newest_a_listener_hears(listen: Listeners) -> None:
    frames = 3 * MAX_EVENTS
    add_exchange("x", flat(T0 - MIN, frames + 1))
    add_frame("f", T0, T0 + (frames - 1) * MIN)
    calls = [0]

    def get_signal(symbol: str, when: datetime) -> Any:
        calls[0] += 1
        return long_dto(101.0, 99.0, 3) if calls[0] % 1000 == 0 else None

    engine.add_strategy(strategy_name="s", interval="1m", get_signal=get_signal)
    heard = listen(engine.listen_performance)
    run("s")
    listen.close()
    calls[0] = 0
    engine.Performance.clear()
    run("s")
    kept = engine.Performance.get_data(SYMBOL, "s").events
    assert len(heard) > 2 * MAX_EVENTS
    assert [e.metric_type for e in kept] == [e.metric_type for e in heard[-MAX_EVENTS:]]
    assert sum(e.metric_type == "backtest_signal" for e in kept) >= 2


def test_sys_exit_amid_a_stretch_goes_on_at_the_next_frame(listen: Listeners) -> None:
    # 2,000 frames: a stretch runs 10 frames between two progress updates, the 5th exits.
    asked: list[datetime] = []

    def get_signal(symbol: str, when: datetime) -> None:
        asked.append(when)
        if len(asked) == 5:
            sys.exit(3)

    errors = listen(engine.listen_error)
    setup(flat(T0 - 10 * MIN, 2010), get_signal, end=T0 + 1999 * MIN)
    assert run("s") == []
    assert asked == [START + timedelta(minutes=k) for k in range(2000)]
    assert [type(error) for error in errors] == [StrategyExitError]
    frames = engine.Performance.get_data(SYMBOL, "s").metric_stats["backtest_timeframe"]
    assert frames.count == 1999, "every frame measured once, but the one that exited"
