"""Backtest statistics (docs/semantics.md#statistics) plus the extra figures the desk promises."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from engine.core.models import ClosedResult

DAY_MS = 1000 * 60 * 60 * 24


@dataclass(frozen=True, slots=True)
class BacktestStatistics:
    """Statistics of the closed signals of one strategy on one symbol.

    PnL figures are in percent per trade (`total_pnl` sums them). `None` means the figure
    is undefined (no trades, or a NaN/infinite value). Beyond upstream: `max_drawdown`
    (peak-to-trough of cumulative PnL, percentage points), `profit_factor` (gross wins over
    gross losses), `sortino_ratio` (mean over downside deviation) and `ambiguous_closes`
    (take profit and stop loss touched inside one candle).
    """

    signal_list: tuple[ClosedResult, ...]
    total_signals: int
    win_count: int
    loss_count: int
    win_rate: float | None
    avg_pnl: float | None
    total_pnl: float | None
    std_dev: float | None
    sharpe_ratio: float | None
    annualized_sharpe_ratio: float | None
    certainty_ratio: float | None
    expected_yearly_returns: float | None
    max_drawdown: float | None
    profit_factor: float | None
    sortino_ratio: float | None
    ambiguous_closes: int


def safe(value: float | None) -> float | None:
    """Return `None` for NaN, infinities and non-numbers (upstream's `isUnsafe`)."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if math.isfinite(value) else None


def left_sum(values: Sequence[float]) -> float:
    """Add from zero, left to right: upstream's order (Python's sum() may compensate)."""
    total = 0.0
    for v in values:
        total += v
    return total


def max_drawdown(pnls: Sequence[float]) -> float:
    """Return the largest fall of cumulative PnL from its running peak (starting at 0)."""
    cum = peak = worst = 0.0
    for pnl in pnls:
        cum += pnl
        peak = max(peak, cum)
        worst = max(worst, peak - cum)
    return worst


@dataclass(frozen=True, slots=True)
class TradeFigures:
    """The figures backtest and live statistics share, in upstream's order.

    See docs/semantics.md#statistics.
    """

    wins: list[float]
    losses: list[float]
    total: float
    avg: float
    std: float
    sharpe: float
    certainty: float
    yearly: float


def trade_figures(pnls: Sequence[float], n: int, avg_days: float) -> TradeFigures:
    """Compute the shared figures of PnLs in close order.

    Args:
        pnls: The closed trades' PnLs, percent.
        n: What averages divide by (at least 1; backtest counts closes without a PnL too).
        avg_days: The trades' average duration in days (0: no yearly return).
    """
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    total = left_sum(pnls)
    avg = total / n
    std = math.sqrt(left_sum([(p - avg) * (p - avg) for p in pnls]) / n)
    avg_win = left_sum(wins) / len(wins) if wins else 0.0
    avg_loss = left_sum(losses) / len(losses) if losses else 0.0
    return TradeFigures(
        wins=wins,
        losses=losses,
        total=total,
        avg=avg,
        std=std,
        sharpe=avg / std if std > 0 else 0.0,
        certainty=avg_win / abs(avg_loss) if avg_loss < 0 else 0.0,
        yearly=avg * (365 / avg_days if avg_days > 0 else 0),
    )


def backtest_statistics(closed: Sequence[ClosedResult]) -> BacktestStatistics:
    """Compute the statistics of closed results in the order they closed."""
    signals = tuple(closed)
    n = len(signals)
    if n == 0:
        return BacktestStatistics(
            (), 0, 0, 0, None, None, None, None, None, None, None, None, None, None, None, 0
        )
    pnls = [r.pnl.pnl_percentage for r in signals if r.pnl is not None]
    durations = 0
    for r in signals:
        durations += r.close_timestamp - r.signal.pending_at if r.signal else 0
    f = trade_figures(pnls, n, durations / n / DAY_MS)
    gross_loss = abs(left_sum(f.losses))
    downside = math.sqrt(left_sum([p * p for p in f.losses]) / n)
    return BacktestStatistics(
        signal_list=signals,
        total_signals=n,
        win_count=len(f.wins),
        loss_count=len(f.losses),
        win_rate=safe(len(f.wins) / n * 100),
        avg_pnl=safe(f.avg),
        total_pnl=safe(f.total),
        std_dev=safe(f.std),
        sharpe_ratio=safe(f.sharpe),
        annualized_sharpe_ratio=safe(f.sharpe * math.sqrt(365)),
        certainty_ratio=safe(f.certainty),
        expected_yearly_returns=safe(f.yearly),
        max_drawdown=safe(max_drawdown(pnls)),
        profit_factor=safe(left_sum(f.wins) / gross_loss) if gross_loss > 0 else None,
        sortino_ratio=safe(f.avg / downside) if downside > 0 else None,
        ambiguous_closes=sum(1 for r in signals if r.ambiguous),
    )
