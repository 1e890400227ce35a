"""One trade's chart: its candles with entry, TP, SL and exit drawn and labelled."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from textual import work
from textual.message import Message
from textual.worker import get_current_worker
from textual_plotext.plot import Plot

from tui.engine_bridge import EngineBridge, PriceSeries
from tui.formatting import format_axis_time, format_compact_price, format_price
from tui.formatting import format_short_timestamp as short_time
from tui.runs import SignalView
from tui.theming import desk_rgb
from tui.widgets.cached_plot import CachedPlot
from tui.widgets.price_chart import (
    AXIS_LABELS,
    MAX_CANDLES,
    MIN_CANDLES,
    focus_window,
    plot_candles,
)

LEGEND = (
    "[$entry]▲[/] opened  [$exit]▼[/] closed  [$entry]─[/] entry  "
    "[$take-profit]─[/] TP  [$stop-loss]─[/] SL"
)


@dataclass(frozen=True)
class ChartLabel:
    """A text drawn on the chart, where (candle index, price), in which desk colour."""

    text: str
    x: float
    y: float
    colour: str
    alignment: Literal["left", "right"] = "left"


def trade_labels(view: SignalView, series: PriceSeries) -> list[ChartLabel]:
    """Return the labels of a trade's chart: its levels at the right edge, open and close marks.

    The entry, TP and SL lines are labelled with their prices at the right edge; the ▲ at
    the opening candle with the open time, the ▼ at the closing candle with the exit price
    and time.
    """
    right = len(series) - 1
    labels = [
        ChartLabel(
            f"TP {format_price(view.price_take_profit)}",
            right,
            view.price_take_profit,
            "take-profit",
            "right",
        ),
        ChartLabel(
            f"SL {format_price(view.price_stop_loss)}",
            right,
            view.price_stop_loss,
            "stop-loss",
            "right",
        ),
        ChartLabel(
            f" entry {format_price(view.price_open)} · {short_time(view.opened_at)}",
            candle_index(series, view.opened_at),
            view.price_open,
            "entry",
        ),
    ]
    if view.closed_at is not None and view.price_close is not None:
        labels.append(
            ChartLabel(
                f"exit {format_price(view.price_close)} · {short_time(view.closed_at)} ",
                candle_index(series, view.closed_at),
                view.price_close,
                "exit",
                "right",
            )
        )
    return labels


def candle_index(series: PriceSeries, timestamp: int) -> int:
    """Return the index of the candle that holds `timestamp` (clamped to the series)."""
    index = int(np.searchsorted(series.timestamp, timestamp, "right")) - 1
    return min(len(series) - 1, max(0, index))


class TradeChart(CachedPlot):
    """A trade's candles (a window around open → close) with its labelled levels and marks."""

    @dataclass
    class Loaded(Message):
        """Candles arrived from the loading worker (`series` None when loading failed)."""

        series: PriceSeries | None
        life: PriceSeries | None = None
        """The 1-minute candles from the trade's opening to its close."""
        problem: str = ""

    def __init__(self, view: SignalView, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = view
        self.series: PriceSeries | None = None
        self.labels: list[ChartLabel] = []

    def load(self, bridge: EngineBridge, exchange_name: str, symbol: str) -> None:
        """Fetch the trade's candles in a thread, then draw them."""
        start, end = focus_window(self.view)
        buckets = min(MAX_CANDLES, max(MIN_CANDLES, (self.app.size.width - 12) // 2))
        self._fetch(bridge, exchange_name, symbol, start, end, buckets)

    @work(thread=True, exclusive=True, group="trade-chart", exit_on_error=False)
    def _fetch(
        self,
        bridge: EngineBridge,
        exchange_name: str,
        symbol: str,
        start_ms: int,
        end_ms: int,
        buckets: int,
    ) -> None:
        view = self.view
        closed = view.closed_at if view.closed_at is not None else view.opened_at
        minutes = (closed - view.opened_at) // 60_000 + 1
        try:
            series = bridge.price_series(exchange_name, symbol, start_ms, end_ms, buckets)
            life = bridge.price_series(exchange_name, symbol, view.opened_at, closed, minutes)
        except Exception as exc:  # missing data leaves an empty chart with the reason
            self.post_message(self.Loaded(None, problem=bridge.describe(exc)[1]))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(series, life))

    def on_trade_chart_loaded(self, event: Loaded) -> None:
        """Draw the fetched candles (the message goes on to the screen, for the events)."""
        self.series = event.series
        self.border_subtitle = event.problem or LEGEND
        self._draw()

    def _draw(self) -> None:
        plt = Plot()
        series = self.series
        if series is None or len(series) == 0:
            plt.xticks([])
            plt.yticks([])
            self.labels = []
            self.redraw(plt)
            return
        variables = self.app.theme_variables
        view = self.view
        plot_candles(plt, series, variables)
        levels = [view.price_open, view.price_take_profit, view.price_stop_loss]
        for price, name in zip(levels, ("entry", "take-profit", "stop-loss"), strict=True):
            plt.hline(price, desk_rgb(variables, name))
        opened = candle_index(series, view.opened_at)
        plt.scatter([opened], [view.price_open], marker="▲", color=desk_rgb(variables, "entry"))
        if view.closed_at is not None and view.price_close is not None:
            closed = candle_index(series, view.closed_at)
            plt.scatter([closed], [view.price_close], marker="▼", color=desk_rgb(variables, "exit"))
            levels.append(view.price_close)
        low = min(float(series.low.min()), *levels)
        high = max(float(series.high.max()), *levels)
        pad = (high - low) * 0.06 or abs(high) * 0.001 or 1.0
        self.labels = trade_labels(view, series)
        row = (high - low + 2 * pad) / max(1, self.size.height - 3)
        for label in self.labels:
            # Beside its mark, a row above the line (the line and the candles stay readable).
            plt.text(
                label.text,
                label.x,
                label.y + row,
                color=desk_rgb(variables, label.colour),
                alignment=label.alignment,
                background=desk_rgb(variables, "surface"),
            )
        plt.ylim(low - pad, high + pad)
        plt.xlim(-0.5, len(series) - 0.5)
        ticks = (
            np.linspace(0, len(series) - 1, num=min(AXIS_LABELS, len(series))).round().astype(int)
        )
        span = int(series.timestamp[-1] - series.timestamp[0])
        plt.xticks(
            ticks.tolist(), [format_axis_time(int(series.timestamp[i]), span) for i in ticks]
        )
        ys = np.linspace(low, high, num=4)
        plt.yticks(ys.tolist(), [format_compact_price(float(y)) for y in ys])
        self.redraw(plt)
