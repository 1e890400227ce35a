"""The price chart: a run's candles with entries, exits and the selected signal's levels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from textual import work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.worker import get_current_worker
from textual_plotext.plot import Plot

from tui.engine_bridge import EngineBridge, PriceSeries
from tui.formatting import format_axis_time, format_compact_price, format_count
from tui.runs import SignalView
from tui.theming import desk_rgb
from tui.widgets.cached_plot import CachedPlot

AXIS_LABELS = 5
MINUTE_MS = 60_000
MIN_PAD_MS = 30 * MINUTE_MS
MIN_CANDLES = 20
MAX_CANDLES = 120
MIN_ZOOM_MS = 60 * MINUTE_MS
LEGEND = "[$entry]▲[/] entry  [$exit]▼[/] exit  [$take-profit]─[/] TP  [$stop-loss]─[/] SL"
"""The legend under the chart (the count of trades follows it)."""


def focus_window(view: SignalView) -> tuple[int, int]:
    """Return the span (epoch ms) to show around a signal: its life plus half again each side."""
    end = view.closed_at if view.closed_at is not None else view.opened_at + 60 * MINUTE_MS
    pad = max(MIN_PAD_MS, (end - view.opened_at) // 2)
    return view.opened_at - pad, end + pad


ChartSource = tuple[EngineBridge, str, str, tuple[SignalView, ...], SignalView | None]
"""What a chart was loaded from: bridge, exchange, symbol, signals to mark, focused signal."""


@dataclass(frozen=True)
class ChartScene:
    """What the price chart shows: candles, signals to mark, and an optional focused signal."""

    series: PriceSeries
    signals: Sequence[SignalView] = ()
    focus: SignalView | None = None


def plot_candles(plt: Plot, series: PriceSeries, variables: dict[str, str]) -> None:
    """Draw `series` as candles at x = 0, 1, … in the theme's up and down colours."""
    plt.candlestick(
        list(range(len(series))),  # type: ignore[arg-type]  # plotext's stub says dates
        {
            "Open": series.open.tolist(),
            "Close": series.close.tolist(),
            "High": series.high.tolist(),
            "Low": series.low.tolist(),
        },
        colors=[desk_rgb(variables, "candle-up"), desk_rgb(variables, "candle-down")],
    )


class PriceChart(CachedPlot, can_focus=True):
    """Candlesticks (plotext) with ▲ entries, ▼ exits and the focused signal's TP and SL lines.

    With the focus, `+`/`-` zoom in and out around the middle and `<`/`>` (or the arrows) pan
    by a quarter of the visible span, inside what was loaded.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("plus,equals_sign", "zoom(0.5)", "Zoom in", key_display="+", id="chart-zoom-in"),
        Binding("minus", "zoom(2)", "Zoom out", key_display="-", id="chart-zoom-out"),
        Binding(
            "less_than_sign,left",
            "pan(-1)",
            "Pan left",
            key_display="<",
            show=False,
            id="chart-pan-left",
        ),
        Binding(
            "greater_than_sign,right",
            "pan(1)",
            "Pan right",
            key_display=">",
            show=False,
            id="chart-pan-right",
        ),
    ]

    @dataclass
    class Loaded(Message):
        """Candles arrived from the loading worker (`scene` is None when loading failed)."""

        scene: ChartScene | None
        request: int
        problem: str = ""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.scene: ChartScene | None = None
        self.bucket_counts: dict[int, int] = {}
        """Trades opened per candle of the last drawing (candle index → count)."""
        self.window: tuple[int, int] = (0, 0)
        """The span shown (epoch ms), inside `loaded_window`."""
        self.loaded_window: tuple[int, int] = (0, 0)
        self._latest_request = 0
        self._source: ChartSource | None = None

    def load(
        self,
        bridge: EngineBridge,
        exchange_name: str,
        symbol: str,
        start_ms: int,
        end_ms: int,
        *,
        signals: Sequence[SignalView] = (),
        focus: SignalView | None = None,
    ) -> None:
        """Fetch candles for `[start_ms, end_ms]` in a thread, then draw them with the signals.

        When loads overlap, the last one asked for is drawn. Zooming and panning stay inside
        `[start_ms, end_ms]`.
        """
        self._source = (bridge, exchange_name, symbol, tuple(signals), focus)
        self.loaded_window = self.window = (start_ms, end_ms)
        self._request()

    def _request(self) -> None:
        if self._source is None:
            return
        self._latest_request += 1
        bridge, exchange_name, symbol, signals, focus = self._source
        # The terminal's width, not the widget's: a chart not laid out yet has no width.
        buckets = min(MAX_CANDLES, max(MIN_CANDLES, (self.app.size.width - 48) // 2))
        start, end = self.window
        self._fetch(
            bridge, exchange_name, symbol, start, end, buckets, signals, focus, self._latest_request
        )

    def action_zoom(self, factor: float) -> None:
        """Show `factor` times the visible span around its middle (at least an hour)."""
        if self._source is None:
            return
        low, high = self.loaded_window
        start, end = self.window
        span = min(high - low, max(MIN_ZOOM_MS, int((end - start) * factor)))
        middle = (start + end) // 2
        self._show_span(middle - span // 2, span)

    def action_pan(self, direction: int) -> None:
        """Move the visible span by a quarter of its width (-1 earlier, 1 later)."""
        if self._source is None:
            return
        start, end = self.window
        self._show_span(start + direction * (end - start) // 4, end - start)

    def _show_span(self, start: int, span: int) -> None:
        low, high = self.loaded_window
        start = min(max(low, start), high - span)
        if (start, start + span) != self.window:
            self.window = (start, start + span)
            self._request()

    @work(
        thread=True,
        exclusive=True,
        group="price-chart",
        exit_on_error=False,
        description="Loading candles",
    )
    def _fetch(
        self,
        bridge: EngineBridge,
        exchange_name: str,
        symbol: str,
        start_ms: int,
        end_ms: int,
        buckets: int,
        signals: tuple[SignalView, ...],
        focus: SignalView | None,
        request: int,
    ) -> None:
        try:
            series = bridge.price_series(exchange_name, symbol, start_ms, end_ms, buckets)
        except Exception as exc:  # missing data leaves an empty chart with the reason
            self.post_message(self.Loaded(None, request, bridge.describe(exc)[1]))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(ChartScene(series, signals, focus), request))

    def on_price_chart_loaded(self, event: Loaded) -> None:
        """Draw what the worker fetched, unless a newer load was asked for since."""
        event.stop()
        if event.request != self._latest_request:
            return
        self.border_subtitle = event.problem
        self.show(event.scene)

    def show(self, scene: ChartScene | None) -> None:
        """Draw a scene (None clears the chart)."""
        self.scene = scene
        self._draw()

    def _draw(self) -> None:
        plt = Plot()
        scene = self.scene
        series = scene.series if scene is not None else None
        if scene is None or series is None or len(series) == 0:
            plt.xticks([])
            plt.yticks([])
            self.redraw(plt)
            return
        variables = self.app.theme_variables
        plot_candles(plt, series, variables)
        low, high = float(series.low.min()), float(series.high.max())
        focus = scene.focus
        if focus is not None:
            for price, name in (
                (focus.price_open, "entry"),
                (focus.price_take_profit, "take-profit"),
                (focus.price_stop_loss, "stop-loss"),
            ):
                plt.hline(price, desk_rgb(variables, name))
                low, high = min(low, price), max(high, price)
        self.border_subtitle = LEGEND + self._mark(plt, scene, variables)
        # Room for a row of marks under the lowest candle and of counts over the highest.
        rows = 1.5 / max(4, self.size.height - 4) if self.bucket_counts else 0.04
        pad = (high - low) * max(0.04, rows) or abs(high) * 0.001 or 1.0
        plt.ylim(low - pad, high + pad)
        plt.xlim(-0.5, len(series) - 0.5)
        ticks = (
            np.linspace(0, len(series) - 1, num=min(AXIS_LABELS, len(series))).round().astype(int)
        )
        span = int(series.timestamp[-1] - series.timestamp[0])
        plt.xticks(
            ticks.tolist(), [format_axis_time(int(series.timestamp[i]), span) for i in ticks]
        )
        # As many price labels as the plot's rows hold with a row between them, so that
        # plotext never has to leave one out (which one it dropped varied with the margins).
        ys = np.linspace(low, high, num=max(2, min(4, (self.size.height - 3) // 2)))
        plt.yticks(ys.tolist(), [format_compact_price(float(y)) for y in ys])
        self.redraw(plt)

    def _mark(self, plt: Plot, scene: ChartScene, variables: dict[str, str]) -> str:
        """Mark the trades inside the visible candles; return what the subtitle says of them.

        With at most one trade per candle, ▲ marks each entry and ▼ each exit at its price.
        With more, trades are grouped by the candle they opened in: a ▲ under the candle and
        the count above it (a count that would touch the one on its left is left out; the
        chart zooms in with `+`). `bucket_counts` keeps every candle's count.
        """
        series = scene.series
        first, last = int(series.timestamp[0]), int(series.timestamp[-1])
        step = int(series.timestamp[1] - series.timestamp[0]) if len(series) > 1 else MINUTE_MS
        visible = [v for v in scene.signals if first <= v.opened_at <= last + step]
        if scene.focus is not None and scene.focus not in visible:
            visible.append(scene.focus)
        entries = self._per_candle(series, [(v.opened_at, v.price_open) for v in visible])
        self.bucket_counts = dict(zip(entries[0], entries[2], strict=True))
        busiest = max(entries[2], default=0)
        entry_colour = desk_rgb(variables, "entry")
        if busiest > 1:
            lift = float(series.high.max() - series.low.min()) / max(4, self.size.height - 4)
            under = [float(series.low[i]) - lift for i in entries[0]]
            plt.scatter(entries[0], under, marker="▲", color=entry_colour)
            self._label_counts(plt, series, entries, lift, variables)
            return f" · {format_count(len(visible))} trades · n per candle (up to {busiest})"
        exits = [
            (v.closed_at, v.price_close)
            for v in visible
            if v.closed_at is not None
            and v.price_close is not None
            and first <= v.closed_at <= last + step
        ]
        closes = self._per_candle(series, exits)
        if entries[0]:
            plt.scatter(entries[0], entries[1], marker="▲", color=entry_colour)
        if closes[0]:
            plt.scatter(closes[0], closes[1], marker="▼", color=desk_rgb(variables, "exit"))
        return f" · {format_count(len(visible))} trades" if scene.signals else ""

    @staticmethod
    def _per_candle(
        series: PriceSeries, marks: Sequence[tuple[int, float]]
    ) -> tuple[list[int], list[float], list[int]]:
        """Group (time, price) marks by candle: indices, mean prices and counts."""
        if not marks:
            return [], [], []
        times = np.fromiter((m[0] for m in marks), dtype=np.int64, count=len(marks))
        prices = np.fromiter((m[1] for m in marks), dtype=np.float64, count=len(marks))
        index = np.clip(np.searchsorted(series.timestamp, times, "right") - 1, 0, len(series) - 1)
        counts = np.bincount(index, minlength=len(series))
        sums = np.bincount(index, weights=prices, minlength=len(series))
        used = np.flatnonzero(counts)
        return used.tolist(), (sums[used] / counts[used]).tolist(), counts[used].tolist()

    def _label_counts(
        self,
        plt: Plot,
        series: PriceSeries,
        entries: tuple[list[int], list[float], list[int]],
        lift: float,
        variables: dict[str, str],
    ) -> None:
        """Write the count above each candle with several entries, where there is room."""
        columns = max(1.0, (self.size.width - 12) / len(series))
        free_from = -2.0
        colour, background = desk_rgb(variables, "entry"), desk_rgb(variables, "surface")
        for index, count in zip(entries[0], entries[2], strict=True):
            if count < 2:
                continue
            text = str(count)
            left = index * columns - len(text) / 2
            if left < free_from + 1:
                continue
            free_from = left + len(text)
            y = float(series.high[index]) + lift
            plt.text(text, index, y, color=colour, background=background, alignment="center")
