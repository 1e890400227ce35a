"""Errors in user code, listeners, background runs, cancel, partial levels.

See docs/semantics.md#events.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import pytest

import engine
from engine import StrategyError
from tests.engine.helpers import (
    MIN,
    SYMBOL,
    T0,
    Listeners,
    flat,
    long_dto,
    ms,
    once,
    replace_bars,
    run,
    series,
    setup,
)

pytestmark = pytest.mark.usefixtures("clean_engine")

FLAT = flat(T0 - 10 * MIN, 2100)


def every_call(dto: dict[str, Any]) -> Any:
    def get_signal(symbol: str, when: datetime) -> dict[str, Any]:
        return dict(dto)

    return get_signal


# ----- errors in user code ---------------------------------------------------------------------


def test_get_signal_that_raises_is_reported_and_the_run_goes_on(listen: Listeners) -> None:
    errors = listen(engine.listen_error)
    boom = ValueError("boom at the first call")
    calls: list[int] = []

    def get_signal(symbol: str, when: datetime) -> dict[str, Any] | None:
        calls.append(ms(when))
        if len(calls) == 1:
            raise boom
        return long_dto(101, 99, minutes=5) if len(calls) == 2 else None

    setup(FLAT, get_signal, end=T0 + 20 * MIN, name="raiser")
    results = run("raiser")
    assert len(errors) == 1
    err = errors[0]
    assert isinstance(err, StrategyError)
    text = str(err)
    assert "raiser" in text
    assert SYMBOL in text
    assert "ValueError" in text and "boom at the first call" in text
    assert err.__cause__ is boom
    assert [(r.action, r.signal.pending_at) for r in results] == [("closed", T0 + MIN)]
    assert len(calls) > 2  # get_signal keeps being called after the close


def test_callback_that_raises_is_reported_and_the_run_goes_on(listen: Listeners) -> None:
    errors = listen(engine.listen_error)
    opened: list[str] = []

    def on_open(symbol: str, signal: Any, price: float, backtest: bool) -> None:
        opened.append(signal.id)
        raise RuntimeError("callback exploded")

    setup(
        FLAT,
        once(long_dto(101, 99, minutes=5), long_dto(101, 99, minutes=5)),
        end=T0 + 30 * MIN,
        name="cb",
        callbacks={"on_open": on_open},
    )
    results = run("cb")
    assert [r.action for r in results] == ["closed", "closed"]
    assert opened == [r.signal.id for r in results]
    assert len(errors) == 2
    assert all(isinstance(e, StrategyError) for e in errors)
    assert all("callback exploded" in str(e) and "on_open" in str(e) for e in errors)
    assert all("cb" in str(e) and SYMBOL in str(e) for e in errors)


def test_listener_that_raises_does_not_stop_the_run(listen: Listeners) -> None:
    errors = listen(engine.listen_error)

    def bad_listener(result: Any) -> None:
        raise KeyError("listener bug")

    listen.add(engine.listen_signal_backtest(bad_listener))
    setup(FLAT, once(long_dto(101, 99, minutes=5), long_dto(101, 99, 5)), end=T0 + 30 * MIN)
    assert [r.action for r in run("s")] == ["closed", "closed"]
    assert errors and all("listener bug" in str(e) for e in errors)


# ----- listeners -------------------------------------------------------------------------------


def two_trades() -> None:
    setup(
        FLAT,
        once(long_dto(101, 99, minutes=5), long_dto(101, 99, minutes=7)),
        end=T0 + 30 * MIN,
    )


def test_listen_signal_backtest_gets_opened_then_closed_in_order(listen: Listeners) -> None:
    got = listen(engine.listen_signal_backtest)
    everything = listen(engine.listen_signal)
    two_trades()
    results = run("s")
    events = [r for r in got if r.action != "idle"]
    assert [r.action for r in events] == ["opened", "closed", "opened", "closed"]
    assert events[0].signal.id == events[1].signal.id != events[2].signal.id
    assert events[2].signal.id == events[3].signal.id
    assert events[0].current_price == events[0].signal.price_open
    assert [events[1], events[3]] == results
    assert [r for r in everything if r.action != "idle"] == events
    assert all(r.strategy_name == "s" and r.symbol == SYMBOL for r in got)


def test_once_listeners_fire_once_with_a_filter(listen: Listeners) -> None:
    first_closed = listen(engine.listen_signal_once, lambda r: r.action == "closed")
    second_open = listen(
        engine.listen_signal_backtest_once,
        lambda r: r.action == "opened" and r.signal.minute_estimated_time == 7,
    )
    two_trades()
    results = run("s")
    assert first_closed == [results[0]]
    assert [r.signal.id for r in second_open] == [results[1].signal.id]
    # a second run: the once listeners are gone
    run("s")
    assert len(first_closed) == 1 and len(second_open) == 1


def test_unsubscribe_works(listen: Listeners) -> None:
    got: list[Any] = []
    off = engine.listen_signal_backtest(got.append)
    off_once = engine.listen_signal_once(lambda r: True, got.append)
    off_error = engine.listen_error(got.append)
    off()
    off_once()
    off_error()
    off()  # twice is harmless
    setup(FLAT, once(long_dto(101, 99, 5), long_dto(99, 101)), end=T0 + 20 * MIN)
    assert len(run("s")) == 1
    assert got == []


def test_progress_is_monotonic_and_ends_at_one(listen: Listeners) -> None:
    progress = listen(engine.listen_backtest_progress)
    setup(FLAT, every_call(long_dto(101, 99, minutes=30)), end=T0 + 1999 * MIN)
    results = run("s")
    assert len(results) > 10
    assert len(progress) >= 2
    values = [p.progress for p in progress]
    assert values == sorted(values)
    assert values[-1] == 1.0
    assert values[0] < 0.05
    assert all(p.total_frames == 2000 for p in progress)
    processed = [p.processed_frames for p in progress]
    assert processed == sorted(processed) and processed[-1] == 2000
    assert all(p.progress == p.processed_frames / p.total_frames for p in progress)
    assert {(p.strategy_name, p.exchange_name, p.symbol) for p in progress} == {("s", "x", SYMBOL)}


# ----- background, stop, cancel ----------------------------------------------------------------


def test_background_runs_in_a_thread_and_reports_done(listen: Listeners) -> None:
    done = threading.Event()
    contracts: list[Any] = []
    threads: list[int] = []

    def on_done(contract: Any) -> None:
        contracts.append(contract)
        done.set()

    listen.add(engine.listen_done_backtest(on_done))

    def get_signal(symbol: str, when: datetime) -> dict[str, Any]:
        threads.append(threading.get_ident())
        return long_dto(101, 99, minutes=5)

    setup(FLAT, get_signal, end=T0 + 100 * MIN)
    stop = engine.Backtest.background(SYMBOL, strategy_name="s", exchange_name="x", frame_name="f")
    assert callable(stop)
    assert done.wait(10)
    assert len(contracts) == 1
    c = contracts[0]
    assert (c.exchange_name, c.strategy_name, c.backtest, c.symbol) == ("x", "s", True, SYMBOL)
    assert threads and threading.get_ident() not in threads
    assert engine.Backtest.get_data(SYMBOL, "s").total_signals == len(threads)


def test_background_stop_ends_the_run_early(listen: Listeners) -> None:
    done = threading.Event()
    started = threading.Event()
    release = threading.Event()
    calls: list[int] = []
    done_once = listen(engine.listen_done_backtest_once, lambda c: c.strategy_name == "slow")
    listen.add(engine.listen_done_backtest(lambda c: done.set()))

    def get_signal(symbol: str, when: datetime) -> None:
        calls.append(ms(when))
        started.set()
        release.wait(5)

    setup(FLAT, get_signal, end=T0 + 2000 * MIN, name="slow")
    stop = engine.Backtest.background(
        SYMBOL, strategy_name="slow", exchange_name="x", frame_name="f"
    )
    try:
        assert started.wait(5)
        stop()
    finally:
        release.set()
    assert done.wait(10)
    assert 1 <= len(calls) <= 2  # the frame in progress finishes, no other starts
    assert [c.strategy_name for c in done_once] == ["slow"]


def test_cancel_event_stops_the_generator() -> None:
    setup(FLAT, every_call(long_dto(101, 99, minutes=5)), end=T0 + 100 * MIN)
    assert len(run("s")) > 10
    cancel = threading.Event()
    gen = engine.Backtest.run(
        SYMBOL, strategy_name="s", exchange_name="x", frame_name="f", cancel=cancel
    )
    first = next(gen)
    cancel.set()
    assert list(gen) == []
    assert first.action == "closed"
    assert engine.Backtest.get_data(SYMBOL, "s").total_signals == 1


def test_cancel_set_from_strategy_code_stops_calls() -> None:
    cancel = threading.Event()
    calls: list[int] = []

    def get_signal(symbol: str, when: datetime) -> None:
        calls.append(ms(when))
        if len(calls) == 3:
            cancel.set()

    setup(FLAT, get_signal, end=T0 + 100 * MIN)
    assert run("s", cancel=cancel) == []
    assert calls == [T0, T0 + MIN, T0 + 2 * MIN]


def test_closing_the_generator_stops_the_backtest() -> None:
    calls: list[int] = []

    def get_signal(symbol: str, when: datetime) -> dict[str, Any]:
        calls.append(ms(when))
        return long_dto(101, 99, minutes=5)

    setup(FLAT, get_signal, end=T0 + 100 * MIN)
    gen = engine.Backtest.run(SYMBOL, strategy_name="s", exchange_name="x", frame_name="f")
    next(gen)
    gen.close()
    assert calls == [T0]


# ----- partial profit / loss levels (docs/semantics.md#partial) ----------------------

# Flat candles (open = high = low = close, volume 1): a window VWAP is the plain mean.
# Signal 1, long at 100 (TP 115, SL 85, 40 min) from T0: 112 from +5m (the 5-candle VWAP
# reaches 112 = +12 % at +9m), 87 from +15m (87 = -13 % at +19m), then 100; expires at +40m.
# Signal 2, short at 100 (TP 85, SL 115) from +41m: 88 from +46m (+12 % at +50m), 113 from
# +56m (-13 % at +60m), then 100.
WIDE_PATH = [100.0] * 5 + [112.0] * 10 + [87.0] * 10 + [100.0] * 16
WIDE_PATH += [100.0] * 5 + [88.0] * 10 + [113.0] * 10 + [100.0] * 60
WIDE = flat(T0 - 10 * MIN, 10) + series(T0, WIDE_PATH)


def wide_dtos() -> Any:
    return once(
        long_dto(tp=115, sl=85, minutes=40),
        {
            "position": "short",
            "price_take_profit": 85,
            "price_stop_loss": 115,
            "minute_estimated_time": 40,
        },
    )


def test_partial_levels_fire_once_per_level_per_signal(listen: Listeners) -> None:
    profit = listen(engine.listen_partial_profit)
    loss = listen(engine.listen_partial_loss)
    setup(WIDE, wide_dtos(), end=T0 + 90 * MIN)
    results = run("s", profile="default")
    assert [(r.signal.position, r.close_reason) for r in results] == [
        ("long", "time_expired"),
        ("short", "time_expired"),
    ]
    long_id, short_id = (r.signal.id for r in results)
    assert results[1].signal.pending_at == T0 + 41 * MIN

    def rows(events: list[Any]) -> list[tuple[Any, ...]]:
        return [
            (
                e.symbol,
                e.data.id,
                e.data.position,
                e.level,
                e.current_price,
                e.backtest,
                e.timestamp,
            )
            for e in events
        ]

    assert rows(profit) == [
        (SYMBOL, long_id, "long", 10, 112.0, True, T0 + 9 * MIN),
        (SYMBOL, short_id, "short", 10, 88.0, True, T0 + 50 * MIN),
    ]
    assert rows(loss) == [
        (SYMBOL, long_id, "long", 10, 87.0, True, T0 + 19 * MIN),
        (SYMBOL, short_id, "short", 10, 113.0, True, T0 + 60 * MIN),
    ]


# Long at 100 (TP 150, SL 85): at +5m one candle at 136 with volume 1000 pulls the VWAP to
# 136400/1004 (+35.9 %): levels 10, 20 and 30 at once; at +10m one at 88 with volume 1000
# gives 88400/1004 (-11.95 %): loss level 10.
SPIKE = replace_bars(
    flat(T0 - 10 * MIN, 100),
    (T0 + 5 * MIN, 136.0, 136.0, 136.0, 136.0, 1000.0),
    (T0 + 10 * MIN, 88.0, 88.0, 88.0, 88.0, 1000.0),
)


def test_a_jump_over_several_levels_emits_them_in_ascending_order(listen: Listeners) -> None:
    profit = listen(engine.listen_partial_profit)
    loss = listen(engine.listen_partial_loss)
    level_20 = listen(engine.listen_partial_profit_once, lambda e: e.level == 20)
    setup(SPIKE, once(long_dto(tp=150, sl=85, minutes=30)))
    (result,) = run("s", profile="default")
    assert result.close_reason == "time_expired"
    up = 136400 / 1004
    assert [(e.level, e.current_price, e.timestamp) for e in profit] == [
        (10, up, T0 + 5 * MIN),
        (20, up, T0 + 5 * MIN),
        (30, up, T0 + 5 * MIN),
    ]
    assert [(e.level, e.current_price, e.timestamp) for e in loss] == [
        (10, 88400 / 1004, T0 + 10 * MIN)
    ]
    assert all(e.data.id == result.signal.id and e.backtest for e in profit + loss)
    assert [e.level for e in level_20] == [20]
