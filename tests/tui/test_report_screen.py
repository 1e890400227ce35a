"""The native report screen: summary, every trade in a table that fits, one file per run.

The sections besides the trades (schedule, partial levels, timings) come from the run's
data; their expected contents come from the same backtest run again in the test's own
process and heard through the engine's listeners.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Label, TabbedContent

import engine
from engine.core.loader import load_module
from tui.formatting import format_timestamp
from tui.runs import PartialLevel, RunRequest, RunSections, ScheduledSignal, TimingRow
from tui.screens.history import HistoryScreen
from tui.screens.report import ReportScreen
from tui.screens.reports import ReportsScreen
from tui.screens.run_detail import RunScreen
from tui.screenshots import Scene, demo_app, play, settle
from tui.state import DeskState, write_run_file
from tui.widgets.report_data import TRADE_COLUMNS, Column, TableData, parse_markdown, short_time
from tui.widgets.report_summary import ReportSummary
from tui.widgets.report_table import ReportTable, choose_layout
from tui.widgets.report_view import ReportContent

from .test_state_and_themes import CLOCK, record

SIZES = [(120, 40), (80, 24)]


def visible_text(widget: ReportSummary | ReportTable) -> str:
    return "\n".join(strip.text for strip in widget.render_lines(widget.region.reset_offset))


class Heard:
    """What the engine's listeners heard of one backtest run in the test's own process."""

    def __init__(self) -> None:
        self.signals: dict[str, list[Any]] = {}
        self.partials: list[tuple[str, int, int]] = []
        """(kind, level, timestamp) of each partial level, in the order they were reached."""

    def scheduled(self) -> list[Any]:
        return self.signals.get("scheduled", [])

    def cancelled(self) -> list[Any]:
        return self.signals.get("cancelled", [])


def hear_backtest(request: RunRequest) -> Heard:
    """Run the request's backtest here and keep every signal and partial event of it."""
    heard = Heard()

    def on_signal(result: Any) -> None:
        heard.signals.setdefault(str(result.action), []).append(result)

    def on_partial(kind: str) -> Any:
        return lambda e: heard.partials.append((kind, e.level, e.timestamp))

    stops = [
        engine.listen_signal_backtest(on_signal),
        engine.listen_partial_profit(on_partial("profit")),
        engine.listen_partial_loss(on_partial("loss")),
    ]
    try:
        for _ in engine.Backtest.run(
            request.symbol,
            strategy_name=request.strategy_name,
            exchange_name=request.exchange_name,
            frame_name=str(request.frame_name),
        ):
            pass
    finally:
        for stop in stops:
            stop()
    return heard


def active_pane_widgets(pilot: Pilot[None]) -> tuple[list[ReportTable], list[Label]]:
    tabs = pilot.app.screen.query_one(TabbedContent)
    pane = tabs.get_pane(tabs.active)
    return list(pane.query(ReportTable)), list(pane.query(Label))


def column(table: ReportTable, label: str) -> list[str]:
    index = next(i for i, c in enumerate(table.data.columns) if c.label == label)
    return [row[index] for row in table.data.rows]


@pytest.mark.parametrize("size", SIZES, ids=["120x40", "80x24"])
async def test_r_shows_the_summary_and_every_closed_trade_whole(
    desk_root: Path, size: tuple[int, int]
) -> None:
    app = demo_app(desk_root)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        record = app.desk.last_record
        assert record is not None and len(record.signals) > 40
        await pilot.press("r")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ReportScreen)
        summary = visible_text(screen.query_one(ReportSummary))
        closed = int(record.statistics["total_signals"] or 0)
        assert "Closed trades" in summary and str(closed) in summary
        assert "Win rate" in summary and "Sharpe" in summary and "Profit factor" in summary
        table = screen.query_one("#report-trades-table", ReportTable)
        assert table.row_count == len(record.signals) == closed
        assert table.has_focus
        # every cell shown is whole: no column is squeezed to an ellipsis
        assert "…" not in visible_text(table)
        kept = table.fit.columns if table.fit else ()
        assert TRADE_COLUMNS.index(next(c for c in TRADE_COLUMNS if c.label == "PnL %")) in kept
        last = record.signals[-1]
        assert f"{last.pnl_percentage:+.2f}" in table.shown_row(table.row_count - 1)
        await pilot.press("G")
        await settle(pilot)
        assert table.cursor_row == closed - 1
        assert (
            f"{last.pnl_percentage:+.2f}" in visible_text(table).splitlines()[-2]
        )  # above the border
        assert str(record.report_path) in str(screen.query_one(".screen-title").render())


@pytest.mark.parametrize("size", SIZES, ids=["120x40", "80x24"])
async def test_the_report_of_a_limit_run_lists_every_scheduled_signal(
    desk_root: Path, size: tuple[int, int]
) -> None:
    app = demo_app(desk_root)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        record = app.desk.last_record
        assert record is not None and record.request.strategy_name == "limit"
        heard = hear_backtest(record.request)
        scheduled, cancelled = heard.scheduled(), heard.cancelled()
        assert len(scheduled) > 40 and cancelled
        await pilot.press("r", "]")
        await settle(pilot)
        [table], _ = active_pane_widgets(pilot)
        assert table.has_focus
        assert table.data.title == f"Schedule ({len(scheduled)})"
        assert table.row_count == len(scheduled)
        assert column(table, "Outcome").count("cancelled") == len(cancelled)
        summary = visible_text(app.screen.query_one(ReportSummary))
        assert "Summary · Schedule" in summary
        assert f"Scheduled {len(scheduled)}" in " ".join(summary.split())
        assert f"Cancelled {len(cancelled)}" in " ".join(summary.split())
        # what a user reads: whole cells, the first signal's time in the first row
        lines = visible_text(table).splitlines()
        assert "…" not in "\n".join(lines)
        first_cells = [line.strip("│ ").split("  ")[0] for line in lines[2:-1] if line.strip("│ ")]
        assert first_cells and not any(cell.endswith("…") for cell in first_cells)
        first_time = short_time(format_timestamp(scheduled[0].signal.scheduled_at))
        assert first_time in lines[2]
        assert table.scrollable_content_region.height - 1 >= 10  # ten rows on screen, or more

        await pilot.press("]")  # partial: the limit run reached no level
        await settle(pilot)
        tables, labels = active_pane_widgets(pilot)
        assert not heard.partials and not tables
        assert "No partial levels in this run" in str(labels[0].render())

        await pilot.press("]")  # performance: the run, each signal and each visited frame
        await settle(pilot)
        [timings], _ = active_pane_widgets(pilot)
        counts = dict(zip(column(timings, "Metric"), column(timings, "Count"), strict=True))
        assert set(counts) == {"backtest_total", "backtest_signal", "backtest_timeframe"}
        assert counts["backtest_total"] == "1"
        assert counts["backtest_signal"] == str(len(scheduled)), "one per scheduled signal"
        assert "backtest_total" in visible_text(timings)
        summary = visible_text(app.screen.query_one(ReportSummary))
        assert "Measured time" in summary and "…" not in summary  # every figure whole


async def test_a_run_without_scheduled_signals_says_so(desk_root: Path) -> None:
    app = demo_app(desk_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        bracket = app.state.run(1)  # the prepared history's first run: bracket opens at once
        assert bracket is not None and bracket.request.strategy_name == "bracket"
        assert not hear_backtest(bracket.request).scheduled()
        await app.push_screen(ReportScreen(ReportContent.from_record(bracket)))
        await pilot.press("]")
        await settle(pilot)
        tables, [label] = active_pane_widgets(pilot)
        assert not tables
        assert str(label.render()).startswith("No scheduled signals in this run")
        summary = visible_text(app.screen.query_one(ReportSummary))
        assert "Closed trades" in summary  # the run's own figures stay: the tab has none


WIDE_MODULE = """
from engine import add_strategy
from engine.sim.api import get_average_price


def get_signal(symbol, when):
    price = get_average_price(symbol)
    up = when.hour % 2 == 1
    return {
        "position": "long" if up else "short",
        "price_open": price,
        "price_take_profit": price * (1.25 if up else 0.75),
        "price_stop_loss": price * (0.85 if up else 1.15),
        "minute_estimated_time": 1440,
    }


add_strategy(strategy_name=NAME, interval="1h", get_signal=get_signal, note="wide bracket")
"""
"""A strategy whose signals live a day with a wide bracket: some move 10 % and more."""


@pytest.fixture
def wide_strategy(tmp_path: Path) -> Iterator[str]:
    """The wide strategy in a module file (the desk's run process imports it too)."""
    name = f"wide_{tmp_path.name.replace('-', '_')}"
    module = tmp_path / "wide_strategies.py"
    module.write_text(f"NAME = {name!r}\n{WIDE_MODULE}", encoding="utf-8")
    load_module(module)
    yield name


async def test_the_partial_tab_lists_every_level_the_runs_signals_reached(
    tmp_path: Path, wide_strategy: str
) -> None:
    request = RunRequest(
        strategy_name=wide_strategy,
        symbol="SOLUSDT",
        exchange_name="demo",
        frame_name="demo-90d",
    )
    app = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        heard = hear_backtest(request)
        assert len(heard.partials) >= 5 and {kind for kind, _, _ in heard.partials} == {
            "profit",
            "loss",
        }
        app.state.last_request = request
        await pilot.press("b", "enter")
        await settle(pilot)
        record = app.desk.last_record
        assert record is not None and record.request.strategy_name == wide_strategy
        assert record.sections is not None
        assert app.state.run(record.run_id) == record  # the sections come back from the file
        await pilot.press("r", "]", "]")
        await settle(pilot)
        [table], _ = active_pane_widgets(pilot)
        assert table.data.title == f"Partial ({len(heard.partials)})"
        expected_levels = [
            f"{'+' if kind == 'profit' else '-'}{level} %" for kind, level, _ in heard.partials
        ]
        assert column(table, "Level") == expected_levels
        assert column(table, "Time") == [format_timestamp(at) for _, _, at in heard.partials]
        profits = sum(1 for kind, _, _ in heard.partials if kind == "profit")
        summary = " ".join(visible_text(app.screen.query_one(ReportSummary)).split())
        assert f"Levels reached {len(heard.partials)}" in summary
        assert f"Profit levels {profits}" in summary
        lines = visible_text(table).splitlines()
        assert "…" not in "\n".join(lines)
        assert expected_levels[0] in lines[2]


def test_a_run_stored_before_the_sections_loads_and_says_it_has_none(tmp_path: Path) -> None:
    state = DeskState(tmp_path / "state", CLOCK)
    path = state.new_run_file()
    write_run_file(path, record())
    detail = json.loads(path.read_text(encoding="utf-8"))
    del detail["sections"]  # a run file as the desk wrote it before the sections
    path.write_text(json.dumps(detail), encoding="utf-8")
    stored = state.index_run(record(), path)
    loaded = state.run(stored.run_id)
    assert loaded is not None and loaded.sections is None
    assert loaded.signals == record().signals
    schedule, partial, performance = ReportContent.from_record(loaded).sections[:3]
    for table in (schedule, partial, performance):
        assert table.rows == () and table.empty.startswith("Not recorded: this run was stored")


def test_a_runs_sections_are_stored_with_it(tmp_path: Path) -> None:
    sections = RunSections(
        scheduled=(
            ScheduledSignal("s1", "long", 60_000, 99.0, 100.0, 98.0, 99.5),
            ScheduledSignal("s2", "short", 120_000, 101.0, 100.0, 102.0, 100.5),
        ),
        partials=(PartialLevel(180_000, "loss", "s1", "long", 10, 89.0),),
        timings=(TimingRow("backtest_total", 1, 12.5, 12.5, 12.5, 12.5, 12.5),),
    )
    state = DeskState(tmp_path / "state", CLOCK)
    stored = state.add_run(record().model_copy(update={"sections": sections}))
    loaded = state.run(stored.run_id)
    assert loaded is not None and loaded.sections == sections


def test_columns_drop_by_priority_and_cells_shorten_before_they_go() -> None:
    rows = (("1", "2024-03-01 12:34", "LONG", "+1.25"),)
    columns = (
        Column("#", 9),
        Column("Open time", 2, "Open", short_time),
        Column("Side", 1),
        Column("PnL %", 0),
    )
    table = TableData("t", columns, rows)
    # full widths (cell + 2): # 3, Open time 18, Side 6, PnL % 7 = 34; short: Open 13 → 29
    assert choose_layout(table, 34).columns == (0, 1, 2, 3)
    assert not choose_layout(table, 34).compact
    assert choose_layout(table, 29).compact and choose_layout(table, 29).columns == (0, 1, 2, 3)
    assert choose_layout(table, 28).columns == (1, 2, 3)  # `#` goes first
    assert choose_layout(table, 7).columns == (3,)
    assert choose_layout(table, 2).columns == (3,)  # PnL stays however narrow


def test_markdown_sections_become_tables_and_figures() -> None:
    text = (
        "# Report: s\n\n## Schedule\n\n| A | B |\n| --- | --- |\n| 1 | 2 |\n| 3 | 4 |\n\n"
        "- **Win rate:** 50.00% (higher is better)\n"
    )
    parsed = parse_markdown(text)
    assert parsed.title == "Report: s"
    assert [(t.title, t.rows) for t in parsed.tables] == [("Schedule", (("1", "2"), ("3", "4")))]
    assert parsed.figures == (("Win rate", "50.00% (higher is better)"),)


async def test_two_runs_keep_two_report_files_each_with_its_own_trades(tmp_path: Path) -> None:
    app = demo_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for symbol in ("BTCUSDT", "ETHUSDT"):
            app.state.last_request = RunRequest(
                strategy_name="bracket", symbol=symbol, exchange_name="demo", frame_name="demo-7d"
            )
            await pilot.press("b", "enter")
            await settle(pilot)
        first, second = (tmp_path / "dump" / "backtest" / f"bracket-{n}.md" for n in (1, 2))
        assert first.is_file() and second.is_file()
        records = [app.state.run(n) for n in (1, 2)]
        assert [r.request.symbol for r in records if r] == ["BTCUSDT", "ETHUSDT"]
        for path, record in zip((first, second), records, strict=True):
            assert record is not None and record.report_path == str(
                Path("dump/backtest") / path.name
            )
            assert path.read_text(encoding="utf-8") == record.report
        assert first.read_text(encoding="utf-8") != second.read_text(encoding="utf-8")

        await pilot.press("r")  # the last run's report: the second run's trades
        await settle(pilot)
        table = app.screen.query_one("#report-trades-table", ReportTable)
        assert table.row_count == len(records[1].signals)  # type: ignore[union-attr]
        await pilot.press("escape", "R")
        await settle(pilot)
        reports = app.screen
        assert isinstance(reports, ReportsScreen)
        assert sorted(p.name for p in reports.paths) == ["bracket-1.md", "bracket-2.md"]

        await pilot.press("escape", "H")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)
        await pilot.press("j", "enter")  # the older run: the first
        await settle(pilot)
        assert isinstance(app.screen, RunScreen) and app.screen.record.run_id == 1
        await pilot.press("3")
        await settle(pilot)
        stored = app.screen.query_one("#report-trades-table", ReportTable)
        assert stored.row_count == len(records[0].signals)  # type: ignore[union-attr]
        assert stored.data.rows[0][3] == records[0].signals[0].position.upper()  # type: ignore[union-attr]


def test_a_report_file_never_replaces_another_runs_file(tmp_path: Path) -> None:
    """Two histories sharing one report folder both get run 1: the second file is `-2`."""
    folder = tmp_path / "dump" / "backtest"
    stored = []
    for name, report in (("a", "# first\n"), ("b", "# second\n")):
        state = DeskState(tmp_path / name, CLOCK)
        run = record().model_copy(update={"report": report})
        path = state.new_run_file()
        write_run_file(path, run)
        stored.append(state.index_run(run, path, report_dir=folder))
        assert state.run(1) == stored[-1]
    strategy = stored[0].request.strategy_name
    assert [r.report_path for r in stored] == [
        str(folder / f"{strategy}-1.md"),
        str(folder / f"{strategy}-1-2.md"),
    ]
    assert [Path(str(r.report_path)).read_text() for r in stored] == ["# first\n", "# second\n"]


SCENES = (
    Scene("report", ("r",)),
    Scene("stored-report", ("H", "j", "enter", "3")),
    Scene("report-schedule", ("r", "]")),
)
"""The report of the last run, of a stored run (history → run → report), the schedule tab."""


@pytest.mark.parametrize("theme", ["desk-dark", "desk-light"])
@pytest.mark.parametrize("size", SIZES, ids=["120x40", "80x24"])
@pytest.mark.parametrize("scene", SCENES, ids=lambda s: s.name)
def test_report_snapshot(
    snap_compare: Any, desk_root: Path, scene: Scene, size: tuple[int, int], theme: str
) -> None:
    app = demo_app(desk_root)

    async def reach(pilot: Pilot[None]) -> None:
        pilot.app.theme = theme
        await play(pilot, scene)

    assert snap_compare(app, terminal_size=size, run_before=reach)


FIXED_SECTIONS = RunSections(
    partials=(
        PartialLevel(1_735_084_800_000, "profit", "d063b9f8-c979", "long", 10, 51_300.25),
        PartialLevel(1_735_171_200_000, "profit", "d063b9f8-c979", "long", 20, 55_964.0),
        PartialLevel(1_735_257_600_000, "loss", "a7283851-84e9", "short", 10, 50_210.5),
    ),
    timings=(
        TimingRow("backtest_total", 1, 291.5, 291.5, 291.5, 291.5, 291.5),
        TimingRow("backtest_timeframe", 2016, 240.25, 0.12, 0.05, 3.5, 0.3),
        TimingRow("backtest_signal", 141, 35.75, 0.25, 0.1, 1.25, 0.75),
    ),
)
"""Sections with timings that do not change between runs (real timings do)."""


@pytest.mark.parametrize("size", SIZES, ids=["120x40", "80x24"])
@pytest.mark.parametrize("tab", [2, 3], ids=["partial", "performance"])
def test_report_section_snapshot(
    snap_compare: Any, desk_root: Path, tab: int, size: tuple[int, int]
) -> None:
    app = demo_app(desk_root)

    async def reach(pilot: Pilot[None]) -> None:
        await settle(pilot)
        stored = pilot.app.state.run(2)  # the limit run of the prepared history
        assert stored is not None
        run = stored.model_copy(update={"sections": FIXED_SECTIONS})
        await pilot.app.push_screen(ReportScreen(ReportContent.from_record(run), run.report_path))
        await pilot.press(*["]"] * tab)
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=reach)


async def test_the_summary_shows_every_figure_whole_at_80_columns(tmp_path: Path) -> None:
    run = record().model_copy(update={"sections": FIXED_SECTIONS})
    app = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await app.push_screen(ReportScreen(ReportContent.from_record(run)))
        await pilot.press("]", "]", "]")  # trades → schedule → partial → performance
        await settle(pilot)
        summary = visible_text(app.screen.query_one(ReportSummary))
        total = sum(t.total_ms for t in FIXED_SECTIONS.timings)
        assert f"Measured time {total:.2f} ms" in " ".join(summary.split())
        assert "…" not in summary
