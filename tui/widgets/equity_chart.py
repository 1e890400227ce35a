"""The equity curve in currency: the account's equity after each closed signal of a run."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from textual_plotext.plot import Plot

from tui.formatting import format_axis_time
from tui.runs import DEFAULT_BALANCE, SignalView
from tui.theming import desk_rgb
from tui.widgets.cached_plot import CachedPlot

MAX_POINTS = 400


class EquityChart(CachedPlot):
    """Equity (quote currency) by close time from the starting balance, downsampled.

    A finished run's rows carry their money PnL (`pnl_money`, from the run's account); while
    a run streams, rows have none yet and the equity compounds their PnL % with the whole
    equity in each trade (the account's default stake).
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.balance = DEFAULT_BALANCE
        self._times: list[int] = []
        self._values: list[float] = []
        self._equity = np.empty(0, dtype=np.float64)
        self._source: tuple[int, int, float] = (0, 0, DEFAULT_BALANCE)  # list id, length, balance

    def show(self, closed: Sequence[SignalView], balance: float = DEFAULT_BALANCE) -> None:
        """Draw the equity of these closed signals (in close order) from `balance`.

        Called again with the same list grown by new signals (a running backtest), only the
        new tail is read.
        """
        known_id, known_len, known_balance = self._source
        same = id(closed) == known_id and balance == known_balance
        start = known_len if same and len(closed) >= known_len else 0
        if start == 0:
            self._times, self._values = [], []
        equity = self._values[-1] if self._values else balance
        for view in closed[start:]:
            if view.closed_at is None:
                continue
            if view.pnl_money is not None:
                equity += view.pnl_money
            else:
                equity *= 1 + (view.pnl_percentage or 0.0) / 100
            self._times.append(view.closed_at)
            self._values.append(equity)
        self._source = (id(closed), len(closed), balance)
        self.balance = balance
        self._equity = np.array(self._values, dtype=np.float64)
        self._draw()

    @property
    def final_equity(self) -> float | None:
        """Return the equity after the last closed signal, or None without signals."""
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
        ys = [self.balance, *self._equity[picked].tolist()]
        plt.hline(self.balance, desk_rgb(variables, "muted"))
        plt.plot(xs, ys, marker="braille", color=desk_rgb(variables, "equity"))
        first, last = self._times[0], self._times[-1]
        span = last - first
        plt.xticks([xs[1], xs[-1]], [format_axis_time(first, span), format_axis_time(last, span)])
        plt.xlim(0, xs[-1])
        self.redraw(plt)
