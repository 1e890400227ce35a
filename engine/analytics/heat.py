"""Portfolio heatmap: per-symbol figures of a strategy's closed signals (docs/semantics.md#heatmap).

The store keeps every closed signal's PnL per strategy and symbol, from backtests and live
runs alike. Runs never clear it: it accumulates until `Heat.clear`.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.analytics.reports.markdown import document, fixed, save_report, table
from engine.analytics.stats import left_sum, max_drawdown, safe
from engine.core import events
from engine.core.models import Action

_CLOSED = Action.CLOSED  # read once: on Python 3.11 each `Action.X` goes through a slow hook


@dataclass(frozen=True, slots=True)
class HeatRow:
    """Statistics of one symbol's closed signals; PnL figures in percent per trade.

    `max_drawdown` is the largest fall of cumulative PnL from its running peak (upstream
    measures only the depth below zero). `None` means undefined: `std_dev` and
    `sharpe_ratio` need two trades, `profit_factor` a win and a loss, `avg_win`/`avg_loss`
    a win/a loss, `expectancy` both.
    """

    symbol: str
    total_pnl: float | None
    sharpe_ratio: float | None
    max_drawdown: float | None
    total_trades: int
    win_count: int
    loss_count: int
    win_rate: float | None
    avg_pnl: float | None
    std_dev: float | None
    profit_factor: float | None
    avg_win: float | None
    avg_loss: float | None
    max_win_streak: int
    max_loss_streak: int
    expectancy: float | None


@dataclass(frozen=True, slots=True)
class HeatmapStatistics:
    """A strategy's rows, best Sharpe ratio first (undefined last), and portfolio totals.

    `portfolio_sharpe_ratio` is the mean of the rows' Sharpe ratios weighted by their trades.
    """

    symbols: tuple[HeatRow, ...]
    total_symbols: int
    portfolio_total_pnl: float | None
    portfolio_sharpe_ratio: float | None
    portfolio_total_trades: int


def _streaks(pnls: Sequence[float]) -> tuple[int, int]:
    best_win = best_loss = wins = losses = 0
    for pnl in pnls:
        if pnl > 0:
            wins, losses = wins + 1, 0
            best_win = max(best_win, wins)
        elif pnl < 0:
            wins, losses = 0, losses + 1
            best_loss = max(best_loss, losses)
    return best_win, best_loss


def heat_row(symbol: str, pnls: Sequence[float]) -> HeatRow:
    """Compute the row of one symbol from its PnLs in the order the signals closed."""
    n = len(pnls)
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    win_rate = len(wins) / n * 100 if n else None
    total = left_sum(pnls) if n else None
    avg = total / n if total is not None else None
    std = None
    if n > 1 and avg is not None:
        std = math.sqrt(left_sum([(p - avg) * (p - avg) for p in pnls]) / n)
    sharpe = avg / std if avg is not None and std else None
    gross_loss = abs(left_sum(losses))
    profit_factor = left_sum(wins) / gross_loss if wins and losses and gross_loss > 0 else None
    avg_win = left_sum(wins) / len(wins) if wins else None
    avg_loss = left_sum(losses) / len(losses) if losses else None
    expectancy = None
    if win_rate is not None and avg_win is not None and avg_loss is not None:
        expectancy = (win_rate / 100) * avg_win + ((100 - win_rate) / 100) * avg_loss
    best_win, best_loss = _streaks(pnls)
    return HeatRow(
        symbol=symbol,
        total_pnl=safe(total),
        sharpe_ratio=safe(sharpe),
        max_drawdown=safe(max_drawdown(pnls)) if n else None,
        total_trades=n,
        win_count=len(wins),
        loss_count=len(losses),
        win_rate=safe(win_rate),
        avg_pnl=safe(avg),
        std_dev=safe(std),
        profit_factor=safe(profit_factor),
        avg_win=safe(avg_win),
        avg_loss=safe(avg_loss),
        max_win_streak=best_win,
        max_loss_streak=best_loss,
        expectancy=safe(expectancy),
    )


def heatmap_statistics(pnls_by_symbol: Mapping[str, Sequence[float]]) -> HeatmapStatistics:
    """Compute the heatmap of one strategy from each symbol's PnLs."""
    rows = sorted(
        (heat_row(symbol, pnls) for symbol, pnls in pnls_by_symbol.items()),
        key=lambda r: (r.sharpe_ratio is None, -(r.sharpe_ratio or 0.0)),
    )
    trades = sum(r.total_trades for r in rows)
    rated = [r.sharpe_ratio * r.total_trades for r in rows if r.sharpe_ratio is not None]
    return HeatmapStatistics(
        symbols=tuple(rows),
        total_symbols=len(rows),
        portfolio_total_pnl=safe(left_sum([r.total_pnl or 0.0 for r in rows])) if rows else None,
        portfolio_sharpe_ratio=safe(left_sum(rated) / trades) if rated and trades else None,
        portfolio_total_trades=trades,
    )


class HeatUtils:
    """Read the per-symbol heatmap of a strategy's closed signals (upstream's `Heat`)."""

    def __init__(self) -> None:
        # strategy -> symbol -> PnLs, created on first use (a closed signal costs no new dict)
        self._pnls: defaultdict[str, defaultdict[str, list[float]]] = defaultdict(
            lambda: defaultdict(list)
        )
        self._lock = threading.Lock()

    def _record(self, result: Any) -> None:
        if result.action is not _CLOSED:
            return
        with self._lock:
            self._pnls[result.strategy_name][result.symbol].append(result.pnl.pnl_percentage)

    def add(self, strategy_name: str, symbol: str, pnl_percentages: Sequence[float]) -> None:
        """Add closed signals measured elsewhere (e.g. a backtest in another process)."""
        with self._lock:
            self._pnls[strategy_name][symbol].extend(pnl_percentages)

    def get_data(self, strategy_name: str) -> HeatmapStatistics:
        """Return the heatmap of every closed signal of `strategy_name` so far."""
        with self._lock:
            stored = {s: list(p) for s, p in self._pnls.get(strategy_name, {}).items()}
        return heatmap_statistics(stored)

    def get_report(self, strategy_name: str) -> str:
        """Return the markdown heatmap of `strategy_name`."""
        return heat_report(strategy_name, self.get_data(strategy_name))

    def dump(self, strategy_name: str, path: str | Path = "./dump/heatmap") -> Path:
        """Write the report to `<path>/<strategy_name>.md` and return the file's path."""
        return save_report(path, strategy_name, self.get_report(strategy_name), "Heatmap report")

    def clear(self, strategy_name: str | None = None) -> None:
        """Forget the closed signals of `strategy_name` (of every strategy when `None`)."""
        with self._lock:
            if strategy_name is None:
                self._pnls.clear()
            else:
                self._pnls.pop(strategy_name, None)


Heat = HeatUtils()
events.result_emitter.subscribe(Heat._record)


# ----- the markdown report ------------------------------------------------------------------

HEADER = (
    "Symbol",
    "Total PNL",
    "Sharpe",
    "PF",
    "Expect",
    "WR",
    "Avg Win",
    "Avg Loss",
    "Max DD",
    "W Streak",
    "L Streak",
    "Trades",
)


def heat_report(strategy_name: str, stats: HeatmapStatistics) -> str:
    """Return the markdown heatmap of a strategy (upstream's `%+.2f%%` cells, formatted)."""
    title = f"# Portfolio Heatmap: {strategy_name}"
    if stats.total_symbols == 0:
        return document(title, "*No data available*")
    portfolio = (
        f"**Total Symbols:** {stats.total_symbols} | "
        f"**Portfolio PNL:** {fixed(stats.portfolio_total_pnl, 2, '%', signed=True)} | "
        f"**Portfolio Sharpe:** {fixed(stats.portfolio_sharpe_ratio, 2)} | "
        f"**Total Trades:** {stats.portfolio_total_trades}"
    )
    rows = [
        [
            r.symbol,
            fixed(r.total_pnl, 2, "%", signed=True),
            fixed(r.sharpe_ratio, 2),
            fixed(r.profit_factor, 2),
            fixed(r.expectancy, 2, "%", signed=True),
            fixed(r.win_rate, 1, "%"),
            fixed(r.avg_win, 2, "%", signed=True),
            fixed(r.avg_loss, 2, "%", signed=True),
            fixed(-r.max_drawdown if r.max_drawdown is not None else None, 2, "%"),
            str(r.max_win_streak),
            str(r.max_loss_streak),
            str(r.total_trades),
        ]
        for r in stats.symbols
    ]
    return document(title, portfolio, table(HEADER, rows))
