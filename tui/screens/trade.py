"""One trade: its chart with labelled levels and the events of its life."""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import numpy as np
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Label

from tui.engine_bridge import EngineBridge, PriceSeries
from tui.formatting import format_percent, format_price, format_short_timestamp, format_signed
from tui.runs import SignalView
from tui.widgets.key_footer import KeyFooter
from tui.widgets.trade_chart import TradeChart
from tui.widgets.trade_table import format_duration, trade_fee, trade_pnl_money

PARTIAL_STEP = 10
"""Partial levels are announced at every 10 % of the way to TP (profit) or SL (loss)."""
REASON_NAMES = {"take_profit": "take profit", "stop_loss": "stop loss", "time_expired": "time"}


class TradeEvent(NamedTuple):
    """A line of the trade's life: what happened, when, at which price, and the details."""

    name: str
    at: int
    price: float
    detail: str


def _percent_from(entry: float, price: float, position: str) -> float:
    move = (price - entry) / entry * 100
    return move if position == "long" else -move


def partial_levels(view: SignalView, series: PriceSeries) -> list[TradeEvent]:
    """Return the partial profit and loss levels the trade's candles reached, first time each.

    A level is a multiple of `PARTIAL_STEP` % of the way from the entry to TP (profit) or to
    SL (loss), as the engine's partial alerts count them; the run does not keep those alerts,
    so they are read from the 1-minute candles of its life (`series`), to the minute.
    """
    if view.closed_at is None:
        return []
    inside = (series.timestamp >= view.opened_at) & (series.timestamp <= view.closed_at)
    favourable = series.high if view.position == "long" else series.low
    adverse = series.low if view.position == "long" else series.high
    events: list[TradeEvent] = []
    for name, target, extremes in (
        ("partial profit", view.price_take_profit, favourable),
        ("partial loss", view.price_stop_loss, adverse),
    ):
        distance = target - view.price_open
        if distance == 0:
            continue
        progress = (extremes - view.price_open) / distance * 100
        for level in range(PARTIAL_STEP, 100, PARTIAL_STEP):
            reached = np.flatnonzero(inside & (progress >= level))
            if not reached.shape[0]:
                break
            price = view.price_open + distance * level / 100
            events.append(
                TradeEvent(
                    f"{name} {level} %",
                    int(series.timestamp[reached[0]]),
                    price,
                    f"{level} % of the way to {'TP' if 'profit' in name else 'SL'} · "
                    f"{format_percent(_percent_from(view.price_open, price, view.position))}",
                )
            )
    return events


def trade_events(view: SignalView, life: PriceSeries | None) -> list[TradeEvent]:
    """Return the trade's life in time order: scheduled, opened, partial levels, closed.

    A market signal opens at once; a limit signal is scheduled first, until its price fills.

    Args:
        view: The trade.
        life: Its 1-minute candles from opening to close (None: not loaded yet).
    """
    entry = view.price_open
    opened = TradeEvent(
        "opened",
        view.opened_at,
        entry,
        f"{view.position.upper()} · TP {format_price(view.price_take_profit)} "
        f"({format_percent(_percent_from(entry, view.price_take_profit, view.position))}) · "
        f"SL {format_price(view.price_stop_loss)} "
        f"({format_percent(_percent_from(entry, view.price_stop_loss, view.position))})",
    )
    events = [opened]
    if view.scheduled_at is not None:
        waited = format_duration(view.opened_at - view.scheduled_at)
        events.append(
            TradeEvent(
                "scheduled",
                view.scheduled_at,
                entry,
                f"{view.position.upper()} limit at {format_price(entry)} · filled after {waited}",
            )
        )
    if life is not None and len(life):
        events += partial_levels(view, life)
    if view.closed_at is not None and view.price_close is not None:
        fee = trade_fee(view)
        money = trade_pnl_money(view)
        reason = REASON_NAMES.get(view.close_reason or "", view.close_reason or "?")
        details = [
            reason + (" (TP and SL in one candle)" if view.ambiguous else ""),
            f"PnL {format_percent(view.pnl_percentage)}",
        ]
        if money is not None:
            details.append(f"{format_signed(money)} in money")
        if fee is not None:
            details.append(f"fee {format_signed(fee).lstrip('+')}")
        details.append(f"held {format_duration(view.closed_at - view.opened_at)}")
        events.append(TradeEvent("closed", view.closed_at, view.price_close, " · ".join(details)))
    return sorted(events, key=lambda event: event.at)


class TradeScreen(Screen[None]):
    """A trade opened from the blotter: its chart and its events; `esc` goes back.

    Args:
        view: The trade.
        exchange_name: Where its candles come from.
        symbol: Its symbol.
        bridge: Fetches the candles.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="trade-back"),
    ]

    def __init__(
        self, view: SignalView, exchange_name: str, symbol: str, bridge: EngineBridge
    ) -> None:
        super().__init__()
        self.view = view
        self.exchange_name = exchange_name
        self.symbol = symbol
        self.bridge = bridge

    def compose(self) -> ComposeResult:
        """The title, the chart and the events."""
        view = self.view
        yield Label(
            f"Trade {view.signal_id[:8]} · {self.symbol} · {view.position.upper()} · "
            f"{format_percent(view.pnl_percentage)}",
            classes="screen-title",
        )
        chart = TradeChart(view, id="trade-chart")
        chart.add_class("pane")
        chart.border_title = f"Chart · {self.symbol} · {self.exchange_name}"
        yield chart
        events: DataTable[str] = DataTable(id="trade-events", cursor_type="row")
        events.add_class("pane")
        events.border_title = "Life of the trade"
        yield events
        yield KeyFooter()

    def on_mount(self) -> None:
        """Load the candles; list the events (the partial levels follow with the candles)."""
        table = self.query_one(DataTable)
        table.add_columns("Event", "Time", "Price", "Detail")
        self._list_events(None)
        self.query_one(TradeChart).load(self.bridge, self.exchange_name, self.symbol)
        table.focus()

    def on_trade_chart_loaded(self, event: TradeChart.Loaded) -> None:
        """List the partial levels the trade's candles reached."""
        self._list_events(event.life)

    def _list_events(self, life: PriceSeries | None) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for event in trade_events(self.view, life):
            table.add_row(
                event.name,
                format_short_timestamp(event.at),
                format_price(event.price),
                event.detail,
            )
        note = self.view.note
        if note:
            table.add_row("note", "", "", note)
