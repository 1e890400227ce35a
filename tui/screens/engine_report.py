"""The engine's reports of one strategy on one symbol, native, one key each.

Opened from the walker's rankings: `1`–`5` show the backtest (summary and every closed
signal, in money on the desk's default balance), schedule, performance, partial and
heatmap reports of the pair's latest backtest, each as the desk's report view (summary,
then tables that fit the width), built from the engine's structured data
(`tui.walker_runs`). The heatmap is the strategy's in the walker run that ranked the pair
(the engine's `Heat` adds up every run of the session).
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import Label

import engine
from engine.analytics.heat import HeatmapStatistics
from tui.engine_bridge import statistics_of, with_money
from tui.runs import DEFAULT_BALANCE
from tui.screens.report import ReportScreen
from tui.walker_runs import (
    REPORT_KINDS,
    HeatRuns,
    backtest_data,
    closed_signals,
    partial_levels,
    scheduled_signals,
    timings,
)
from tui.widgets.key_footer import KeyFooter
from tui.widgets.report_data import TableData, trades_table
from tui.widgets.report_sections import (
    heatmap_table,
    partial_table,
    performance_table,
    schedule_table,
)
from tui.widgets.report_summary import MONEY_FIGURES, run_figures
from tui.widgets.report_view import ReportContent, ReportView

BACKTEST_FIGURES = (
    *MONEY_FIGURES,
    "total_signals",
    "win_rate",
    "win_count",
    "loss_count",
    "total_pnl",
    "sharpe_ratio",
    "profit_factor",
    "max_drawdown",
    "ambiguous_closes",
)
"""The figures the backtest report's summary shows: the account's, then the engine's."""


def _section(title: str, table: TableData) -> ReportContent:
    return ReportContent(title, (), None, (table,))


def engine_report_content(
    kind: str, symbol: str, strategy_name: str, heat: HeatmapStatistics | None = None
) -> ReportContent:
    """Return one of the engine's reports of a strategy on a symbol, for the report view.

    Args:
        kind: One of `REPORT_KINDS`.
        symbol: The symbol the strategy ran on.
        strategy_name: The strategy.
        heat: The heatmap to show (None: the engine's, `Heat.get_data`).

    Raises:
        ValueError: `kind` is not one of `REPORT_KINDS` (the message lists them).
    """
    labels = dict(REPORT_KINDS)
    if kind not in labels:
        known = ", ".join(labels)
        raise ValueError(f"report kind {kind!r} is unknown; use one of {known}")
    title = f"{labels[kind]} · {strategy_name} · {symbol}"
    if kind == "backtest":
        stats = backtest_data(symbol, strategy_name)
        account = engine.Backtest.get_account(symbol, strategy_name, balance=DEFAULT_BALANCE)
        summary = tuple(run_figures(statistics_of(stats, BACKTEST_FIGURES, account)))
        trades = trades_table(with_money(closed_signals(stats), account))
        return ReportContent(title, summary, trades, ())
    if kind == "schedule":
        return _section(title, schedule_table(scheduled_signals(symbol, strategy_name)))
    if kind == "performance":
        return _section(title, performance_table(timings(symbol, strategy_name)))
    if kind == "partial":
        return _section(title, partial_table(partial_levels(symbol, strategy_name)))
    if heat is None:
        heat = engine.Heat.get_data(strategy_name)
    return _section(title, heatmap_table(heat))


class EngineReportScreen(ReportScreen):
    """Backtest, schedule, performance, partial and heatmap reports; `1`–`5` switch between them.

    Args:
        symbol: The symbol the strategy ran on.
        strategy_name: The strategy.
        kind: The report shown first (`backtest`, `schedule`, `performance`, `partial`, `heat`).
        heat_runs: The session's walker runs: the heatmap is the strategy's in the newest run
            that ranked the pair (none did: the engine's, of every run of the session).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(
                str(n),
                f"show_kind('{kind}')",
                label,
                tooltip=f"Show the {label.lower()} report",
                id=f"engine-report-{kind}",
            )
            for n, (kind, label) in enumerate(REPORT_KINDS, start=1)
        ),
        # Each report is one table and has no file: the footer shows the five reports' keys.
        Binding("p", "copy_path", "Copy path", show=False, id="engine-report-copy-path"),
        Binding("]", "next_section", "Next section", show=False, id="engine-report-next"),
    ]

    def __init__(
        self,
        symbol: str,
        strategy_name: str,
        kind: str = "backtest",
        *,
        heat_runs: HeatRuns,
    ) -> None:
        self.symbol = symbol
        self.strategy_name = strategy_name
        self.kind = kind
        self.heat_runs = heat_runs
        super().__init__(self._content())

    def _content(self) -> ReportContent:
        run = self.heat_runs.latest(self.strategy_name, self.symbol)
        heat = run.statistics(self.strategy_name) if run is not None else None
        return engine_report_content(self.kind, self.symbol, self.strategy_name, heat)

    async def action_show_kind(self, kind: str) -> None:
        """Show another of the engine's reports of the same strategy and symbol."""
        self.kind = kind
        self.content = self._content()
        self.query_one(".screen-title", Label).update(self.title_text())
        await self.query_one(ReportView).remove()
        view = ReportView(self.content, id="report-view")
        await self.mount(view, before=self.query_one(KeyFooter))
        view.focus_trades()
