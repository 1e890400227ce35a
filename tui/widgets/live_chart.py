"""The live chart: the watched loop's recent prices, with its open position's levels."""

from __future__ import annotations

from textual_plotext.plot import Plot

from tui.formatting import format_axis_time, format_compact_price
from tui.live_bridge import LoopSnapshot
from tui.theming import desk_rgb
from tui.widgets.cached_plot import CachedPlot

AXIS_LABELS = 4
LEGEND = "[$entry]─[/] entry  [$take-profit]─[/] TP  [$stop-loss]─[/] SL"


class LiveChart(CachedPlot):
    """A line of the last prices a loop saw (bounded), redrawn from each loop snapshot."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.snapshot: LoopSnapshot | None = None

    def show(self, snapshot: LoopSnapshot | None) -> None:
        """Draw a loop's prices (None clears the chart)."""
        self.snapshot = snapshot
        self._draw()

    def _draw(self) -> None:
        plt = Plot()
        snapshot = self.snapshot
        if snapshot is None or len(snapshot.prices) < 2:
            plt.xticks([])
            plt.yticks([])
            self.border_subtitle = "waiting for prices" if snapshot is not None else ""
            self.redraw(plt)
            return
        variables = self.app.theme_variables
        times = [t for t, _ in snapshot.prices]
        prices = [p for _, p in snapshot.prices]
        index = list(range(len(prices)))
        plt.plot(index, prices, color=desk_rgb(variables, "equity"), marker="braille")
        low, high = min(prices), max(prices)
        position = snapshot.position
        if position is not None:
            for price, name in (
                (position.price_open, "entry"),
                (position.price_take_profit, "take-profit"),
                (position.price_stop_loss, "stop-loss"),
            ):
                plt.hline(price, desk_rgb(variables, name))
                low, high = min(low, price), max(high, price)
        pad = (high - low) * 0.04 or abs(high) * 0.001 or 1.0
        plt.ylim(low - pad, high + pad)
        plt.xlim(0, len(prices) - 1)
        count = min(AXIS_LABELS, len(prices))
        ticks = [float(round(i * (len(prices) - 1) / max(1, count - 1))) for i in range(count)]
        span = times[-1] - times[0]
        plt.xticks(ticks, [format_axis_time(times[int(i)], span) for i in ticks])
        levels = [low + (high - low) * i / 3 for i in range(4)]
        plt.yticks(levels, [format_compact_price(y) for y in levels])
        self.border_subtitle = LEGEND if position is not None else ""
        self.redraw(plt)
