"""The statistics panel: the account in money first, then backtest-kit's per-trade figures."""

from __future__ import annotations

from collections.abc import Mapping

from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.theme import Theme
from textual.widgets import Static

from tui.formatting import (
    ACCOUNT_STATISTICS,
    MISSING,
    STATISTICS,
    SUM_OF_TRADES,
    StatKind,
    format_money,
    format_percent,
    format_stat,
)
from tui.theming import desk_color

SUM_MARK = "Σ%"
"""Marks, in the narrow panel, the figures that add trade percentages (see `SUM_OF_TRADES`)."""

_PAIRED = {"best_trade_money": "best_trade_percent", "worst_trade_money": "worst_trade_percent"}
"""Money figures shown with their percent on one row (`+51.69 (+0.60 %)`)."""

_SIGNED = (StatKind.SIGNED_PERCENT, StatKind.SIGNED_MONEY)


class StatsPanel(Static):
    """Label/value rows of a run's statistics; empty values show `—`.

    Two sections: the account (money, compounding from the starting balance), then
    backtest-kit's figures, whose sums of trade percentages are marked `Σ%`. The panel
    scrolls when it is shorter than its rows (focus it and use the arrows).
    """

    can_focus = True

    statistics: reactive[Mapping[str, float | None]] = reactive(dict, always_update=True)

    def on_mount(self) -> None:
        """Follow theme changes."""
        self.app.theme_changed_signal.subscribe(self, self._restyle)

    def _restyle(self, _theme: Theme) -> None:
        self.mutate_reactive(StatsPanel.statistics)

    def watch_statistics(self, statistics: Mapping[str, float | None]) -> None:
        """Redraw the table."""
        variables = self.app.theme_variables
        muted = desk_color(variables, "muted").hex
        table = Table.grid(expand=True, padding=(0, 1))
        table.add_column("label", ratio=1, no_wrap=True)
        table.add_column("value", justify="right", no_wrap=True)

        def styled(kind: StatKind, value: float | None, text: str) -> Text:
            style = ""
            if kind in _SIGNED and value:
                style = desk_color(variables, "pnl-up" if value > 0 else "pnl-down").hex
            return Text(text, style=style)

        def heading(text: str) -> None:
            table.add_row(Text(text, style=f"bold {muted}"), Text(""))

        balance = statistics.get("balance")
        heading(f"Account · from {format_money(balance)}" if balance else "Account")
        paired = set(_PAIRED.values())
        for name, label, kind, _ in ACCOUNT_STATISTICS:
            if name in paired:
                continue
            value = statistics.get(name)
            text = format_stat(kind, value)
            if name in _PAIRED and text != MISSING:
                text = f"{text} ({format_percent(statistics.get(_PAIRED[name]))})"
            table.add_row(Text(label, style=muted), styled(kind, value, text))
        heading("backtest-kit · per trade %")
        account = {name for name, *_ in ACCOUNT_STATISTICS} | {"balance"}
        for name, label, kind, _ in STATISTICS:
            if name in account:
                continue
            value = statistics.get(name)
            short = label.replace(SUM_OF_TRADES, SUM_MARK)
            table.add_row(Text(short, style=muted), styled(kind, value, format_stat(kind, value)))
        table.add_row(Text(f"{SUM_MARK} = sums of trade %", style=muted))
        self.update(table)
