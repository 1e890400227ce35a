"""The trade blotter: every closed trade of a run, sortable, filterable, each one openable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Input, Label

from tui.engine_bridge import EngineBridge
from tui.formatting import format_count
from tui.runs import SignalView
from tui.screens.trade import TradeScreen
from tui.widgets.key_footer import KeyFooter
from tui.widgets.trade_table import COLUMN_KEYS, COLUMNS, TradeTable

FILTER_HINT = "filter: long short · tp sl time · any text (a date, a price) · esc clears"


class BlotterScreen(Screen[None]):
    """Every closed trade of a run in a virtual table.

    `left`/`right` pick a column, `s` sorts by it (again: reversed), `/` filters, `enter`
    opens the trade, `esc` clears the filter, then goes back.

    Args:
        trades: The run's closed trades.
        title: The run, as the title shows it (`#3 bracket · BTCUSDT · demo-365d`).
        exchange_name: Where the trades' candles come from.
        symbol: The trades' symbol.
        bridge: Fetches a trade's candles.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape", "back", "Back", tooltip="Clear the filter, else go back", id="blotter-back"
        ),
        Binding(
            "slash",
            "edit_filter",
            "Filter",
            key_display="/",
            tooltip="Filter by side, reason or any text",
            id="blotter-filter",
        ),
    ]

    def __init__(
        self,
        trades: Sequence[SignalView],
        title: str,
        exchange_name: str,
        symbol: str,
        bridge: EngineBridge,
    ) -> None:
        super().__init__(id="blotter")
        self.trades = tuple(trades)
        self.run_title = title
        self.exchange_name = exchange_name
        self.symbol = symbol
        self.bridge = bridge

    def compose(self) -> ComposeResult:
        """The title, the filter (shown by `/`), the table and the footer."""
        yield Label(f"Blotter · {self.run_title}", classes="screen-title")
        yield Input(placeholder=FILTER_HINT, id="blotter-filter")
        table = TradeTable(id="blotter-table")
        table.add_class("pane")
        yield table
        yield KeyFooter()

    def on_mount(self) -> None:
        """Fill the table."""
        table = self.query_one(TradeTable)
        table.show(self.trades)
        table.focus()

    @on(TradeTable.Changed)
    def _count(self, event: TradeTable.Changed) -> None:
        table = event.table
        total = format_count(len(table.trades))
        title = f"{total} trades"
        if table.filter_words:
            title += f" · filtered {format_count(table.shown_count)}"
        if table.sort_key is not None:
            label = COLUMNS[COLUMN_KEYS.index(table.sort_key)].label
            title += f" · by {label} {'▼' if table.descending else '▲'}"
        table.border_title = title
        table.border_subtitle = "←→ column · s sort · / filter · enter open"

    def action_edit_filter(self) -> None:
        """Show the filter and put the cursor in it."""
        field = self.query_one(Input)
        field.add_class("-shown")
        field.focus()

    @on(Input.Changed, "#blotter-filter")
    def _filter(self, event: Input.Changed) -> None:
        self.query_one(TradeTable).filter(event.value)

    @on(Input.Submitted, "#blotter-filter")
    def _keep_filter(self, event: Input.Submitted) -> None:
        event.input.set_class(bool(event.value.strip()), "-shown")
        self.query_one(TradeTable).focus()

    def action_back(self) -> None:
        """Clear the filter when one is set (or being typed), else leave the blotter."""
        field = self.query_one(Input)
        if field.value or field.has_focus:
            field.value = ""
            field.remove_class("-shown")
            self.query_one(TradeTable).focus()
            return
        self.app.pop_screen()

    @on(TradeTable.TradeChosen)
    def _open_trade(self, event: TradeTable.TradeChosen) -> None:
        self.app.push_screen(TradeScreen(event.view, self.exchange_name, self.symbol, self.bridge))
