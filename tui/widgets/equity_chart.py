"""The equity curve: cumulative PnL (percent) over the closed signals of a run."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from textual.theme import Theme
from textual_plotext.plot import Plot

from tui.formatting import format_axis_time
from tui.runs import SignalView
from tui.theming import desk_rgb
from tui.widgets.cached_plot import CachedPlot

MAX_POINTS = 400


class EquityChart(CachedPlot):
    """Cumulative PnL % by close time, downsampled to a bounded number of points."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._times = np.empty(0, dtype=np.int64)
        self._equity = np.empty(0, dtype=np.float64)
        self._pairs: list[tuple[int, float]] = []
        self._source: tuple[int, int] = (0, 0)  # (id, length) of the list last shown

    def on_mount(self) -> None:
        """Redraw with the new colours when the theme changes."""
        self.app.theme_changed_signal.subscribe(self, self._restyle)
        self._draw()

    def _restyle(self, _theme: Theme) -> None:
        self._draw()

    def show(self, closed: Sequence[SignalView]) -> None:
        """Draw the curve of these closed signals (in close order).

        Called again with the same list grown by new signals (a running backtest), only the
        new tail is read.
        """
        known_id, known_len = self._source
        start = known_len if id(closed) == known_id and len(closed) >= known_len else 0
        if start == 0:
            self._pairs = []
        self._pairs += [
            (v.closed_at, v.pnl_percentage or 0.0)
            for v in closed[start:]
            if v.closed_at is not None
        ]
        self._source = (id(closed), len(closed))
        pairs = self._pairs
        times = np.array([t for t, _ in pairs], dtype=np.int64)
        pnl = np.array([p for _, p in pairs], dtype=np.float64)
        order = np.argsort(times, kind="stable")
        self._times = times[order]
        self._equity = np.cumsum(pnl[order])
        self._draw()

    @property
    def final_equity(self) -> float | None:
        """Return the cumulative PnL % after the last closed signal, or None without signals."""
        return float(self._equity[-1]) if len(self._equity) else None

    def _draw(self) -> None:
        plt = Plot()
        if len(self._equity) == 0:
            plt.xticks([])
            plt.yticks([])
            self.redraw(plt)
            return
        step = max(1, -(-len(self._equity) // MAX_POINTS))
        picked = np.unique(np.append(np.arange(0, len(self._equity), step), len(self._equity) - 1))
        variables = self.app.theme_variables
        xs = [0, *(int(i) + 1 for i in picked)]
        ys = [0.0, *self._equity[picked].tolist()]
        plt.hline(0.0, desk_rgb(variables, "muted"))
        plt.plot(xs, ys, marker="braille", color=desk_rgb(variables, "equity"))
        span = int(self._times[-1] - self._times[0])
        plt.xticks(
            [xs[1], xs[-1]],
            [
                format_axis_time(int(self._times[0]), span),
                format_axis_time(int(self._times[-1]), span),
            ],
        )
        plt.xlim(0, xs[-1])
        self.redraw(plt)
