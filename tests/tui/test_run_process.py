"""Backtests in the desk's child process: same results as in-process, history, crashes."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from textual.message import Message

from engine.core.loader import load_module
from engine.strategies import register_builtin_strategies
from tui.engine_bridge import ERRORS_SHOWN_PER_RUN, EngineBridge
from tui.formatting import STATISTICS, fixed_clock
from tui.messages import (
    EngineErrorReported,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunStarted,
    SignalsReceived,
)
from tui.run_process import RunProcess
from tui.runs import RunRecord, RunRequest, SignalView
from tui.state import DeskState

from .test_state_and_themes import CLOCK

STATISTIC_NAMES = [name for name, *_ in STATISTICS]
ENDINGS = (RunFinished, RunFailed, RunCancelled)
"""The messages that end a run for the desk: exactly one per run."""


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
    assert (tmp_path / "dump" / "backtest" / "bracket-1.md").read_text() == record.report
    assert record.report_path == str(tmp_path / "dump" / "backtest" / "bracket-1.md")


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
    state = DeskState(tmp_path / "state", CLOCK)
    runs = RunProcess(Path("dump"), STATISTIC_NAMES, CLOCK)
    seen: list[Message] = []
    try:
        worker = threading.Thread(
            target=runs.run, args=(request("stuck"), threading.Event(), seen.append, state)
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
        assert not worker.is_alive()
        assert [type(m) for m in seen if isinstance(m, ENDINGS)] == [RunFailed]
        failure = seen[-1]
        assert isinstance(failure, RunFailed)
        assert failure.title == "BacktestProcessStopped"
        assert "exit code -9" in failure.msg and "the next run starts a new one" in failure.msg
        assert state.runs() == []

        seen.clear()
        runs.run(request(), threading.Event(), seen.append)
        assert isinstance(seen[-1], RunFinished)
        assert runs.pid not in (None, first)
    finally:
        runs.close()
    assert runs.pid is None


class FailingHistory(DeskState):
    """A history whose index raises on its first `index_run`, as TinyDB does on an id clash."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, CLOCK)
        self.failures = 1

    def index_run(self, record: RunRecord, path: Path, report_dir: Path | None = None) -> RunRecord:
        if self.failures:
            self.failures -= 1
            raise ValueError("Document with ID 1 already exists")
        return super().index_run(record, path, report_dir)


def test_a_run_the_history_cannot_store_ends_failed_and_the_next_run_works(
    tmp_path: Path,
) -> None:
    state = FailingHistory(tmp_path / "state")
    os.chdir(tmp_path)
    runs = RunProcess(Path("dump"), STATISTIC_NAMES, CLOCK)
    first: list[Message] = []
    second: list[Message] = []
    try:
        runs.run(request(), threading.Event(), first.append, history=state)
        runs.run(request(), threading.Event(), second.append, history=state)
    finally:
        runs.close()
    assert [type(m) for m in first if isinstance(m, ENDINGS)] == [RunFailed]
    failure = first[-1]
    assert isinstance(failure, RunFailed)
    assert failure.title == "ValueError"
    assert "is not in the history" in failure.msg
    assert "Document with ID 1 already exists" in failure.msg
    assert [type(m) for m in second if isinstance(m, ENDINGS)] == [RunFinished]
    assert second[-1].record.run_id == 1  # type: ignore[attr-defined]
    assert [r.run_id for r in state.runs()] == [1]


def test_a_strategy_that_raises_counts_every_error_and_keeps_the_first(tmp_path: Path) -> None:
    module = tmp_path / "raising_strategies.py"
    module.write_text(
        "from engine import add_strategy\n\n"
        "def get_signal(symbol, when):\n"
        "    raise ValueError(f'boom at {when:%H:%M}')\n\n"
        "add_strategy(strategy_name='raising', interval='1h', get_signal=get_signal)\n",
        encoding="utf-8",
    )
    load_module(module)
    os.chdir(tmp_path)
    state = DeskState(tmp_path / "state", CLOCK)
    runs = RunProcess(Path("dump"), STATISTIC_NAMES, CLOCK)
    seen: list[Message] = []
    try:
        runs.run(request("raising"), threading.Event(), seen.append, history=state)
    finally:
        runs.close()
    finished = seen[-1]
    assert isinstance(finished, RunFinished)
    hours = 7 * 24  # demo-7d asks an hourly strategy once an hour
    assert finished.record.error_count == hours
    shown = [m for m in seen if isinstance(m, EngineErrorReported)]
    assert len(shown) == ERRORS_SHOWN_PER_RUN < hours  # fewer shown, all counted
    first = finished.record.first_error
    assert first is not None
    assert first.startswith("strategy raising raised ValueError: boom at 00:00 in get_signal")
    stored = state.runs()[0]
    assert (stored.error_count, stored.first_error) == (hours, first)
