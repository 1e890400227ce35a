"""Partial profit/loss alerts, newest first."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Label

from tui.alerts import AlertBook, PartialAlert
from tui.formatting import format_price, format_timestamp
from tui.theming import desk_color
from tui.widgets.key_footer import KeyFooter
from tui.widgets.vim_table import VimTable

COLUMNS = (
    ("time", "Time"),
    ("kind", "Kind"),
    ("level", "Level"),
    ("strategy", "Strategy"),
    ("symbol", "Symbol"),
    ("signal", "Signal"),
    ("price", "Price"),
    ("mode", "Mode"),
)


class AlertsScreen(Screen[None]):
    """Every partial alert the desk kept, newest first.

    Args:
        book: The desk's alerts.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="alerts-back"),
    ]

    def __init__(self, book: AlertBook) -> None:
        super().__init__(id="alerts")
        self.book = book

    def compose(self) -> ComposeResult:
        """Title, alerts table, footer."""
        yield Label(
            "Alerts · partial profit and loss levels reached by open signals",
            classes="screen-title",
        )
        table = VimTable(id="alerts-table", cursor_type="row", zebra_stripes=True, classes="pane")
        yield table
        yield KeyFooter()

    def on_mount(self) -> None:
        """Fill the table."""
        table = self.query_one(VimTable)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        self.fill()
        table.focus()

    def on_screen_resume(self) -> None:
        """Show alerts that came while the screen was hidden."""
        self.fill()

    def fill(self) -> None:
        """Redraw the table from the book."""
        table = self.query_one(VimTable)
        table.clear()
        for alert in reversed(list(self.book)):
            table.add_row(*self._cells(alert))
        kept = len(self.book)
        more = f" · {self.book.total - kept} older not kept" if self.book.total > kept else ""
        table.border_title = f"Alerts ({kept}){more}"

    def _cells(self, alert: PartialAlert) -> tuple[Text | str, ...]:
        variable = "pnl-up" if alert.kind == "profit" else "pnl-down"
        colour = desk_color(self.app.theme_variables, variable).hex
        return (
            format_timestamp(alert.timestamp),
            Text(alert.kind, style=colour),
            Text(f"{alert.level} %", style=colour, justify="right"),
            alert.strategy_name,
            alert.symbol,
            alert.signal_id[:8],
            Text(format_price(alert.price), justify="right"),
            "backtest" if alert.backtest else "live",
        )
