"""The live report (docs/semantics.md#reports): one row per logged event, then the statistics."""

from __future__ import annotations

from engine.analytics.live_stats import LiveEvent, LiveStatistics
from engine.analytics.reports.markdown import (
    bullets,
    document,
    fixed,
    iso,
    price,
    table,
    trade_summary,
)

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
    summary = [
        f"**Total events:** {stats.total_events}",
        f"**Closed signals:** {stats.total_closed}",
        *trade_summary(stats),
    ]
    return document(title, table(HEADER, [_row(e) for e in stats.event_list]), bullets(summary))
