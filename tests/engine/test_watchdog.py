"""The watchdog on strategy code: time budgets, stops while a call hangs, sys.exit."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import engine
from engine.core.clock import SimulatedClock
from engine.core.errors import StrategyError
from engine.sim.live import Live
from engine.sim.live_state import LiveSession
from engine.sim.watchdog import StrategyExitError, StrategyHungError, StrategyTimeoutError
from tests.engine.helpers import MIN, SYMBOL, T0, add_exchange, flat, long_dto, run, setup

pytestmark = pytest.mark.usefixtures("clean_engine")
START = T0 + 10 * MIN


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at teardown, so a strategy call a test left hanging returns and its thread ends."""
    event = threading.Event()
    yield event
    event.set()


def live(state: Path, **kw: Any) -> list[Any]:
    return list(
        Live.run(
            SYMBOL,
            strategy_name="s",
            exchange_name="x",
            clock=SimulatedClock(START),
            state_dir=state,
            **kw,
        )
    )


def hanging(release: threading.Event, answer: Any = None) -> Any:
    def get_signal(symbol: str, when: Any) -> Any:
        release.wait(60)  # "forever", for the test
        return answer

    return get_signal


def test_a_call_past_its_budget_is_reported_and_a_cancel_ends_the_run(
    tmp_path: Path, listen: Any, release: threading.Event
) -> None:
    engine.set_config(CC_STRATEGY_TIMEOUT_SECONDS=0.2)
    add_exchange("x", flat(T0, 100))
    engine.add_strategy(
        strategy_name="s",
        interval="1m",
        get_signal=hanging(release, long_dto(101.0, 99.0, 60)),
    )
    errors = listen(engine.listen_error)
    cancel = threading.Event()
    listen.add(engine.listen_error(lambda exc: cancel.set()))
    started = time.monotonic()
    with pytest.raises(StrategyHungError, match="stuck in get_signal") as hung:
        live(tmp_path, cancel=cancel)
    assert 0.2 <= time.monotonic() - started < 3
    [timeout] = errors
    assert isinstance(timeout, StrategyTimeoutError)
    message = str(timeout)
    assert "strategy s on TESTUSDT: get_signal (at test_watchdog.py:" in message
    assert "in get_signal) has not returned within its budget of 0.2 s" in message
    # the abandoned call answers late: the strategy is stopped, nothing is opened or saved
    release.set()
    hung.value.thread.join(5)
    assert not hung.value.thread.is_alive()
    assert LiveSession(SYMBOL, "s", "x", tmp_path).recover().pending is None


def test_a_call_that_cancels_the_run_and_then_returns_is_not_abandoned(
    tmp_path: Path, listen: Any
) -> None:
    # A listener inside the tick cancels the run and the tick takes a little longer to end
    # (a slow machine): the run ends cleanly with what the tick did, it is not "stuck".
    add_exchange("x", flat(T0, 100))
    cancel = threading.Event()

    def get_signal(symbol: str, when: Any) -> Any:
        cancel.set()
        time.sleep(0.2)  # four polls of the watchdog, within its grace
        return long_dto(101.0, 99.0, 60)

    engine.add_strategy(strategy_name="s", interval="1m", get_signal=get_signal)
    errors = listen(engine.listen_error)
    assert [r.action for r in live(tmp_path, cancel=cancel)] == ["opened"]
    assert errors == []
    assert LiveSession(SYMBOL, "s", "x", tmp_path).recover().pending is not None


def test_a_stop_ends_the_run_once_the_hung_call_is_past_its_budget(
    tmp_path: Path, listen: Any, release: threading.Event
) -> None:
    engine.set_config(CC_STRATEGY_TIMEOUT_SECONDS=0.3)
    add_exchange("x", flat(T0, 100))
    stop = threading.Event()

    def get_signal(symbol: str, when: Any) -> None:
        stop.set()  # Ctrl+C while the call runs
        release.wait(60)

    engine.add_strategy(strategy_name="s", interval="1m", get_signal=get_signal)
    errors = listen(engine.listen_error)
    started = time.monotonic()
    with pytest.raises(StrategyHungError, match=r"past its budget of 0\.3 s"):
        live(tmp_path, stop=stop)
    assert 0.3 <= time.monotonic() - started < 3
    assert [type(e) for e in errors] == [StrategyTimeoutError]


def test_a_stop_within_the_budget_waits_for_the_call(tmp_path: Path, listen: Any) -> None:
    engine.set_config(CC_STRATEGY_TIMEOUT_SECONDS=5)
    add_exchange("x", flat(T0, 100))
    stop = threading.Event()

    def get_signal(symbol: str, when: Any) -> None:
        stop.set()
        time.sleep(0.3)  # slow, within budget: the graceful stop waits for it

    engine.add_strategy(strategy_name="s", interval="1m", get_signal=get_signal)
    errors = listen(engine.listen_error)
    assert live(tmp_path, stop=stop) == []
    assert errors == []


def test_sys_exit_in_get_signal_ends_a_live_run_with_an_error(tmp_path: Path) -> None:
    add_exchange("x", flat(T0, 100))
    engine.add_strategy(strategy_name="s", interval="1m", get_signal=lambda s, w: sys.exit(0))
    with pytest.raises(StrategyExitError, match=r"strategy s called sys.exit\(0\) in get_signal"):
        live(tmp_path)


def test_sys_exit_in_a_callback_ends_a_live_run_and_the_position_is_kept(
    tmp_path: Path,
) -> None:
    add_exchange("x", flat(T0, 100))

    def on_open(symbol: str, signal: Any, price: float, backtest: bool) -> None:
        sys.exit("bye")

    engine.add_strategy(
        strategy_name="s",
        interval="1m",
        get_signal=lambda s, w: long_dto(101.0, 99.0, 60),
        callbacks={"on_open": on_open},
    )
    with pytest.raises(StrategyExitError, match=r"sys.exit\('bye'\) in on_open \(at test_wat"):
        live(tmp_path)
    assert LiveSession(SYMBOL, "s", "x", tmp_path).recover().pending is not None


def test_sys_exit_in_get_candles_ends_a_live_run_with_an_error(tmp_path: Path) -> None:
    def get_candles(symbol: str, interval: str, since: Any, limit: int) -> Any:
        sys.exit(2)

    engine.add_exchange(
        exchange_name="x",
        get_candles=get_candles,
        format_price=lambda s, p: f"{p:.2f}",
        format_quantity=lambda s, q: f"{q:.8f}",
    )
    engine.add_strategy(strategy_name="s", interval="1m", get_signal=lambda s, w: None)
    with pytest.raises(StrategyExitError, match=r"sys.exit\(2\) in get_candles"):
        live(tmp_path)


def test_sys_exit_in_a_backtest_is_reported_and_the_run_goes_on(listen: Any) -> None:
    calls: list[int] = []

    def get_signal(symbol: str, when: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            sys.exit(0)
        return long_dto(101.0, 99.0, 5) if len(calls) == 2 else None

    setup(flat(T0, 120), get_signal, end=T0 + 60 * MIN)
    errors = listen(engine.listen_error)
    results = run("s")
    assert [type(e) for e in errors] == [StrategyExitError]
    assert isinstance(errors[0], StrategyError) and "sys.exit(0) in get_signal" in str(errors[0])
    assert [r.action for r in results] == ["closed"]


def test_a_callback_that_hangs_when_a_position_is_resumed_is_under_the_budget(
    tmp_path: Path, listen: Any, release: threading.Event
) -> None:
    engine.set_config(CC_STRATEGY_TIMEOUT_SECONDS=0.2)
    add_exchange("x", flat(T0, 100))
    resumed: list[bool] = []

    def on_active(symbol: str, signal: Any, price: float, backtest: bool) -> None:
        if resumed:
            release.wait(60)

    engine.add_strategy(
        strategy_name="s",
        interval="1m",
        get_signal=lambda s, w: long_dto(101.0, 99.0, 60),
        callbacks={"on_active": on_active},
    )
    first = Live.run(
        SYMBOL,
        strategy_name="s",
        exchange_name="x",
        clock=SimulatedClock(START),
        state_dir=tmp_path,
    )
    assert next(first).action == "opened"
    first.close()
    resumed.append(True)
    cancel = threading.Event()
    listen.add(engine.listen_error(lambda exc: cancel.set()))
    with pytest.raises(StrategyHungError, match="stuck in on_active"):
        live(tmp_path, cancel=cancel)
