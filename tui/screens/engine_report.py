"""The engine's reports of one strategy on one symbol, in the report viewer, one key each."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import Label, Markdown

from tui.screens.report import MarkdownReportScreen, displayable
from tui.walker_runs import REPORT_KINDS, engine_report


class EngineReportScreen(MarkdownReportScreen):
    """Backtest, schedule, performance, partial and heatmap reports; `1`–`5` switch between them.

    Args:
        symbol: The symbol the strategy ran on.
        strategy_name: The strategy.
        kind: The report shown first (`backtest`, `schedule`, `performance`, `partial`, `heat`).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        *MarkdownReportScreen.BINDINGS,
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
    ]

    def __init__(self, symbol: str, strategy_name: str, kind: str = "backtest") -> None:
        self.symbol = symbol
        self.strategy_name = strategy_name
        self.kind = kind
        super().__init__(self._title(), engine_report(kind, symbol, strategy_name))

    def _title(self) -> str:
        label = dict(REPORT_KINDS)[self.kind]
        return f"{label} · {self.strategy_name} · {self.symbol}"

    async def action_show_kind(self, kind: str) -> None:
        """Show another of the engine's reports of the same strategy and symbol."""
        self.kind = kind
        self.report_title = self._title()
        self.markdown = engine_report(kind, self.symbol, self.strategy_name)
        self.query_one(".screen-title", Label).update(f"Report · {self.report_title}")
        await self.query_one(Markdown).update(displayable(self.markdown, None))
        self.query_one("#report-scroll").scroll_home(animate=False)
