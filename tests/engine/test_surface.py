"""Upstream's surface a porting user reaches for: persist helpers, on_write, background
setup errors and upstream-style dump calls."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

import engine
from engine.core.clock import SimulatedClock
from engine.core.models import SignalRow
from engine.persist import StateError
from engine.sim.live import Live
from tests.engine.helpers import MIN, SYMBOL, T0, add_exchange, flat, long_dto

pytestmark = pytest.mark.usefixtures("clean_engine", "fresh_live")
START = T0 + 10 * MIN


def open_signal(signal_id: str = "port-1") -> SignalRow:
    """A long of strategy `s` on exchange `x`, open since START (TP 101, SL 99, 600 min)."""
    return SignalRow(
        signal_id, 100.0, "long", None, 101.0, 99.0, 600, SYMBOL, "x", "s", START, START, False
    )


def first_tick(state: Path, **callbacks: Any) -> Any:
    """Start a live run of `s` on `x`, return what it resumed, then cancel it."""
    cancel = threading.Event()
    started: list[Any] = []

    def on_start(start: Any) -> None:
        started.append(start)
        cancel.set()

    engine.add_strategy(
        strategy_name="s",
        interval="1m",
        get_signal=lambda symbol, when: None,
        callbacks=callbacks or None,
    )
    results = Live.run(
        SYMBOL,
        strategy_name="s",
        exchange_name="x",
        clock=SimulatedClock(START + MIN),
        state_dir=state,
        cancel=cancel,
        on_start=on_start,
    )
    list(results)
    return started[0].recovered


def test_a_signal_written_with_the_persist_helper_is_resumed_by_a_live_run(
    tmp_path: Path,
) -> None:
    add_exchange("x", flat(T0, 400))
    engine.PersistSignalAdapter.write_signal_data(open_signal(), SYMBOL, "s", tmp_path)
    recovered = first_tick(tmp_path)
    assert recovered.pending == open_signal()
    assert engine.PersistSignalAdapter.read_signal_data(SYMBOL, "s", tmp_path) == open_signal()


def test_the_persist_helpers_read_what_a_live_run_wrote(tmp_path: Path) -> None:
    add_exchange("x", flat(T0, 400))
    given: list[bool] = []

    def once(symbol: str, when: Any) -> Any:
        if given:
            return None
        given.append(True)
        return long_dto(101.0, 99.0, 600, id="from-live")

    engine.add_strategy(strategy_name="s", interval="1m", get_signal=once)
    for result in Live.run(
        SYMBOL,
        strategy_name="s",
        exchange_name="x",
        clock=SimulatedClock(START),
        state_dir=tmp_path,
    ):
        assert result.action == "opened"
        break
    saved = engine.PersistSignalAdapter.read_signal_data(SYMBOL, "s", tmp_path)
    assert saved is not None and saved.id == "from-live" and saved.price_take_profit == 101.0
    assert engine.PersistScheduleAdapter.read_schedule_data(SYMBOL, "s", tmp_path) is None


def test_a_signal_that_would_not_pass_validation_is_not_written(tmp_path: Path) -> None:
    sideways = open_signal()._replace(position="sideways")
    with pytest.raises(StateError, match="not a signal value"):
        engine.PersistSignalAdapter.write_signal_data(sideways, SYMBOL, "s", tmp_path)
    assert engine.PersistSignalAdapter.read_signal_data(SYMBOL, "s", tmp_path) is None


def test_risk_and_partial_helpers_replace_and_read_their_data(tmp_path: Path) -> None:
    position = {
        "strategy_name": "s",
        "symbol": SYMBOL,
        "exchange_name": "x",
        "open_timestamp": START,
    }
    risk = engine.PersistRiskAdapter
    risk.write_position_data({f"s:{SYMBOL}": position, "t:ETH": position}, "r", tmp_path)
    risk.write_position_data({f"s:{SYMBOL}": position}, "r", tmp_path)
    assert risk.read_position_data("r", tmp_path) == {f"s:{SYMBOL}": position}
    levels = {"strategy_name": "s", "profit_levels": [10, 20], "loss_levels": []}
    engine.PersistPartialAdapter.write_partial_data({"port-1": levels}, SYMBOL, tmp_path)
    assert engine.PersistPartialAdapter.read_partial_data(SYMBOL, tmp_path) == {"port-1": levels}
    with pytest.raises(StateError, match="not a partial value"):
        engine.PersistPartialAdapter.write_partial_data(
            {"port-2": {"profit_levels": "ten"}}, SYMBOL, tmp_path
        )


def test_on_write_is_told_each_saved_open_signal_in_live_and_never_in_backtests(
    tmp_path: Path,
) -> None:
    add_exchange("x", flat(T0, 400))
    writes: list[tuple[str, Any, bool]] = []
    given: list[bool] = []

    def once(symbol: str, when: Any) -> Any:
        if given:
            return None
        given.append(True)
        return long_dto(101.0, 99.0, 600, id="written")

    def on_write(symbol: str, signal: Any, backtest: bool) -> None:
        on_disk = engine.PersistSignalAdapter.read_signal_data(symbol, "s", tmp_path)
        writes.append((symbol, None if signal is None else signal.id, backtest))
        assert signal is None or on_disk == signal, "the signal is on disk when told"

    engine.add_strategy(
        strategy_name="s", interval="1m", get_signal=once, callbacks={"onWrite": on_write}
    )
    for result in Live.run(
        SYMBOL, strategy_name="s", exchange_name="x", clock=SimulatedClock(START),
        state_dir=tmp_path,
    ):  # fmt: skip
        assert result.action == "opened"
        break
    assert writes == [(SYMBOL, "written", False)]
    engine.add_frame(frame_name="f", interval="1m", start_date=START, end_date=START + 60 * MIN)
    given.clear()
    list(engine.Backtest.run(SYMBOL, strategy_name="s", exchange_name="x", frame_name="f"))
    assert writes == [(SYMBOL, "written", False)], "a backtest writes no state"


@pytest.mark.parametrize(
    ("utility", "folder"),
    [("Backtest", "backtest"), ("Live", "live"), ("Schedule", "schedule")],
)
def test_an_upstream_style_dump_call_shows_the_python_call(utility: str, folder: str) -> None:
    with pytest.raises(engine.ConfigError) as info:
        getattr(engine, utility).dump("my-strategy")
    assert f'{utility}.dump("BTCUSDT", "my-strategy")' in str(info.value)
    assert f"./dump/{folder}" in str(info.value)


@pytest.mark.parametrize("utility", ["Backtest", "Live", "Walker"])
def test_background_setup_errors_reach_listen_exit(utility: str) -> None:
    exits: list[BaseException] = []
    arrived = threading.Event()

    def on_exit(exc: BaseException) -> None:
        exits.append(exc)
        arrived.set()

    off = engine.listen_exit(on_exit)
    names = {
        "Backtest": {"strategy_name": "nope", "frame_name": "f"},
        "Live": {"strategy_name": "nope"},
        "Walker": {"walker_name": "nope"},
    }[utility]
    try:
        stop = getattr(engine, utility).background(SYMBOL, exchange_name="x", **names)
        assert callable(stop)
        assert arrived.wait(5)
    finally:
        off()
    assert isinstance(exits[0], engine.ConfigError) and "nope not found" in str(exits[0])
