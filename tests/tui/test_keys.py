"""Keys and footer: hints that fit at 80 columns, one meaning per key, palette words, marks,
the quit question while a live loop holds a position, and the full-screen log."""

from __future__ import annotations

import re
import socket
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.binding import Binding
from textual.command import CommandList, CommandPalette
from textual.widgets import DataTable, RichLog, Static
from textual.widgets._toast import Toast

import engine
from tests.tui.test_desk_flows import Gate, Recorder, run_and_cancel, until
from tests.tui.test_live_screen import (  # noqa: F401 (held is a fixture)
    START_MS,
    HeldClock,
    desk,
    held,
    start_bracket,
)
from tui.app import help_sections
from tui.formatting import format_noun
from tui.messages import RunFinished, RunStarted
from tui.runs import RunRequest
from tui.screens.compare import CompareScreen
from tui.screens.confirm import ConfirmModal
from tui.screens.help import HelpScreen
from tui.screens.history import HistoryScreen
from tui.screens.launcher import LauncherModal
from tui.screens.live import LiveScreen
from tui.screens.log import LogScreen
from tui.screens.report import ReportScreen
from tui.screens.walker import PickList, WalkerScreen
from tui.screenshots import demo_app, settle
from tui.widgets.event_log import EventLog
from tui.widgets.key_footer import KeyFooter
from tui.widgets.price_chart import PriceChart
from tui.widgets.registry_tree import RegistryTree
from tui.widgets.signals_table import SignalsTable

SCREEN_LOCAL_KEYS = {
    "enter": "does the screen's or the dialog's main thing (open, run, start, confirm)",
    "escape": "leaves the screen or the dialog (back, cancel)",
    "space": "marks runs in the history, pages down in a report",
    "slash": "filters the trade blotter; everywhere else opens the command palette",
    **{str(n): "shows the screen's n-th pane or tab" for n in range(1, 7)},
}
"""Keys whose meaning is the screen's own (the README's key map says so); every other key
means one thing wherever it works."""

SAME_WORDS = {"top": "first", "bottom": "last"}
"""The report's scroll labels say Top and Bottom where the lists say First and Last."""

SCREENS: dict[str, tuple[str, ...]] = {
    "main": (),
    "launcher": ("b",),
    "history": ("H",),
    "run": ("H", "enter"),
    "compare": ("H", "j", "space", "k", "c"),
    "report": ("r",),
    "reports": ("R",),
    "help": ("question_mark",),
    "themes": ("t",),
    "walker": ("w",),
    "heatmap": ("m",),
    "alerts": ("A",),
    "live": ("l",),
    "optimizer": ("O",),
    "data": ("D",),
    "log": ("L",),
}


def meaning(binding: Binding) -> str:
    """The first word of a key's label, lower case: what the user reads the key to mean."""
    word = re.findall(r"\w+", binding.description.lower())[0]
    return SAME_WORDS.get(word, word)


def test_one_key_means_one_thing_on_every_screen() -> None:
    meanings: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for section, bindings in help_sections():
        for binding in Binding.make_bindings(bindings):
            if binding.key not in SCREEN_LOCAL_KEYS:
                meanings[binding.key].add((meaning(binding), section))
    clashes = {key: sorted(seen) for key, seen in meanings.items() if len({m for m, _ in seen}) > 1}
    assert clashes == {}


def test_cancel_is_x_wherever_something_can_be_cancelled() -> None:
    cancels = [
        binding
        for _, bindings in help_sections()
        for binding in Binding.make_bindings(bindings)
        if binding.action.startswith(("cancel_", "stop_"))
    ]
    assert len(cancels) >= 5
    assert {binding.key for binding in cancels} == {"x"}


def footer_of(app: App[Any]) -> KeyFooter:
    """The footer on screen: the top screen's, or under a dialog the screen beneath's."""
    for screen in reversed(app.screen_stack):
        footers = screen.query(KeyFooter)
        if footers:
            return footers.first()
    raise AssertionError("no footer on screen")


def footer_words(footer: KeyFooter) -> set[str]:
    """Every key and label word the footer's screen could show."""
    words: set[str] = set()
    for binding, _ in [*footer.shown(), *footer.pinned()]:
        words.add(footer.app.get_key_display(binding))
        words.update(binding.description.split())
    return words


@pytest.mark.parametrize("screen", list(SCREENS))
async def test_the_footer_at_80_columns_shows_help_and_quit_and_cuts_no_hint(
    desk_root: Path, screen: str
) -> None:
    app = demo_app(desk_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for key in SCREENS[screen]:
            await pilot.press(key)
            await settle(pilot)
        footer = footer_of(app)
        text = footer.render().plain
        assert len(text) <= 80
        assert text.rstrip().endswith("? Help  q Quit")
        unknown = set(text.split()) - footer_words(footer)
        assert unknown == set()  # every word is a whole key or a whole label word


async def test_the_footer_drops_low_priority_hints_first(desk_root: Path) -> None:
    app = demo_app(desk_root)
    async with app.run_test(size=(50, 24)) as pilot:
        await settle(pilot)
        await pilot.press("H")
        await settle(pilot)
        text = footer_of(app).render().plain
        hints = ["esc", "Back", "space", "Mark", "c", "Compare"]  # d Delete no longer fits
        assert text.split() == [*hints, "?", "Help", "q", "Quit"]


async def test_help_lists_the_current_screens_keys_first(desk_root: Path) -> None:
    app = demo_app(desk_root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("H", "question_mark")
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        title, first = help_screen.sections[0]
        assert title == "This screen · History"
        ids = [b.id for b in Binding.make_bindings(first)]
        assert {"mark-run", "compare-runs", "delete-run", "history-back"} <= set(ids)
        assert "launch-backtest" not in ids  # the desk's keys follow in their own section
        assert help_screen.sections[1][0] == "Everywhere"
        keys = help_screen.query_one("#help-keys")
        lines = [s.text for s in keys.render_lines(keys.region.reset_offset)]
        commands = [line for line in lines if "command-palette" in line]
        assert len(commands) == 1 and "/ ctrl+p" in commands[0]


async def palette_hits(pilot: Any, query: str) -> list[str]:
    """Open the palette, type `query`, return the hits' titles."""
    await pilot.press("ctrl+p")
    await pilot.press(*query)
    await pilot.pause(0.4)
    palette = pilot.app.screen
    assert isinstance(palette, CommandPalette)
    commands = palette.query_one(CommandList)
    titles = [str(commands.get_option_at_index(i).prompt) for i in range(commands.option_count)]
    await pilot.press("escape")
    return [title.splitlines()[0] for title in titles]


@pytest.mark.parametrize(
    ("query", "title"),
    [
        ("backtest", "Run"),
        ("report", "Report"),
        ("theme", "Theme"),
        ("history", "History"),
        ("data", "Data"),
        ("launcher", "Run"),
        ("colour", "Theme"),
        ("candles", "Data"),
    ],
)
async def test_the_palette_finds_commands_by_their_words(
    desk_root: Path, query: str, title: str
) -> None:
    app = demo_app(desk_root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert title in await palette_hits(pilot, query)


async def test_the_palette_runs_a_command_found_by_a_tooltip_word(desk_root: Path) -> None:
    app = demo_app(desk_root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p", *"backtest launcher")
        await pilot.pause(0.4)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, LauncherModal)


async def test_history_marks_two_runs_and_compares_them(desk_root: Path) -> None:
    app = demo_app(desk_root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("H")
        history = app.screen
        assert isinstance(history, HistoryScreen)
        table = history.query_one("#runs", DataTable)
        marks = lambda: [str(table.get_row_at(i)[0]) for i in range(table.row_count)]  # noqa: E731
        assert marks() == ["[ ]", "[ ]"]
        await pilot.press("space", "j", "space")
        assert marks() == ["[x]", "[x]"]
        await pilot.press("c")  # the cursor plays no part: both marked runs are compared
        compare = app.screen
        assert isinstance(compare, CompareScreen)
        assert compare.left.run_id < compare.right.run_id
        assert {compare.left.run_id, compare.right.run_id} == set(history.records)
        await pilot.press("escape", "space")
        assert marks() == ["[x]", "[ ]"]
        await pilot.press("c")  # one mark: compared with the run under the cursor
        assert isinstance(app.screen, CompareScreen)
        await pilot.press("escape", "k", "c")
        assert app.screen is history  # one mark and the cursor on it: nothing to compare


async def test_q_quits_at_once_without_a_live_position(tmp_path: Path) -> None:
    app = demo_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("l", "escape")
        assert app.is_running
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


async def test_q_asks_before_quitting_while_a_live_loop_holds_a_position(
    tmp_path: Path,
    held: Callable[[int, int], HeldClock],  # noqa: F811
) -> None:
    held(START_MS, 20)
    app = desk(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await start_bracket(pilot)
        await pilot.press("q")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, ConfirmModal)
        assert "bracket" in str(modal.query_one("#confirm-quit-detail").render())
        await pilot.press("n")
        assert app.is_running and not isinstance(app.screen, ConfirmModal)
        await pilot.press("q", "y")
        await pilot.pause()
        assert not app.is_running


async def test_L_opens_the_log_full_screen_with_the_newest_line(tmp_path: Path) -> None:
    app = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for n in range(60):
            app.desk.log_line(f"line {n} of a long session")
        await pilot.press("L")
        await settle(pilot)
        assert isinstance(app.screen, LogScreen)
        log = app.screen.query_one("#log-full", RichLog)
        visible = [strip.text for strip in log.render_lines(log.region.reset_offset)]
        assert any("line 59 of a long session" in line for line in visible)
        await pilot.press("g")
        await settle(pilot)
        visible = [strip.text for strip in log.render_lines(log.region.reset_offset)]
        assert not any("line 59 " in line for line in visible)
        await pilot.press("escape")
        assert app.screen is app.desk


async def test_toasts_do_not_cover_the_log_pane(tmp_path: Path) -> None:
    app = demo_app(tmp_path)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot)
        for n in range(3):
            app.notify("a long error message that wraps " * 4, title=f"Error {n}", timeout=30)
        await pilot.pause(0.5)
        toasts = [toast.region for toast in app.screen.query(Toast)]
        log = app.desk.query_one(EventLog).region
        assert len(toasts) == 3
        assert all(not toast.overlaps(log) for toast in toasts)
        footer = footer_of(app).region
        assert all(not toast.overlaps(footer) for toast in toasts)


async def test_the_desks_own_frames_stay_out_of_the_registry_and_the_walker(
    tmp_path: Path,
) -> None:
    engine.add_frame(
        frame_name="desk-2024-12-01-2024-12-02",
        interval="1m",
        start_date=datetime(2024, 12, 1, tzinfo=UTC),
        end_date=datetime(2024, 12, 2, tzinfo=UTC),
    )
    engine.add_frame(
        frame_name="my-december",
        interval="1m",
        start_date=datetime(2024, 12, 1, tzinfo=UTC),
        end_date=datetime(2024, 12, 2, tzinfo=UTC),
    )
    app = demo_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        tree = app.desk.query_one(RegistryTree)
        leaves = {
            leaf.data.entry.name for s in tree.root.children for leaf in s.children if leaf.data
        }
        assert "my-december" in leaves
        assert not any(name.startswith("desk-") for name in leaves)
        await pilot.press("w")
        await settle(pilot)
        walker = app.screen
        assert isinstance(walker, WalkerScreen)
        assert "my-december" in walker.frames and "desk-2024-12-01-2024-12-02" not in walker.frames


async def test_walker_picks_read_x_or_blank(tmp_path: Path) -> None:
    app = demo_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("w")
        await settle(pilot)
        symbols = app.screen.query_one("#walker-symbols", PickList)
        symbols.focus()
        await pilot.press("j", "space")  # pick the second symbol too
        await settle(pilot)
        lines = [s.text for s in symbols.render_lines(symbols.region.reset_offset)][1:4]
        picked = [str(symbols.get_option_at_index(i).value) in symbols.selected for i in range(3)]
        assert picked == [True, True, False]
        assert [line.strip("│ ")[:3] for line in lines] == ["[x]", "[x]", "[ ]"]


def test_counts_name_their_noun_in_the_right_number() -> None:
    assert format_noun(1, "symbol") == "1 symbol"
    assert format_noun(0, "symbol") == "0 symbols"
    assert format_noun(1200, "symbol") == "1,200 symbols"
    assert format_noun(1, "strategy", "strategies") == "1 strategy"
    assert format_noun(2, "strategy", "strategies") == "2 strategies"


async def test_the_live_alerts_show_their_newest_lines_at_80x24(tmp_path: Path) -> None:
    app = demo_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        live = app.screen
        assert isinstance(live, LiveScreen)
        for n in range(12):
            live._alert(f"alert number {n}")
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        alerts = live.query_one("#live-alerts", RichLog)
        lines = [s.text for s in alerts.render_lines(alerts.region.reset_offset)]
        assert "alert number 11" in lines[-2]  # the last line inside the border


async def test_a_new_run_resets_the_chart_to_the_overview(tmp_path: Path, gate: Gate) -> None:
    app = demo_app(tmp_path)
    app.state.last_request = RunRequest(
        strategy_name="bracket", symbol="BTCUSDT", exchange_name="demo", frame_name="demo-7d"
    )
    seen = Recorder()
    async with app.run_test(size=(120, 40), message_hook=seen) as pilot:
        await settle(pilot)
        await pilot.press("b", "enter")
        await until(lambda: any(isinstance(m, RunFinished) for m in seen), 60)
        await settle(pilot)
        table = app.desk.query_one(SignalsTable)
        chart = app.desk.query_one(PriceChart)
        table.focus()
        await pilot.press("j")
        await settle(pilot)
        assert chart.scene is not None and chart.scene.focus is not None  # zoomed on a signal

        app.state.last_request = RunRequest(
            strategy_name=gate.name, symbol="BTCUSDT", exchange_name="demo", frame_name="demo-7d"
        )
        await pilot.press("b")
        app.simulate_key("enter")
        await until(lambda: sum(isinstance(m, RunStarted) for m in seen) == 2)
        await until(lambda: chart.scene is not None and chart.scene.focus is None)
        assert chart.border_title == "Chart · BTCUSDT · demo · demo-7d"
        assert not table.has_focus  # streamed rows under its cursor would zoom it again
        gate.open()
        await until(lambda: app.desk.running is None)


async def test_r_after_a_cancel_says_the_report_is_the_last_finished_run(
    tmp_path: Path, gate: Gate
) -> None:
    app = demo_app(tmp_path)
    app.state.last_request = RunRequest(
        strategy_name=gate.name, symbol="BTCUSDT", exchange_name="demo", frame_name="demo-7d"
    )
    seen = Recorder()
    async with app.run_test(size=(120, 40), message_hook=seen) as pilot:
        await settle(pilot)
        await run_and_cancel(pilot, seen, gate)
        await pilot.press("r")
        assert app.screen is app.desk  # no finished run at all: nothing to open
        assert "The run was cancelled" in " ".join(n.message for n in app._notifications)


async def test_r_after_a_cancel_opens_the_last_finished_report_titled_so(
    desk_root: Path, gate: Gate
) -> None:
    app = demo_app(desk_root)
    seen = Recorder()
    async with app.run_test(size=(120, 40), message_hook=seen) as pilot:
        await settle(pilot)
        finished = app.desk.last_record
        assert finished is not None
        app.state.last_request = RunRequest(
            strategy_name=gate.name, symbol="BTCUSDT", exchange_name="demo", frame_name="demo-7d"
        )
        await run_and_cancel(pilot, seen, gate)
        await pilot.press("r")
        report = app.screen
        assert isinstance(report, ReportScreen)
        title = report.content.title
        assert finished.title in title and "the newest run was cancelled" in title


async def test_no_llm_server_reads_as_a_sentence_with_how_to_set_one_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("DESK_LLM_BASE_URL", url)
    app = demo_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("O")
        await settle(pilot)
        app.screen.set_focus(None)
        await pilot.press("ctrl+t")
        status = app.screen.query_one("#llm-status", Static)
        await until(lambda: "No LLM server" in str(status.render()))
        text = " ".join(str(status.render()).split())
        assert f"No LLM server answers at {url} (connection refused)." in text
        assert "ollama serve" in text and "DESK_LLM_BASE_URL" in text
        assert "urlopen" not in text and "Errno" not in text


README_NAMES = {
    "escape": "esc",
    "question_mark": "?",
    "slash": "/",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "plus": "+",
    "minus": "-",
    "less_than_sign": "<",
    "greater_than_sign": ">",
    "equals_sign": "=",
    "up": "↑",
    "down": "↓",
    "pageup": "pgup",
    "pagedown": "pgdn",
    "left": "←",
    "right": "→",
}


def test_the_readme_key_map_lists_every_key() -> None:
    readme = Path(__file__).parents[2] / "README.md"
    rows = [line for line in readme.read_text(encoding="utf-8").splitlines() if line[:3] == "| `"]

    def keys_of(table: list[str]) -> set[str]:
        keys = {key for row in table for key in re.findall(r"`([^`]+)`", row.split("|")[1])}
        return keys | ({str(n) for n in range(1, 7)} if {"1", "6"} <= keys else set())

    keys = {
        README_NAMES.get(binding.key, binding.key)
        for _, bindings in help_sections()
        for binding in Binding.make_bindings(bindings)
    }
    assert keys - keys_of(rows) == set()
    local = keys_of([row for row in rows if "*local*" in row])
    assert local == {README_NAMES.get(key, key) for key in SCREEN_LOCAL_KEYS}
