"""The walker's engine reports, native: keys 1–5 show the real engine's data as tables.

The walker runs its backtests in the desk's own process, so the test hears the same
backtests through the engine's listener and takes the expected rows from there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Label, Markdown, Tabs

import engine
from tui.formatting import MISSING
from tui.screens.engine_report import EngineReportScreen
from tui.screens.walker import WalkerScreen
from tui.screenshots import demo_app, settle
from tui.widgets.report_table import ReportTable

from .test_report_screen import SIZES, active_pane_widgets, column, visible_text


@pytest.mark.parametrize("size", SIZES, ids=["120x40", "80x24"])
async def test_keys_1_to_5_show_the_engine_reports_of_a_ranked_pair_as_tables(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    heard: dict[str, set[str]] = {}

    def on_signal(result: Any) -> None:
        if result.strategy_name == "limit" and result.signal is not None:
            heard.setdefault(str(result.action), set()).add(result.signal.id)

    app = demo_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("w")
        assert isinstance(app.screen, WalkerScreen)
        stop = engine.listen_signal_backtest(on_signal)
        try:
            await pilot.press("w")  # every built-in strategy on BTCUSDT over demo-7d
            await settle(pilot)
        finally:
            stop()
        assert heard["scheduled"] and heard["cancelled"] and heard["closed"]
        await pilot.press("j", "enter")  # the second of sma_rsi, limit, bracket
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, EngineReportScreen) and screen.strategy_name == "limit"
        assert not screen.query(Markdown)  # native tables only, never a squeezed document
        assert not screen.query_one(Tabs).display  # one table: no tab strip takes rows

        trades = screen.query_one("#report-trades-table", ReportTable)
        assert trades.has_focus and trades.row_count == len(heard["closed"])
        assert "…" not in visible_text(trades)
        assert MISSING not in column(trades, "PnL")  # in money, as a desk run's report

        await pilot.press("2")
        await settle(pilot)
        [schedule], _ = active_pane_widgets(pilot)
        assert schedule.has_focus
        assert schedule.row_count == len(heard["scheduled"])
        assert column(schedule, "Outcome").count("cancelled") == len(heard["cancelled"])
        assert column(schedule, "Outcome").count("activated") == len(heard["closed"])
        assert "…" not in visible_text(schedule)
        title = str(screen.query_one(".screen-title", Label).render())
        assert "Schedule · limit · BTCUSDT" in title

        await pilot.press("3")
        await settle(pilot)
        [timings], _ = active_pane_widgets(pilot)
        assert "backtest_total" in column(timings, "Metric")

        await pilot.press("4")
        await settle(pilot)
        tables, labels = active_pane_widgets(pilot)
        assert not tables and "No partial levels" in str(labels[0].render())

        await pilot.press("5")
        await settle(pilot)
        [heat], _ = active_pane_widgets(pilot)
        assert column(heat, "Symbol") == ["BTCUSDT"]
        assert column(heat, "Trades") == [str(len(heard["closed"]))]

        await pilot.press("1")
        await settle(pilot)
        again = screen.query_one("#report-trades-table", ReportTable)
        assert again.row_count == len(heard["closed"])
