"""The desk driven by the keys a user presses (Pilot), over the real engine and TinyDB."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.app import App
from textual.message import Message
from textual.widgets import DataTable

from engine.core.loader import load_module
from tui.formatting import system_clock
from tui.messages import RunCancelled, RunFinished, RunProgressed, RunStarted, SignalsReceived
from tui.runs import Profile, RunRequest
from tui.screens.compare import CompareScreen
from tui.screens.confirm import ConfirmModal
from tui.screens.error import ErrorModal
from tui.screens.help import HelpScreen
from tui.screens.history import HistoryScreen
from tui.screens.launcher import LauncherModal
from tui.screens.report import ReportScreen
from tui.screens.reports import ReportsScreen
from tui.screens.run_detail import RunScreen
from tui.screens.themes import ThemeScreen
from tui.screenshots import demo_app, settle
from tui.state import DeskState
from tui.widgets.event_log import EventLog
from tui.widgets.registry_tree import RegistryTree
from tui.widgets.report_table import ReportTable
from tui.widgets.report_view import ReportView
from tui.widgets.run_status import RunStatus
from tui.widgets.signals_table import STREAM_ROWS, SignalsTable
from tui.widgets.stats_panel import StatsPanel


class Recorder(list[Message]):
    """A `message_hook` that keeps each message once (bubbling shows it to every pump)."""

    def __call__(self, message: Message) -> None:
        if not any(message is seen for seen in self):
            self.append(message)


async def until(condition: Callable[[], bool], seconds: float = 30) -> None:
    """Let the app run until `condition` holds (fails the test after `seconds`).

    While a run goes the process is never idle, so `pilot.pause()` would wait its maximum;
    a short asyncio sleep hands the event loop over instead.
    """
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the desk did not get there in time")


def help_text(app: App[Any]) -> str:
    """The visible lines of the help screen's key table."""
    keys = app.screen.query_one("#help-keys")
    return "\n".join(strip.text for strip in keys.render_lines(keys.region.reset_offset))


def log_text(app_log: EventLog) -> str:
    return "\n".join(strip.text for strip in app_log.lines)


async def test_b_enter_runs_a_backtest_and_shows_signals_statistics_and_report(
    tmp_path: Path,
) -> None:
    seen = Recorder()
    app = demo_app(tmp_path)
    async with app.run_test(size=(120, 40), message_hook=seen) as pilot:
        await settle(pilot)
        await pilot.press("b")
        assert isinstance(app.screen, LauncherModal)
        await pilot.press("enter")
        await settle(pilot)

        kinds = [type(m) for m in seen]
        assert kinds.index(RunStarted) < kinds.index(RunFinished)
        assert RunProgressed in kinds and SignalsReceived in kinds
        record = next(m for m in seen if isinstance(m, RunFinished)).record
        assert record.request.strategy_name == "bracket"
        assert record.request.frame_name == "demo-7d"
        assert len(record.signals) > 0

        assert app.desk.closed == list(record.signals)
        table = app.desk.query_one(SignalsTable)
        assert table.row_count == min(len(record.signals), STREAM_ROWS)
        newest = record.signals[-1]
        assert table.get_row(newest.signal_id)[-1].plain == f"{newest.pnl_percentage:+.2f}"
        stats = app.desk.query_one(StatsPanel).statistics
        assert stats["total_signals"] == len(record.signals)
        assert app.desk.query_one(RunStatus).state == "finished"

        await pilot.press("r")
        assert isinstance(app.screen, ReportScreen)
        trades = app.screen.query_one("#report-trades-table", ReportTable)
        assert trades.row_count == len(record.signals)

    assert (tmp_path / "dump" / "backtest" / "bracket-1.md").is_file()
    stored = DeskState(tmp_path / "state", system_clock).runs()
    assert [r.run_id for r in stored] == [1]
    assert stored[0].statistics == record.statistics
    assert DeskState(tmp_path / "state", system_clock).run(1) == record


async def test_launcher_remembers_the_last_choices(tmp_path: Path) -> None:
    app = demo_app(tmp_path)
    app.state.last_request = RunRequest(
        strategy_name="limit",
        symbol="ETHUSDT",
        exchange_name="demo",
        frame_name="demo-7d",
        profile=Profile.BACKTEST_KIT_1_4_10,
    )
    seen = Recorder()
    async with app.run_test(size=(120, 40), message_hook=seen) as pilot:
        await settle(pilot)
        await pilot.press("b", "enter")
        await settle(pilot)
    started = next(m for m in seen if isinstance(m, RunStarted))
    assert started.request == app.state.last_request
    assert started.request.profile is Profile.BACKTEST_KIT_1_4_10


async def test_x_cancels_a_running_backtest(tmp_path: Path, gate: Gate) -> None:
    name = gate.name
    app = demo_app(tmp_path)
    app.state.last_request = RunRequest(
        strategy_name=name, symbol="BTCUSDT", exchange_name="demo", frame_name="demo-7d"
    )
    seen = Recorder()
    async with app.run_test(size=(120, 40), message_hook=seen) as pilot:
        await settle(pilot)
        await run_and_cancel(pilot, seen, gate)
        assert not any(isinstance(m, RunFinished) for m in seen)
        assert app.desk.query_one(RunStatus).state == "cancelled"
        assert app.desk.running is None
    assert DeskState(tmp_path / "state", system_clock).runs() == []


class Gate:
    """A strategy module whose `get_signal` waits until the test opens the gate.

    Runs happen in the desk's child process, so the strategy lives in a module file (the
    child imports it too) and the gate is a file both processes see.
    """

    def __init__(self, root: Path) -> None:
        self.name = f"gated_{root.name.replace('-', '_')}"
        self.file = root / "gate.open"
        self.module = root / "gated_strategies.py"
        self.module.write_text(
            "import time\n"
            "from pathlib import Path\n"
            "from engine import add_strategy\n\n"
            "def get_signal(symbol, when):\n"
            f"    while not Path({str(self.file)!r}).exists():\n"
            "        time.sleep(0.01)\n\n"
            f"add_strategy(strategy_name={self.name!r}, interval='5m', get_signal=get_signal,"
            " note='gated')\n",
            encoding="utf-8",
        )
        load_module(self.module)

    def open(self) -> None:
        """Let the strategy go on."""
        self.file.touch()


async def run_and_cancel(pilot: Any, seen: Recorder, gate: Gate) -> None:
    """Start the remembered (gated) run with `b` `enter`, cancel it with `x`, let it end."""
    app = pilot.app
    await pilot.press("b")
    # While a run goes the process is never idle: keys are posted without waiting.
    app.simulate_key("enter")
    await until(lambda: app.desk.running is not None)
    app.simulate_key("x")
    await until(lambda: app.desk._cancel.is_set())
    gate.open()
    await until(lambda: any(isinstance(m, RunCancelled) for m in seen))
    await settle(pilot)


async def test_a_run_launched_during_a_run_is_queued_and_follows(
    tmp_path: Path, gate: Gate
) -> None:
    name = gate.name
    app = demo_app(tmp_path)
    app.state.last_request = RunRequest(
        strategy_name=name, symbol="BTCUSDT", exchange_name="demo", frame_name="demo-7d"
    )
    seen = Recorder()
    async with app.run_test(size=(120, 40), message_hook=seen) as pilot:
        await settle(pilot)
        await pilot.press("b")
        app.simulate_key("enter")
        await until(lambda: app.desk.running is not None)
        app.simulate_key("b")
        await until(lambda: isinstance(app.screen, LauncherModal))
        app.simulate_key("enter")
        await until(lambda: len(app.desk.queue) == 1)
        gate.open()
        await until(lambda: sum(isinstance(m, RunFinished) for m in seen) == 2)
        await settle(pilot)
        assert app.desk.running is None
        assert f"queued {name} · BTCUSDT (1 waiting)" in log_text(app.desk.query_one(EventLog))
    assert [m.record.run_id for m in seen if isinstance(m, RunFinished)] == [1, 2]


async def test_history_opens_a_run_and_compares_two(desk_root: Path) -> None:
    app = demo_app(desk_root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("H")
        assert isinstance(app.screen, HistoryScreen)
        assert app.screen.query_one("#runs").row_count == 2

        await pilot.press("j", "space", "k", "c")
        compare = app.screen
        assert isinstance(compare, CompareScreen)
        assert (compare.left.request.strategy_name, compare.right.request.strategy_name) == (
            "bracket",
            "limit",
        )
        table = compare.query_one("#comparison")
        assert str(table.get_cell("setup-Strategy", "delta")) == "≠"
        delta = str(table.get_cell("total_signals", "delta"))
        expected = int(compare.right.statistics["total_signals"] or 0) - int(
            compare.left.statistics["total_signals"] or 0
        )
        assert delta == f"{expected:+d}"

        await pilot.press("escape", "enter")
        await settle(pilot)
        assert isinstance(app.screen, RunScreen)
        assert app.screen.record.request.strategy_name == "limit"
        await pilot.press("3")
        await settle(pilot)
        assert app.screen.query_one(ReportView).content.title == app.screen.record.title


async def test_history_deletes_a_run_only_after_asking(desk_root: Path) -> None:
    app = demo_app(desk_root)
    runs_dir = desk_root / "state" / "runs"
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("H")
        history = app.screen
        assert isinstance(history, HistoryScreen)
        newest = history.records[max(history.records)]

        await pilot.press("d")
        assert isinstance(app.screen, ConfirmModal)
        assert newest.title in str(app.screen.query_one("#confirm-delete-question").render())
        await pilot.press("n")
        assert app.screen is history and len(app.state.runs()) == 2
        assert len(list(runs_dir.glob("*.json"))) == 2

        await pilot.press("d", "y")
        assert app.screen is history
        table = history.query_one("#runs", DataTable)
        assert table.row_count == 1 and table.border_title == "Runs (1)"
        assert [r.run_id for r in app.state.runs()] == [min(history.records)]
        assert len(list(runs_dir.glob("*.json"))) == 1
        assert app.state.run(newest.run_id) is None


async def test_reports_screen_lists_dumped_reports(desk_root: Path) -> None:
    app = demo_app(desk_root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("R")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ReportsScreen)
        names = sorted(p.name for p in screen.paths)
        assert names == ["bracket-1.md", "limit-2.md"]
        assert screen.query_one(ReportView).content.title.startswith("Backtest Report")


async def test_theme_switch_is_instant_and_remembered(tmp_path: Path) -> None:
    app = demo_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.theme == "desk-dark"
        await pilot.press("t")
        assert isinstance(app.screen, ThemeScreen)
        await pilot.press("j")
        assert app.theme == "desk-high-contrast"
        await pilot.press("escape")
        assert app.theme == "desk-dark"
        await pilot.press("t", "j", "j", "enter")
        assert app.theme == "desk-light"
    again = demo_app(tmp_path)
    async with again.run_test(size=(120, 40)) as pilot:
        assert again.theme == "desk-light"


async def test_a_module_that_fails_to_import_shows_the_error(tmp_path: Path) -> None:
    app = demo_app(tmp_path, broken_module=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ErrorModal)
        assert "broken_strategies.py:6" in app.screen.msg
        assert "exchange key missing" in app.screen.msg
        assert "Traceback" not in app.screen.msg
        await pilot.press("escape")
        assert app.screen is app.desk
        assert "exchange key missing" in log_text(app.desk.query_one(EventLog))
        tree = app.desk.query_one(RegistryTree)
        leaves = {
            leaf.data.entry.name for s in tree.root.children for leaf in s.children if leaf.data
        }
        assert {"bracket", "limit", "sma_rsi"} <= leaves  # the built-ins stay


async def test_a_user_module_shows_its_strategies(tmp_path: Path) -> None:
    name = f"mine_{tmp_path.name.replace('-', '_')}"
    module = tmp_path / "my_strategies.py"
    module.write_text(
        "from engine import add_strategy\n"
        f"add_strategy(strategy_name={name!r}, interval='5m', note='mine',\n"
        "             get_signal=lambda symbol, when: None)\n",
        encoding="utf-8",
    )
    app = demo_app(tmp_path)
    app.desk.module = str(module)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        tree = app.desk.query_one(RegistryTree)
        leaves = [
            leaf.data.entry.name for s in tree.root.children for leaf in s.children if leaf.data
        ]
        assert name in leaves
        assert {"bracket", "limit", "sma_rsi"} <= set(leaves)  # beside the built-ins
        assert "demo" in leaves
        await pilot.press("6")
        leaf = next(
            n
            for s in tree.root.children
            for n in s.children
            if n.data and n.data.entry.name == name
        )
        tree.move_cursor(leaf)
        await pilot.press("enter")
        assert isinstance(app.screen, LauncherModal)
        assert str(app.screen.query_one("#strategy").value) == name


async def test_a_corrupt_state_file_is_moved_aside(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "desk.json").write_text("{not json", encoding="utf-8")
    app = demo_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "moved to" in log_text(app.desk.query_one(EventLog))
    moved = list((tmp_path / "state").glob("desk.json.*.bad"))
    assert len(moved) == 1
    assert moved[0].read_text(encoding="utf-8") == "{not json"


async def test_command_palette_runs_an_action(desk_root: Path) -> None:
    app = demo_app(desk_root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"history")
        await pilot.pause(0.3)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)


async def test_keymap_file_rebinds_keys_and_names_bad_entries(tmp_path: Path) -> None:
    (tmp_path / "keymap.toml").write_text(
        'show-history = "y"\nshow-histroy = "z"\nquit = 5\n', encoding="utf-8"
    )
    app = demo_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        log = " ".join(log_text(app.desk.query_one(EventLog)).split())
        assert "no key has the id 'show-histroy'; did you mean 'show-history'?" in log
        assert "quit = 5 is not a key" in log
        await pilot.press("H")
        assert not isinstance(app.screen, HistoryScreen)
        await pilot.press("y")
        assert isinstance(app.screen, HistoryScreen)
        await pilot.press("escape", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        history_line = next(line for line in help_text(app).splitlines() if "show-history" in line)
        assert history_line.split()[0] == "y"


async def test_help_lists_every_binding_of_the_app(tmp_path: Path) -> None:
    app = demo_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = help_text(app)
        for binding in app.BINDINGS:
            assert binding.id in text  # type: ignore[union-attr]


async def test_small_terminal_uses_tabs(desk_root: Path) -> None:
    app = demo_app(desk_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.desk.has_class("-compact")
        assert app.desk.query_one("#chart").display
        await pilot.press("2")
        await settle(pilot)
        assert app.desk.query_one("#signals").region.width > 0
        assert app.desk.query_one("#chart").region.width == 0
        assert app.focused is app.desk.query_one(SignalsTable)
        await pilot.press("j")
        assert app.desk.query_one(SignalsTable).cursor_row == 1
