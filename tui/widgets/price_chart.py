"""The price chart: a run's candles with entries, exits and the selected signal's levels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from textual import work
from textual.message import Message
from textual.theme import Theme
from textual.worker import get_current_worker
from textual_plotext.plot import Plot

from tui.engine_bridge import EngineBridge, PriceSeries
from tui.formatting import format_axis_time, format_compact_price
from tui.runs import SignalView
from tui.theming import desk_rgb
from tui.widgets.cached_plot import CachedPlot

AXIS_LABELS = 5
MINUTE_MS = 60_000
MIN_PAD_MS = 30 * MINUTE_MS
MIN_CANDLES = 20
MAX_CANDLES = 120
LEGEND = "[$entry]▲[/] entry  [$exit]▼[/] exit  [$take-profit]─[/] TP  [$stop-loss]─[/] SL"


def focus_window(view: SignalView) -> tuple[int, int]:
    """Return the span (epoch ms) to show around a signal: its life plus half again each side."""
    end = view.closed_at if view.closed_at is not None else view.opened_at + 60 * MINUTE_MS
    pad = max(MIN_PAD_MS, (end - view.opened_at) // 2)
    return view.opened_at - pad, end + pad


@dataclass(frozen=True)
class ChartScene:
    """What the price chart shows: candles, signals to mark, and an optional focused signal."""

    series: PriceSeries
    signals: Sequence[SignalView] = ()
    focus: SignalView | None = None


class PriceChart(CachedPlot):
    """Candlesticks (plotext) with ▲ entries, ▼ exits and the focused signal's TP and SL lines."""

    @dataclass
    class Loaded(Message):
        """Candles arrived from the loading worker (`scene` is None when loading failed)."""

        scene: ChartScene | None
        request: int
        problem: str = ""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.scene: ChartScene | None = None
        self._latest_request = 0

    def on_mount(self) -> None:
        """Redraw with the new colours when the theme changes."""
        self.app.theme_changed_signal.subscribe(self, self._restyle)
        self._draw()

    def _restyle(self, _theme: Theme) -> None:
        self._draw()

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

        When loads overlap, the last one asked for is drawn.
        """
        self._latest_request += 1
        # The terminal's width, not the widget's: a chart not laid out yet has no width.
        buckets = min(MAX_CANDLES, max(MIN_CANDLES, (self.app.size.width - 48) // 2))
        self._fetch(
            bridge,
            exchange_name,
            symbol,
            start_ms,
            end_ms,
            buckets,
            tuple(signals),
            focus,
            self._latest_request,
        )

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
        index = list(range(len(series)))
        plt.candlestick(
            index,  # type: ignore[arg-type]  # plotext's stub says dates, but numbers work
            {
                "Open": series.open.tolist(),
                "Close": series.close.tolist(),
                "High": series.high.tolist(),
                "Low": series.low.tolist(),
            },
            colors=[desk_rgb(variables, "candle-up"), desk_rgb(variables, "candle-down")],
        )
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
        every = self._mark(plt, scene, variables)
        self.border_subtitle = LEGEND + (f" · 1 signal in {every} marked" if every > 1 else "")
        pad = (high - low) * 0.04 or abs(high) * 0.001 or 1.0
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

    def _mark(self, plt: Plot, scene: ChartScene, variables: dict[str, str]) -> int:
        """Mark entries (▲) and exits (▼) inside the visible candles; return `k` of "1 in k".

        When there are more signals than a third of the candles, every k-th one is marked so
        the markers stay readable.
        """
        series = scene.series
        first, last = int(series.timestamp[0]), int(series.timestamp[-1])
        step = int(series.timestamp[1] - series.timestamp[0]) if len(series) > 1 else 60_000
        visible = [v for v in scene.signals if first <= v.opened_at <= last + step]
        every = max(1, -(-len(visible) // max(1, len(series) // 3)))
        signals = visible[::every]
        if scene.focus is not None and scene.focus not in signals:
            signals.append(scene.focus)
        entries: tuple[list[int], list[float]] = ([], [])
        exits: tuple[list[int], list[float]] = ([], [])
        for view in signals:
            if first <= view.opened_at <= last + step:
                entries[0].append(
                    int(np.searchsorted(series.timestamp, view.opened_at, "right")) - 1
                )
                entries[1].append(view.price_open)
            if (
                view.closed_at is not None
                and view.price_close is not None
                and first <= view.closed_at <= last + step
            ):
                exits[0].append(int(np.searchsorted(series.timestamp, view.closed_at, "right")) - 1)
                exits[1].append(view.price_close)
        if entries[0]:
            plt.scatter(*entries, marker="▲", color=desk_rgb(variables, "entry"))
        if exits[0]:
            plt.scatter(*exits, marker="▼", color=desk_rgb(variables, "exit"))
        return every
