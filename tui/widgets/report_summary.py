"""The report's summary panel: a run's key figures, as many side by side as the width takes."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from tui.formatting import MISSING, format_count, format_percent, format_ratio
from tui.theming import desk_color

FIGURE_WIDTH = 28
"""Columns one label and its value take in the panel (with the gap to the next pair)."""


class Figure(NamedTuple):
    """One figure of the summary: its label, its text and whether its sign is coloured."""

    label: str
    value: str
    signed: bool = False


def format_money(value: float | None) -> str:
    """Return an amount in the quote currency as `10 234.56`; `—` when missing."""
    if value is None or not math.isfinite(value):
        return MISSING
    return f"{value:,.2f}".replace(",", " ")


def _win_rate(statistics: Mapping[str, float | None]) -> str:
    rate = format_percent(statistics.get("win_rate"), signed=False)
    wins, losses = statistics.get("win_count"), statistics.get("loss_count")
    if rate == MISSING or wins is None or losses is None:
        return rate
    return f"{rate} ({int(wins)}W/{int(losses)}L)"


MONEY_FIGURES = (
    ("final_equity", "Final equity", format_money, False),
    ("return_pct", "Return", format_percent, True),
    ("cagr", "CAGR", format_percent, True),
    ("max_drawdown_pct", "Max DD equity", lambda v: format_percent(v, signed=False), False),
    ("fees_paid", "Fees paid", format_money, False),
)
"""The account's figures in money, shown when the run's statistics have them."""


def run_figures(statistics: Mapping[str, float | None], error_count: int = 0) -> list[Figure]:
    """Return the summary of a run's statistics (backtest-kit's sums of trade %, then money).

    The money figures (`final_equity`, `return_pct`, `cagr`, `max_drawdown_pct`,
    `fees_paid`) appear only when present; the error count only when there were errors.
    """
    figures = [
        Figure("Closed trades", format_count(statistics.get("total_signals"))),
        Figure("Win rate", _win_rate(statistics)),
        Figure("PnL Σ trade %", format_percent(statistics.get("total_pnl")), signed=True),
        Figure("Sharpe", format_ratio(statistics.get("sharpe_ratio"))),
        Figure("Profit factor", format_ratio(statistics.get("profit_factor"))),
        Figure("Max DD Σ %", format_percent(statistics.get("max_drawdown"), signed=False)),
        Figure("Ambiguous", format_count(statistics.get("ambiguous_closes"))),
    ]
    if error_count:
        figures.append(Figure("Errors", format_count(error_count)))
    for name, label, show, signed in MONEY_FIGURES:
        if name in statistics:
            figures.append(Figure(label, show(statistics[name]), signed))
    return figures


MARKDOWN_FIGURES = (
    ("Closed signals", "Closed trades", False),
    ("Win rate", "Win rate", False),
    ("Total PNL", "PnL Σ trade %", True),
    ("Sharpe Ratio", "Sharpe", False),
    ("Profit Factor", "Profit factor", False),
    ("Max Drawdown", "Max DD Σ %", False),
    ("Ambiguous closes", "Ambiguous", False),
)
"""The key figures of a markdown report (its label, the summary's label, signed)."""


def plain_value(value: str) -> str:
    """Return a markdown figure without its comment (`1.2 (higher is better)` → `1.2`)."""
    return value.split(" (", 1)[0] if value.endswith(")") and "better" in value else value


def markdown_figures(figures: Sequence[tuple[str, str]]) -> list[Figure]:
    """Return the summary of a report read from markdown (its `**Label:** value` lines)."""
    values = dict(figures)
    return [
        Figure(label, plain_value(values[name]), signed)
        for name, label, signed in MARKDOWN_FIGURES
        if name in values
    ]


class ReportSummary(Static):
    """The key figures, in as many label/value pairs per line as the width takes.

    Args:
        figures: What to show, in order.
    """

    def __init__(self, figures: Sequence[Figure], *, id: str | None = None) -> None:
        super().__init__(id=id, classes="pane")
        self.figures = tuple(figures)
        self.border_title = "Summary"

    def render(self) -> Table:
        """Lay the figures out for the current width."""
        variables = self.app.theme_variables
        muted = desk_color(variables, "muted").hex
        per_line = max(1, self.content_size.width // FIGURE_WIDTH)
        table = Table.grid(expand=True, padding=(0, 1))
        for _ in range(per_line):
            table.add_column(no_wrap=True)
            table.add_column(justify="right", no_wrap=True)
        cells: list[Text] = []
        for figure in self.figures:
            style = ""
            if figure.signed and figure.value[:1] in ("+", "-"):
                sign = "pnl-up" if figure.value[0] == "+" else "pnl-down"
                style = desk_color(variables, sign).hex
            cells += [Text(figure.label, style=muted), Text(figure.value, style=style)]
        step = 2 * per_line
        for start in range(0, len(cells), step):
            line = cells[start : start + step]
            table.add_row(*line, *([Text("")] * (step - len(line))))
        return table
