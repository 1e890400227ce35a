"""The live report (SPEC §14): one row per logged event, then the statistics."""

from __future__ import annotations

from engine.live_stats import LiveEvent, LiveStatistics
from engine.reports.markdown import bullets, document, fixed, iso, price, table

HEADER = (
    "Timestamp",
    "Action",
    "Symbol",
    "Signal ID",
    "Position",
    "Note",
    "Current Price",
    "Open Price",
    "Take Profit",
    "Stop Loss",
    "PNL (net)",
    "Close Reason",
    "Duration (min)",
)


def _price(value: float | None) -> str:
    return "N/A" if value is None else price(value)


def _row(e: LiveEvent) -> list[str]:
    return [
        iso(e.timestamp),
        e.action.upper(),
        e.symbol or "N/A",
        e.signal_id or "N/A",
        e.position.upper() if e.position else "N/A",
        e.note if e.note is not None else "N/A",
        price(e.current_price),
        _price(e.price_open),
        _price(e.price_take_profit),
        _price(e.price_stop_loss),
        fixed(e.pnl, 2, "%", signed=True),
        e.close_reason or "N/A",
        "N/A" if e.duration is None else str(e.duration),
    ]


def live_report(strategy_name: str, stats: LiveStatistics) -> str:
    """Return the markdown report of a live session's events."""
    title = f"# Live Trading Report: {strategy_name}"
    if stats.total_events == 0:
        return document(title, "No events recorded yet.")
    win_rate = (
        f"{fixed(stats.win_rate, 2, '%')} ({stats.win_count}W / {stats.loss_count}L)"
        if stats.win_rate is not None
        else "N/A"
    )
    summary = [
        f"**Total events:** {stats.total_events}",
        f"**Closed signals:** {stats.total_closed}",
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
    ]
    return document(title, table(HEADER, [_row(e) for e in stats.event_list]), bullets(summary))
