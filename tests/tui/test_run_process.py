"""Backtests in the desk's child process: same results as in-process, history, crashes."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from textual.message import Message

from engine.loader import load_module
from engine.strategies import register_builtin_strategies
from tui.engine_bridge import EngineBridge
from tui.formatting import STATISTICS, fixed_clock
from tui.messages import RunFailed, RunFinished, RunStarted, SignalsReceived
from tui.run_process import RunProcess
from tui.runs import RunRequest, SignalView
from tui.state import DeskState

from .test_state_and_themes import CLOCK

STATISTIC_NAMES = [name for name, *_ in STATISTICS]


def request(strategy: str = "bracket") -> RunRequest:
    return RunRequest(
        strategy_name=strategy, symbol="ETHUSDT", exchange_name="demo", frame_name="demo-7d"
    )


def without_ids(signals: tuple[SignalView, ...]) -> list[SignalView]:
    """Signals as compared across runs (their ids are random)."""
    return [s._replace(signal_id="") for s in signals]


def test_a_run_in_the_child_equals_the_run_in_this_process(tmp_path: Path) -> None:
    register_builtin_strategies()
    here: list[Message] = []
    bridge = EngineBridge(here.append, tmp_path / "here", STATISTIC_NAMES, CLOCK)
    bridge.subscribe()
    try:
        expected = bridge.run(request(), threading.Event())
    finally:
        bridge.unsubscribe()
    assert expected is not None and expected.signals

    state = DeskState(tmp_path / "state", CLOCK)
    there: list[Message] = []
    runs = RunProcess(tmp_path / "dump", STATISTIC_NAMES, fixed_clock(CLOCK()))
    try:
        runs.run(request(), threading.Event(), there.append, history=state)
    finally:
        runs.close()

    kinds = [type(m) for m in there]
    assert kinds[0] is RunStarted and kinds[-1] is RunFinished and SignalsReceived in kinds
    record = there[-1].record  # type: ignore[attr-defined]
    assert record.run_id == 1
    assert without_ids(record.signals) == without_ids(expected.signals)
    assert record.statistics == expected.statistics
    assert state.run(1) == record
    assert (tmp_path / "dump" / "backtest" / "bracket.md").read_text() == record.report


def test_a_child_that_dies_mid_run_is_reported_and_the_next_run_gets_a_new_one(
    tmp_path: Path,
) -> None:
    module = tmp_path / "stuck_strategies.py"
    module.write_text(
        "import time\n"
        "from engine import add_strategy\n\n"
        "add_strategy(strategy_name='stuck', interval='5m',\n"
        "             get_signal=lambda symbol, when: time.sleep(60))\n",
        encoding="utf-8",
    )
    load_module(module)
    os.chdir(tmp_path)
    runs = RunProcess(Path("dump"), STATISTIC_NAMES, CLOCK)
    seen: list[Message] = []
    try:
        worker = threading.Thread(
            target=runs.run, args=(request("stuck"), threading.Event(), seen.append)
        )
        worker.start()
        deadline = time.monotonic() + 30
        while not any(isinstance(m, RunStarted) for m in seen):
            assert time.monotonic() < deadline, "the stuck run never started"
            time.sleep(0.01)
        first = runs.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        worker.join(30)
        failure = seen[-1]
        assert isinstance(failure, RunFailed)
        assert failure.title == "BacktestProcessStopped"
        assert "exit code -9" in failure.msg and "the next run starts a new one" in failure.msg

        seen.clear()
        runs.run(request(), threading.Event(), seen.append)
        assert isinstance(seen[-1], RunFinished)
        assert runs.pid not in (None, first)
    finally:
        runs.close()
    assert runs.pid is None
