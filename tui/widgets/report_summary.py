"""The report's summary panel: a run's key figures, as many side by side as the width takes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from tui.formatting import (
    ACCOUNT_STATISTICS,
    MISSING,
    StatKind,
    format_count,
    format_percent,
    format_ratio,
    format_stat,
)
from tui.theming import desk_color

PAIR_GAP = 3
"""Columns of the gap between one label/value pair and the next (after the value's padding)."""


class Figure(NamedTuple):
    """One figure of the summary: its label, its text and whether its sign is coloured."""

    label: str
    value: str
    signed: bool = False


def _win_rate(statistics: Mapping[str, float | None]) -> str:
    rate = format_percent(statistics.get("win_rate"), signed=False)
    wins, losses = statistics.get("win_count"), statistics.get("loss_count")
    if rate == MISSING or wins is None or losses is None:
        return rate
    return f"{rate} ({int(wins)}W/{int(losses)}L)"


MONEY_FIGURES = (
    "final_equity",
    "return_percent",
    "cagr_percent",
    "max_drawdown_percent",
    "fees_paid",
    "expectancy",
)
"""The account's figures in money (`tui.formatting.ACCOUNT_STATISTICS`) the summary leads with."""


def run_figures(statistics: Mapping[str, float | None], error_count: int = 0) -> list[Figure]:
    """Return the summary of a run: its account in money first, then backtest-kit's figures.

    The money figures appear only when the run has them (runs stored before the account
    model have none); the error count only when there were errors.
    """
    figures = []
    for name, label, kind, _ in ACCOUNT_STATISTICS:
        if name in MONEY_FIGURES and name in statistics:
            signed = kind in (StatKind.SIGNED_PERCENT, StatKind.SIGNED_MONEY)
            figures.append(Figure(label, format_stat(kind, statistics[name]), signed))
    figures += [
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


COMMENTS = (
    " (higher is better)",
    " (lower is better)",
    " (take profit and stop loss in one candle)",
)
"""The explanations a markdown report puts after a figure, left out of the summary."""


def plain_value(value: str) -> str:
    """Return a markdown figure without its comment (`1.2 (higher is better)` → `1.2`)."""
    for comment in COMMENTS:
        value = value.removesuffix(comment)
    return value


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
        figures: What to show, in order (none: the panel is hidden).
    """

    def __init__(self, figures: Sequence[Figure], *, id: str | None = None) -> None:
        super().__init__(id=id, classes="pane")
        self.figures = tuple(figures)
        self.border_title = "Summary"
        self.display = bool(self.figures)

    def show(self, figures: Sequence[Figure], title: str) -> None:
        """Show other figures under another border title (none: hide the panel)."""
        self.figures = tuple(figures)
        self.border_title = title
        self.display = bool(self.figures)
        self.refresh(layout=True)

    def render(self) -> Table:
        """Lay the figures out, as many label/value pairs per line as the width takes."""
        variables = self.app.theme_variables
        muted = desk_color(variables, "muted").hex
        label_width = max((len(f.label) for f in self.figures), default=0)
        value_width = max((len(f.value) for f in self.figures), default=0)
        pair_width = label_width + 1 + value_width
        # A pair but the last takes its value's padding, the gap column and the gap's padding.
        step = pair_width + 1 + PAIR_GAP
        per_line = max(1, (self.content_size.width + step - pair_width) // step)
        table = Table.grid(padding=(0, 1, 0, 0))
        for column in range(per_line):
            if column:
                table.add_column(width=PAIR_GAP - 1)  # the gap between pairs
            table.add_column(no_wrap=True, width=label_width)
            table.add_column(justify="right", no_wrap=True, width=value_width)
        lines: list[list[Text | str]] = [[]]
        for figure in self.figures:
            if len(lines[-1]) == 3 * per_line - 1:
                lines.append([])
            style = ""
            if figure.signed and figure.value[:1] in ("+", "-"):
                sign = "pnl-up" if figure.value[0] == "+" else "pnl-down"
                style = desk_color(variables, sign).hex
            gap: list[Text | str] = [""] if lines[-1] else []
            lines[-1] += [*gap, Text(figure.label, style=muted), Text(figure.value, style=style)]
        for line in lines:
            table.add_row(*line)
        return table
