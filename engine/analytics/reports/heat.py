"""The heatmap report: portfolio totals, then one row per symbol."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.analytics.reports.markdown import document, fixed, table

if TYPE_CHECKING:
    from engine.analytics.heat import HeatmapStatistics

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
