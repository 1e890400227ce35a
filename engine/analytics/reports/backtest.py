"""The backtest report: one row per closed signal, then the statistics."""

from __future__ import annotations

from engine.analytics.reports.markdown import (
    bullets,
    document,
    fixed,
    iso,
    price,
    table,
    trade_summary,
)
from engine.analytics.stats import BacktestStatistics
from engine.core.jsformat import js_round

HEADER = (
    "Signal ID",
    "Symbol",
    "Position",
    "Note",
    "Open Price",
    "Close Price",
    "Take Profit",
    "Stop Loss",
    "PNL (net)",
    "Close Reason",
    "Duration (min)",
    "Open Time",
    "Close Time",
)


def backtest_report(strategy_name: str, stats: BacktestStatistics) -> str:
    """Return the markdown report of a strategy's closed signals."""
    title = f"# Backtest Report: {strategy_name}"
    if stats.total_signals == 0:
        return document(title, "No signals closed yet.")
    rows = []
    for r in stats.signal_list:
        s = r.signal
        assert s is not None and r.pnl is not None
        rows.append(
            [
                s.id,
                s.symbol,
                s.position.upper(),
                s.note if s.note is not None else "N/A",
                price(s.price_open),
                price(r.current_price),
                price(s.price_take_profit),
                price(s.price_stop_loss),
                fixed(r.pnl.pnl_percentage, 2, "%", signed=True),
                str(r.close_reason) + (" (ambiguous)" if r.ambiguous else ""),
                str(js_round((r.close_timestamp - s.pending_at) / 60000)),
                iso(s.pending_at),
                iso(r.close_timestamp),
            ]
        )
    summary = [
        f"**Total signals:** {stats.total_signals}",
        f"**Closed signals:** {len(stats.signal_list)}",
        *trade_summary(stats),
        f"**Max Drawdown:** {fixed(stats.max_drawdown, 2, '%')} (lower is better)",
        f"**Profit Factor:** {fixed(stats.profit_factor, 3)} (higher is better)",
        f"**Sortino Ratio:** {fixed(stats.sortino_ratio, 3)} (higher is better)",
        f"**Ambiguous closes:** {stats.ambiguous_closes} (take profit and stop loss in one candle)",
    ]
    return document(title, table(HEADER, rows), bullets(summary))
