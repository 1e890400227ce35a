"""`async def` user code, as ported from upstream, runs to completion with sync semantics."""

from __future__ import annotations

import asyncio
import gc
import threading
from datetime import datetime
from typing import Any

import pytest

import engine
import engine.core.asyncs
from engine.strategies import bracket, register_builtin_strategies
from tests.engine.helpers import MIN, SYMBOL, T0, add_exchange, add_frame, flat, long_dto, once

pytestmark = pytest.mark.usefixtures("clean_engine")


def setup_async(get_signal: Any, **strategy: Any) -> None:
    add_exchange("x", flat(T0, 400))
    add_frame("f", T0 + 10 * MIN, T0 + 200 * MIN)
    engine.add_strategy(strategy_name="s", interval="1m", get_signal=get_signal, **strategy)


def run() -> list[Any]:
    return list(engine.Backtest.run(SYMBOL, strategy_name="s", exchange_name="x", frame_name="f"))


def opening_once() -> Any:
    dtos = once(long_dto(101.0, 99.0, 30))

    async def get_signal(symbol: str, when: datetime) -> Any:
        await asyncio.sleep(0)
        return dtos(symbol, when)

    return get_signal


def test_an_async_risk_validation_that_raises_rejects_the_signal(listen: Any) -> None:
    rejected = listen(engine.listen_validation)

    async def no_longs(params: Any) -> None:
        await asyncio.sleep(0)
        raise ValueError("no longs today")

    engine.add_risk(risk_name="r", validations=[no_longs])
    setup_async(opening_once(), risk_name="r")
    assert run() == []
    assert rejected and {str(e) for e in rejected} == {"no longs today"}


def test_an_async_risk_validation_that_returns_lets_the_signal_through() -> None:
    seen: list[int] = []

    async def count(params: Any) -> None:
        await asyncio.sleep(0)
        seen.append(params.active_position_count)

    engine.add_risk(risk_name="r", validations=[{"validate": count}])
    setup_async(opening_once(), risk_name="r")
    (closed,) = run()
    assert closed.action == "closed" and seen[0] == 0


def test_an_async_listener_body_has_run_when_the_backtest_returns() -> None:
    heard: list[str] = []

    async def on_signal(result: Any) -> None:
        await asyncio.sleep(0)
        heard.append(str(result.action))

    setup_async(opening_once())
    off = engine.listen_signal_backtest(on_signal)
    try:
        results = run()
    finally:
        off()
    assert "opened" in heard and len(heard) > 2, "every tick is heard"
    assert [a for a in heard if a == "closed"] == [str(r.action) for r in results] == ["closed"]


def test_an_async_once_listener_runs_once() -> None:
    heard: list[Any] = []

    async def first(result: Any) -> None:
        heard.append(result.signal.id)

    setup_async(opening_once())
    engine.listen_signal_backtest_once(lambda r: True, first)
    (closed,) = run()
    assert heard == [closed.signal.id]


def test_an_exception_in_an_async_listener_reaches_listen_error(listen: Any) -> None:
    errors = listen(engine.listen_error)

    async def broken(result: Any) -> None:
        raise RuntimeError("listener broke")

    setup_async(opening_once())
    listen.add(engine.listen_signal_backtest(broken))
    assert len(run()) == 1, "the run goes on"
    assert errors and {str(e) for e in errors} == {"listener broke"}


def test_async_callbacks_and_an_async_exchange_run(listen: Any) -> None:
    opened: list[float] = []
    rows = flat(T0, 400)
    keys = ("timestamp", "open", "high", "low", "close", "volume")

    async def get_candles(symbol: str, interval: str, since: datetime, limit: int) -> Any:
        start = round(since.timestamp() * 1000)
        return [dict(zip(keys, r, strict=True)) for r in rows if r[0] >= start][:limit]

    async def on_open(symbol: str, signal: Any, price: float, backtest: bool) -> None:
        await asyncio.sleep(0)
        opened.append(price)

    engine.add_exchange(
        exchange_name="x",
        get_candles=get_candles,
        format_price=lambda s, p: f"{p:.2f}",
        format_quantity=lambda s, q: f"{q:.8f}",
    )
    add_frame("f", T0 + 10 * MIN, T0 + 200 * MIN)
    engine.add_strategy(
        strategy_name="s",
        interval="1m",
        get_signal=opening_once(),
        callbacks={"onOpen": on_open},
    )
    (closed,) = run()
    assert opened == [100.0] and closed.signal.price_open == 100.0


def test_an_async_get_signal_gives_what_its_sync_twin_gives() -> None:
    register_builtin_strategies()
    sync_get_signal = bracket.get_signal

    async def twin(symbol: str, when: datetime) -> Any:
        return sync_get_signal(symbol, when)

    engine.add_strategy({**bracket.SCHEMA, "strategy_name": "twin", "get_signal": twin})

    def backtest(strategy: str) -> list[Any]:
        return list(
            engine.Backtest.run(
                "BTCUSDT", strategy_name=strategy, exchange_name="demo", frame_name="demo-7d"
            )
        )

    plain, awaited = backtest("bracket"), backtest("twin")

    def facts(result: Any) -> tuple[Any, ...]:
        s = result.signal
        return (s.pending_at, s.price_open, s.position, result.close_reason, result.pnl)

    assert len(plain) > 10
    assert [facts(r) for r in awaited] == [facts(r) for r in plain]


def test_async_user_code_runs_when_the_caller_is_inside_an_event_loop() -> None:
    """A Jupyter cell runs in an event loop: a backtest called from it still completes."""
    setup_async(opening_once())
    heard: list[str] = []

    async def on_signal(result: Any) -> None:
        if result.action == "closed":
            heard.append(threading.current_thread().name)

    off = engine.listen_signal_backtest(on_signal)

    async def cell() -> list[Any]:
        return run()

    try:
        (closed,) = asyncio.run(cell())
    finally:
        off()
    assert closed.action == "closed" and heard == ["engine-async"]


def test_sync_functions_are_registered_as_they_are() -> None:
    def get_signal(symbol: str, when: datetime) -> None:
        return None

    engine.add_strategy(strategy_name="s", interval="1m", get_signal=get_signal)
    (schema,) = engine.list_strategies()
    assert schema.get_signal is get_signal


def test_a_thread_that_ran_async_code_closes_its_loop_when_it_ends() -> None:
    loops: list[Any] = []

    async def where() -> Any:
        return asyncio.get_running_loop()

    worker = threading.Thread(target=lambda: loops.append(engine.core.asyncs.wait(where())))
    worker.start()
    worker.join()
    del worker
    gc.collect()
    assert loops[0].is_closed()
