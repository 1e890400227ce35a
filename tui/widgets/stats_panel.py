"""The statistics panel: the account in money first, then backtest-kit's per-trade figures."""

from __future__ import annotations

from collections.abc import Mapping

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
DEFAULT_WIDTH = 30
"""The width rows are laid out for before the panel has a size."""


class StatsPanel(Static):
    """Label/value rows of a run's statistics; empty values show `—`.

    Two sections: the account (money, compounding from the starting balance), then
    backtest-kit's figures, whose sums of trade percentages say `(sum of trade %)`, or `Σ%`
    where the panel is too narrow for it. The panel scrolls when it is shorter than its
    rows (focus it and use the arrows).
    """

    can_focus = True

    statistics: reactive[Mapping[str, float | None]] = reactive(dict, always_update=True)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.rows: list[tuple[str, str]] = []
        """The (label, value) rows drawn last, top to bottom (headings have no value)."""

    def on_mount(self) -> None:
        """Follow theme changes."""
        self.app.theme_changed_signal.subscribe(self, self._restyle)

    def _restyle(self, _theme: Theme) -> None:
        self.mutate_reactive(StatsPanel.statistics)

    def on_resize(self) -> None:
        """Lay the rows out again for the new width."""
        self.mutate_reactive(StatsPanel.statistics)

    def watch_statistics(self, statistics: Mapping[str, float | None]) -> None:
        """Redraw the rows: each label on the left, its value on the right of the same line."""
        variables = self.app.theme_variables
        muted = desk_color(variables, "muted").hex
        width = self.scrollable_content_region.width or DEFAULT_WIDTH
        lines: list[Text] = []
        self.rows = []

        def row(
            label: str, text: str = "", value: float | None = None, signed: bool = False
        ) -> None:
            style = ""
            if signed and value:
                style = desk_color(variables, "pnl-up" if value > 0 else "pnl-down").hex
            room = max(1, width - len(text) - 1)
            shown = label if len(label) <= room else label[: room - 1] + "…"
            line = Text(shown, style=muted if text else f"bold {muted}")
            line.append(" " * max(1, width - len(shown) - len(text)) if text else "")
            line.append(text, style=style)
            lines.append(line)
            self.rows.append((label, text))

        balance = statistics.get("balance")
        row(f"Account · from {format_money(balance)}" if balance else "Account")
        paired = set(_PAIRED.values())
        for name, label, kind, _ in ACCOUNT_STATISTICS:
            if name in paired:
                continue
            value = statistics.get(name)
            text = format_stat(kind, value)
            if name in _PAIRED and text != MISSING:
                text = f"{text} ({format_percent(statistics.get(_PAIRED[name]))})"
            row(label, text, value, kind in _SIGNED)
        row("backtest-kit · per trade %")
        account = {name for name, *_ in ACCOUNT_STATISTICS} | {"balance"}
        marked = False
        for name, label, kind, _ in STATISTICS:
            if name not in account:
                value = statistics.get(name)
                text = format_stat(kind, value)
                if len(label) + 1 + len(text) > width and SUM_OF_TRADES in label:
                    label, marked = label.replace(SUM_OF_TRADES, SUM_MARK), True
                row(label, text, value, kind in _SIGNED)
        if marked:
            row(f"{SUM_MARK} = sums of trade %")
        self.update(Text("\n").join(lines))
