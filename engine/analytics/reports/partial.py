"""The partial profit/loss report: one row per level reached, then the counts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.analytics.reports.markdown import bullets, document, iso, price, table

if TYPE_CHECKING:
    from engine.analytics.partial_store import PartialStatistics

HEADER = (
    "Action",
    "Symbol",
    "Signal ID",
    "Position",
    "Level %",
    "Current Price",
    "Timestamp",
    "Mode",
)


def partial_report(symbol: str, stats: PartialStatistics) -> str:
    """Return the markdown report of a symbol's partial profit/loss events."""
    title = f"# Partial Profit/Loss Report: {symbol}"
    if stats.total_events == 0:
        return document(title, "No partial profit/loss events recorded yet.")
    rows = [
        [
            e.action.upper(),
            e.symbol,
            e.signal_id,
            e.position.upper(),
            f"{'+' if e.action == 'profit' else '-'}{e.level}%",
            price(e.current_price),
            iso(e.timestamp),
            "Backtest" if e.backtest else "Live",
        ]
        for e in stats.event_list
    ]
    summary = [
        f"**Total events:** {stats.total_events}",
        f"**Profit events:** {stats.total_profit}",
        f"**Loss events:** {stats.total_loss}",
    ]
    return document(title, table(HEADER, rows), bullets(summary))
