"""The desk tells how each run ended: green, amber with engine errors, red, never stuck running.

Runs happen in the desk's child process, so test strategies live in module files (the child
imports them too), named after the test's directory so that no two tests share one.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from rich.text import Text
from textual.color import Color
from textual.message import Message
from textual.widgets import Label

from engine.core.loader import load_module
from tui.formatting import system_clock
from tui.messages import RunCancelled, RunFailed, RunFinished, RunStarted
from tui.runs import RunRecord, RunRequest
from tui.screens.compare import CompareScreen
from tui.screens.error import ErrorModal
from tui.screens.history import HistoryScreen
from tui.screens.run_detail import RunScreen
from tui.screenshots import demo_app, settle
from tui.state import DeskState
from tui.widgets.run_status import RunStatus

from .test_desk_flows import Recorder, until

ENDINGS = (RunFinished, RunFailed, RunCancelled)
HOURS_IN_DEMO_7D = 7 * 24
"""An hourly strategy is asked once an hour over demo-7d: one error per call when it raises."""


def strategy_module(root: Path, kind: str, body: str) -> str:
    """Write and load a module registering strategy `<kind>_<test dir>`; return its name."""
    name = f"{kind}_{root.name.replace('-', '_')}"
    module = root / f"{kind}_strategies.py"
    module.write_text(
        "import time\n"
        "from engine import add_strategy\n\n"
        "def get_signal(symbol, when):\n"
        f"    {body}\n\n"
        f"add_strategy(strategy_name={name!r}, interval='1h', get_signal=get_signal)\n",
        encoding="utf-8",
    )
    load_module(module)
    return name


def demo_request(strategy: str) -> RunRequest:
    return RunRequest(
        strategy_name=strategy, symbol="BTCUSDT", exchange_name="demo", frame_name="demo-7d"
    )


def status_text(status: RunStatus) -> str:
    return str(status.query_one("#run-label", Label).render())


def endings(seen: list[Message]) -> list[Message]:
    return [m for m in seen if isinstance(m, ENDINGS)]


async def test_a_strategy_that_always_raises_ends_amber_with_its_error_count(
    tmp_path: Path,
) -> None:
    name = strategy_module(tmp_path, "raising", "raise ValueError('boom')")
    app = demo_app(tmp_path)
    app.state.last_request = demo_request(name)
    seen = Recorder()
    async with app.run_test(size=(160, 40), message_hook=seen) as pilot:
        await settle(pilot)
        await pilot.press("b", "enter")
        await until(lambda: bool(endings(seen)))
        await settle(pilot)
        assert [type(m) for m in endings(seen)] == [RunFinished]

        status = app.desk.query_one(RunStatus)
        assert status.state == "errors"
        line = status_text(status)
        assert f"finished with {HOURS_IN_DEMO_7D} errors · first: strategy {name}" in line
        assert line.endswith("0 closed trades · return +0.00 % · equity 10 000.00 · r report")
        warning = Color.parse(app.theme_variables["warning"])
        assert status.query_one("#run-label", Label).styles.color == warning
        notification = list(app._notifications)[-1]
        assert notification.severity == "warning"
        assert f"{HOURS_IN_DEMO_7D} errors · first: strategy {name} raised ValueError: boom" in (
            notification.message
        )

        await pilot.press("H")
        assert isinstance(app.screen, HistoryScreen)
        cell = app.screen.query_one("#runs").get_cell("1", "status")
        assert isinstance(cell, Text)
        assert cell.plain == f"⚠ {HOURS_IN_DEMO_7D}"
        assert Color.parse(str(cell.style)) == warning

        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, RunScreen)
        shown = str(app.screen.query_one("#run-errors", Label).render())
        assert shown.startswith(f"⚠ finished with {HOURS_IN_DEMO_7D} errors · first: strategy")

    stored = DeskState(tmp_path / "state", system_clock).runs()
    assert [(r.run_id, r.error_count) for r in stored] == [(1, HOURS_IN_DEMO_7D)]
    assert stored[0].first_error is not None and "ValueError: boom" in stored[0].first_error


async def test_compare_names_the_errors_of_each_run(tmp_path: Path) -> None:
    app = demo_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        clean, flawed = (
            RunRecord(
                run_id=run_id,
                request=demo_request("bracket"),
                frame_label="demo-7d",
                start_ms=0,
                end_ms=60_000,
                finished_at=0,
                statistics={},
                signals=(),
                report="",
                error_count=errors,
                first_error="ValueError: boom" if errors else None,
            )
            for run_id, errors in ((1, 0), (2, 3))
        )
        await app.push_screen(CompareScreen(clean, flawed))
        table = app.screen.query_one("#comparison")
        assert str(table.get_cell("setup-Engine errors", "a")) == "none"
        assert (
            str(table.get_cell("setup-Engine errors", "b")) == "3 errors · first: ValueError: boom"
        )
        assert str(table.get_cell("setup-Engine errors", "delta")) == "≠"


async def test_killing_the_run_process_mid_run_ends_the_run_failed(tmp_path: Path) -> None:
    name = strategy_module(tmp_path, "stuck", "time.sleep(60)")
    app = demo_app(tmp_path)
    app.state.last_request = demo_request(name)
    seen = Recorder()
    async with app.run_test(size=(120, 40), message_hook=seen) as pilot:
        await settle(pilot)
        await pilot.press("b")
        app.simulate_key("enter")  # the run keeps the process busy: keys go without waiting
        await until(lambda: any(isinstance(m, RunStarted) for m in seen))
        pid = app.desk.runs.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        await until(lambda: bool(endings(seen)))
        await settle(pilot)
        assert [type(m) for m in endings(seen)] == [RunFailed]
        status = app.desk.query_one(RunStatus)
        assert status.state == "failed"
        assert "BacktestProcessStopped" in status_text(status)
        assert "exit code -9" in status_text(status)
        assert app.desk.running is None
        assert isinstance(app.screen, ErrorModal)

        await pilot.press("escape")
        app.desk.start_run(demo_request("bracket"))  # the next run gets a new process
        await until(lambda: len(endings(seen)) == 2)
        await settle(pilot)
        assert isinstance(endings(seen)[-1], RunFinished)
        assert app.desk.query_one(RunStatus).state == "finished"
    assert [
        r.request.strategy_name for r in DeskState(tmp_path / "state", system_clock).runs()
    ] == ["bracket"]


async def test_a_history_that_cannot_store_a_run_fails_it_and_the_queue_goes_on(
    tmp_path: Path,
) -> None:
    app = demo_app(tmp_path)
    seen = Recorder()
    async with app.run_test(size=(120, 40), message_hook=seen) as pilot:
        await settle(pilot)
        history = app.desk.state
        index_run = history.index_run

        def clash_once(record: RunRecord, path: Path, report_dir: Path | None = None) -> RunRecord:
            history.index_run = index_run  # type: ignore[method-assign]  # the next call works
            raise ValueError("Document with ID 1 already exists")

        history.index_run = clash_once  # type: ignore[method-assign]
        app.desk.start_run(demo_request("bracket"))
        app.desk.start_run(demo_request("limit"))  # queued behind the first
        await until(lambda: len(endings(seen)) == 2, seconds=60)
        await settle(pilot)
        failed, finished = endings(seen)
        assert isinstance(failed, RunFailed) and failed.request.strategy_name == "bracket"
        assert "is not in the history" in failed.msg
        assert "Document with ID 1 already exists" in failed.msg
        assert (
            isinstance(finished, RunFinished) and finished.record.request.strategy_name == "limit"
        )
        assert app.desk.running is None and app.desk.queue == []
        assert app.desk.query_one(RunStatus).state == "finished"
    stored = DeskState(tmp_path / "state", system_clock).runs()
    assert [r.request.strategy_name for r in stored] == ["limit"]
