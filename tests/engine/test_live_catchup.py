"""Catch-up after downtime: a signal resolved while the process was down closes (or opens,
or is cancelled) at the minute and price an uninterrupted run would have used."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import engine
from engine.core.clock import SimulatedClock
from engine.data.ccxt_exchange import ccxt_exchange
from engine.sim.builtins import register_demo
from engine.sim.live import Live, LiveStart
from engine.sim.live_state import LiveSession
from tests.engine.exchange_server import FakeBinance, fake_binance
from tests.engine.helpers import MIN, SYMBOL, T0, add_exchange, long_dto, series

pytestmark = pytest.mark.usefixtures("clean_engine")
START = T0 + 10 * MIN
RESTART = START + 100 * MIN


@pytest.fixture(autouse=True)
def fresh_live() -> Iterator[None]:
    Live.clear()
    yield
    Live.clear()


def at_start(dto: dict[str, Any] | Callable[[str], dict[str, Any]]) -> Callable[..., Any]:
    """A get_signal that signals at START only (in every run, so runs can be compared)."""

    def get_signal(symbol: str, when: Any) -> Any:
        if round(when.timestamp() * 1000) != START:
            return None
        return dto(symbol) if callable(dto) else dto

    return get_signal


def add_strategy(get_signal: Callable[..., Any], **fields: Any) -> list[int]:
    """Register strategy `s`; return the times its `get_signal` ran (ms)."""
    calls: list[int] = []

    def counted(symbol: str, when: Any) -> Any:
        calls.append(round(when.timestamp() * 1000))
        return get_signal(symbol, when)

    engine.add_strategy(strategy_name="s", interval="1m", get_signal=counted, **fields)
    return calls


def run(state: Path, start: int, exchange: str = "x", symbol: str = SYMBOL, **kw: Any) -> Any:
    return Live.run(
        symbol,
        strategy_name="s",
        exchange_name=exchange,
        clock=SimulatedClock(start),
        state_dir=state,
        **kw,
    )


def uninterrupted(state: Path, exchange: str = "x", symbol: str = SYMBOL) -> list[Any]:
    """Run from START until the first signal is resolved (a graceful stop once it opens)."""
    stop = threading.Event()
    results = []
    for result in run(state, START, exchange, symbol, stop=stop):
        results.append(result)
        stop.set()
    return results


def interrupted(
    state: Path, restart: int, exchange: str = "x", symbol: str = SYMBOL, **kw: Any
) -> tuple[Any, list[Any], LiveStart]:
    """Open a signal at START, stop the process, restart at `restart` with a graceful stop."""
    first = run(state, START, exchange, symbol)
    opened = next(first)
    first.close()  # the process goes away; its state stays on disk
    starts: list[LiveStart] = []
    stop = threading.Event()
    stop.set()
    results = list(run(state, restart, exchange, symbol, stop=stop, on_start=starts.append, **kw))
    return opened, results, starts[0]


def minute_price_reason(result: Any) -> tuple[int, float, str]:
    return (result.close_timestamp // MIN * MIN, result.current_price, str(result.close_reason))


@pytest.mark.parametrize(
    ("prices", "dto", "expected"),
    [
        # VWAP of the 5 candles closed by minute 10 + k; three at 102 first at k = 33
        ([100.0] * 40 + [102.0] * 360, long_dto(101.0, 99.0, 600), (33, 101.0, "take_profit")),
        # two at 97 pull the VWAP to 98.8 <= 99 first at k = 32
        ([100.0] * 40 + [97.0] * 360, long_dto(101.0, 99.0, 600), (32, 99.0, "stop_loss")),
        # 30 minutes later; the VWAP of minutes 35..39 of 100 + m/50 is 100 + 37/50
        ([100.0 + m / 50 for m in range(400)], long_dto(105.0, 95.0, 30), (30, 100.74, "")),
    ],
    ids=["take_profit", "stop_loss", "time_expired"],
)
def test_a_close_missed_while_down_is_made_at_the_uninterrupted_minute_and_price(
    tmp_path: Path, prices: list[float], dto: dict[str, Any], expected: tuple[int, float, str]
) -> None:
    add_exchange("x", series(T0, prices))
    calls = add_strategy(at_start(dto))
    _, closed = uninterrupted(tmp_path / "uninterrupted")
    k, price, reason = expected
    assert closed.close_timestamp // MIN * MIN == START + k * MIN
    assert closed.current_price == pytest.approx(price)
    assert str(closed.close_reason) == (reason or "time_expired")
    calls.clear()
    resumed, results, start = interrupted(tmp_path / "restarted", RESTART)
    assert [r.action for r in results] == ["closed"]
    assert results[0].signal == resumed.signal == start.recovered.pending
    assert minute_price_reason(results[0]) == minute_price_reason(closed)
    assert results[0].close_timestamp < RESTART  # not "now"
    assert calls == [START]  # no signal asked for in the past
    assert any("caught up: closed" in note for note in start.recovered.notes)
    assert Live.get_data(SYMBOL, "s").total_closed == 1


def test_after_a_close_in_the_past_the_next_signal_opens_now(tmp_path: Path) -> None:
    add_exchange("x", series(T0, [100.0] * 40 + [102.0] * 360))

    def around_the_price(symbol: str, when: Any) -> dict[str, Any]:
        price = engine.get_average_price(symbol)
        return long_dto(price + 1, price - 1, 600)

    calls = add_strategy(around_the_price)
    first = run(tmp_path, START)
    next(first)
    first.close()
    second = run(tmp_path, RESTART)
    closed, opened = next(second), next(second)
    second.close()
    assert closed.action == "closed" and closed.close_timestamp == START + 33 * MIN
    assert opened.action == "opened" and opened.signal.pending_at == RESTART
    assert calls == [START, RESTART]


def test_the_close_is_recorded_in_the_history_once(tmp_path: Path) -> None:
    add_exchange("x", series(T0, [100.0] * 40 + [102.0] * 360))
    on_close: list[float] = []
    engine.add_strategy(
        strategy_name="s",
        interval="1m",
        get_signal=at_start(long_dto(101.0, 99.0, 600)),
        callbacks={"on_close": lambda symbol, signal, price, backtest: on_close.append(price)},
    )
    opened, _, _ = interrupted(tmp_path, RESTART)
    history = dict(LiveSession(SYMBOL, "s", "x", tmp_path).history.items())
    signal_id = opened.signal.id
    assert sorted(history) == [f"{signal_id}:closed", f"{signal_id}:opened"]
    assert history[f"{signal_id}:closed"]["close_timestamp"] == START + 33 * MIN
    assert on_close == [101.0]
    # a second restart finds nothing open: nothing is replayed or closed again
    stop = threading.Event()
    stop.set()
    assert list(run(tmp_path, RESTART + 10 * MIN, stop=stop)) == []
    assert on_close == [101.0]


def around(symbol: str) -> dict[str, Any]:
    """A long 0.2 % either side of the price, for at most two hours."""
    price = engine.get_average_price(symbol)
    return long_dto(price * 1.002, price * 0.998, 120)


def test_on_the_demo_market_the_catch_up_close_equals_the_uninterrupted_one(
    tmp_path: Path,
) -> None:
    register_demo()
    add_strategy(at_start(around))
    opened, closed = uninterrupted(tmp_path / "uninterrupted", "demo", "BTCUSDT")
    restart = START + 200 * MIN  # after the close (two hours at most)
    resumed, results, _ = interrupted(tmp_path / "restarted", restart, "demo", "BTCUSDT")
    assert resumed.signal._replace(id="") == opened.signal._replace(id="")
    assert [r.action for r in results] == ["closed"]
    assert minute_price_reason(results[0]) == minute_price_reason(closed)
    assert results[0].close_timestamp < restart


@pytest.fixture
def binance() -> Iterator[FakeBinance]:
    with fake_binance(START + 400 * MIN) as server:
        ccxt_exchange(
            "binance", exchange_name="fake", api_url=server.url, config={"enableRateLimit": False}
        )
        yield server


def klines(server: FakeBinance) -> int:
    return sum(path == "/api/v3/klines" for path, _ in server.requests)


def test_through_ccxt_the_catch_up_close_equals_the_uninterrupted_one(
    tmp_path: Path, binance: FakeBinance
) -> None:
    add_strategy(at_start(around))
    _, closed = uninterrupted(tmp_path / "uninterrupted", "fake", "BTCUSDT")
    restart = START + 200 * MIN
    asked = klines(binance)
    _, results, _ = interrupted(tmp_path / "restarted", restart, "fake", "BTCUSDT")
    assert [r.action for r in results] == ["closed"]
    assert minute_price_reason(results[0]) == minute_price_reason(closed)
    assert results[0].close_timestamp < restart
    # the opening tick, one page of candles for the missed minutes, the closing tick
    assert klines(binance) - asked <= 4


def test_missing_candles_are_reported_and_the_close_still_matches(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rows = series(T0, [100.0] * 70 + [102.0] * 330)
    gap = {T0 + m * MIN for m in range(50, 55)}
    add_exchange("x", [r for r in rows if r[0] not in gap])
    add_strategy(at_start(long_dto(101.0, 99.0, 600)))
    _, closed = uninterrupted(tmp_path / "uninterrupted")
    caplog.set_level(logging.WARNING, logger="engine")
    _, results, start = interrupted(tmp_path / "restarted", RESTART)
    assert minute_price_reason(results[0]) == minute_price_reason(closed)
    assert closed.close_timestamp // MIN * MIN == T0 + 73 * MIN  # three at 102 by minute 73
    # the VWAP window of minute 55 is minutes 50..54: it has no candle at all
    missing = "no candles opening 2024-01-01 00:50 UTC to 2024-01-01 00:54 UTC (5 minutes)"
    unjudged = "the minutes 2024-01-01 00:55 UTC (1 minute) could not be judged"
    notes = " | ".join(start.recovered.notes)
    assert missing in notes and unjudged in notes
    assert missing in caplog.text and unjudged in caplog.text


def test_candles_that_cannot_be_fetched_are_reported_and_the_position_stays_open(
    tmp_path: Path,
) -> None:
    rows = series(T0, [100.0] * 40 + [102.0] * 360)
    down: list[bool] = []
    keys = ("timestamp", "open", "high", "low", "close", "volume")

    def get_candles(symbol: str, interval: str, since: Any, limit: int) -> list[dict[str, Any]]:
        if down:
            raise ConnectionError("exchange unreachable")
        since_ms = round(since.timestamp() * 1000)
        return [dict(zip(keys, r, strict=True)) for r in rows if r[0] >= since_ms][:limit]

    engine.add_exchange(
        exchange_name="x",
        get_candles=get_candles,
        format_price=lambda s, p: f"{p:.2f}",
        format_quantity=lambda s, q: f"{q:.8f}",
    )
    add_strategy(at_start(long_dto(101.0, 99.0, 600)))
    first = run(tmp_path, START)
    opened = next(first)
    first.close()
    down.append(True)
    cancel = threading.Event()
    starts: list[LiveStart] = []

    def started(start: LiveStart) -> None:
        starts.append(start)
        cancel.set()

    assert list(run(tmp_path, RESTART, on_start=started, cancel=cancel)) == []
    notes = " | ".join(starts[0].recovered.notes)
    assert "fetching candles from 2024-01-01 00:06 UTC failed" in notes
    assert "exchange unreachable" in notes
    unjudged = "2024-01-01 00:11 UTC to 2024-01-01 01:49 UTC (99 minutes) could not be judged"
    assert unjudged in notes
    assert LiveSession(SYMBOL, "s", "x", tmp_path).recover().pending == opened.signal


def test_a_scheduled_signal_activated_and_closed_while_down_matches(tmp_path: Path) -> None:
    add_exchange("x", series(T0, [100.0] * 30 + [98.0] * 30 + [103.0] * 340))
    add_strategy(at_start(long_dto(101.0, 97.0, 600, price_open=99.0)))
    opened, closed = uninterrupted(tmp_path / "uninterrupted")
    # three candles at 98 first at minute 33 (VWAP 98.8 <= 99), three at 103 at minute 63
    assert opened.signal.pending_at // MIN * MIN == T0 + 33 * MIN
    assert closed.close_timestamp // MIN * MIN == T0 + 63 * MIN
    cancel = threading.Event()

    def on_signal(result: Any) -> None:
        if result.action == "scheduled":
            cancel.set()

    off = engine.listen_signal_live(on_signal)
    try:
        assert list(run(tmp_path / "restarted", START, cancel=cancel)) == []
    finally:
        off()
    stop = threading.Event()
    stop.set()
    results = list(run(tmp_path / "restarted", RESTART, stop=stop))
    assert [r.action for r in results] == ["opened", "closed"]
    assert results[0].signal.pending_at // MIN == opened.signal.pending_at // MIN
    assert results[0].signal.price_open == 99.0 and not results[0].signal.is_scheduled
    assert minute_price_reason(results[1]) == minute_price_reason(closed)


def test_a_scheduled_signal_that_timed_out_while_down_is_cancelled_at_its_minute(
    tmp_path: Path,
) -> None:
    engine.set_config(CC_SCHEDULE_AWAIT_MINUTES=20)
    add_exchange("x", series(T0, [100.0] * 400))
    add_strategy(at_start(long_dto(101.0, 97.0, 600, price_open=99.0)))
    cancel = threading.Event()

    def on_signal(result: Any) -> None:
        if result.action == "scheduled":
            cancel.set()

    off = engine.listen_signal_live(on_signal)
    try:
        assert list(run(tmp_path, START, cancel=cancel)) == []
    finally:
        off()
    stop = threading.Event()
    stop.set()
    [cancelled] = list(run(tmp_path, RESTART, stop=stop))
    assert cancelled.action == "cancelled"
    assert cancelled.close_timestamp == START + 20 * MIN  # the price never reached 99
    assert LiveSession(SYMBOL, "s", "x", tmp_path).recover().scheduled is None


def test_a_killed_desk_live_catches_up_on_the_demo_market_when_restarted(
    tmp_path: Path,
) -> None:
    command = [
        sys.executable,
        "-m",
        "tui.cli",
        "live",
        "--speed",
        "3000",  # 50 simulated minutes a second
        "--state-dir",
        str(tmp_path / "state"),
        "--json",
        "--no-report",
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    first = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert first.stdout is not None
        events = [json.loads(first.stdout.readline()) for _ in range(2)]
        assert [e["event"] for e in events] == ["started", "opened"]
    finally:
        first.kill()
        first.wait(30)
    opened = events[1]["result"]["signal"]
    time.sleep(4)  # 200 simulated minutes: the two-hour bracket is resolved by now
    second = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert second.stdout is not None
        started, closed = (json.loads(second.stdout.readline()) for _ in range(2))
    finally:
        second.send_signal(signal.SIGINT)
        second.communicate(timeout=30)
    assert started["pending"]["id"] == opened["id"]
    assert any("caught up: closed" in note for note in started["notes"])
    assert closed["event"] == "closed" and closed["result"]["signal"]["id"] == opened["id"]
    close_ts = closed["result"]["close_timestamp"]
    assert opened["pending_at"] < close_ts <= opened["pending_at"] + 120 * MIN < started["now_ms"]
