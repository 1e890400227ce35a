"""The native report screen: summary, every trade in a table that fits, one file per run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tui.runs import RunRequest
from tui.screens.history import HistoryScreen
from tui.screens.report import ReportScreen
from tui.screens.reports import ReportsScreen
from tui.screens.run_detail import RunScreen
from tui.screenshots import Scene, demo_app, play, settle
from tui.state import DeskState, write_run_file
from tui.widgets.report_data import TRADE_COLUMNS, Column, TableData, parse_markdown, short_time
from tui.widgets.report_summary import ReportSummary
from tui.widgets.report_table import ReportTable, choose_layout

from .test_state_and_themes import CLOCK, record

SIZES = [(120, 40), (80, 24)]


def visible_text(widget: ReportSummary | ReportTable) -> str:
    return "\n".join(strip.text for strip in widget.render_lines(widget.region.reset_offset))


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


SCENES = (Scene("report", ("r",)), Scene("stored-report", ("H", "j", "enter", "3")))
"""The report of the last run, and of a stored run (history → run → report)."""


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
