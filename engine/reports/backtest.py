"""The backtest report: one row per closed signal, then the statistics."""

from __future__ import annotations

from engine.jsformat import js_round
from engine.reports.markdown import bullets, document, fixed, iso, price, table
from engine.stats import BacktestStatistics

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
    win_rate = (
        f"{fixed(stats.win_rate, 2, '%')} ({stats.win_count}W / {stats.loss_count}L)"
        if stats.win_rate is not None
        else "N/A"
    )
    summary = [
        f"**Total signals:** {stats.total_signals}",
        f"**Closed signals:** {len(stats.signal_list)}",
        f"**Win rate:** {win_rate} (higher is better)",
        f"**Average PNL:** {fixed(stats.avg_pnl, 2, '%', signed=True)} (higher is better)",
        f"**Total PNL:** {fixed(stats.total_pnl, 2, '%', signed=True)} (higher is better)",
        f"**Standard Deviation:** {fixed(stats.std_dev, 3, '%')} (lower is better)",
        f"**Sharpe Ratio:** {fixed(stats.sharpe_ratio, 3)} (higher is better)",
        "**Annualized Sharpe Ratio:** "
        f"{fixed(stats.annualized_sharpe_ratio, 3)} (higher is better)",
        f"**Certainty Ratio:** {fixed(stats.certainty_ratio, 3)} (higher is better)",
        "**Expected Yearly Returns:** "
        f"{fixed(stats.expected_yearly_returns, 2, '%', signed=True)} (higher is better)",
        f"**Max Drawdown:** {fixed(stats.max_drawdown, 2, '%')} (lower is better)",
        f"**Profit Factor:** {fixed(stats.profit_factor, 3)} (higher is better)",
        f"**Sortino Ratio:** {fixed(stats.sortino_ratio, 3)} (higher is better)",
        f"**Ambiguous closes:** {stats.ambiguous_closes} (take profit and stop loss in one candle)",
    ]
    return document(title, table(HEADER, rows), bullets(summary))
