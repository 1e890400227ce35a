"""The schedule report: one row per scheduled or cancelled signal, then the counts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.analytics.reports.markdown import bullets, document, fixed, iso, price, table

if TYPE_CHECKING:
    from engine.analytics.schedule import ScheduleStatistics

HEADER = (
    "Timestamp",
    "Action",
    "Symbol",
    "Signal ID",
    "Position",
    "Note",
    "Current Price",
    "Entry Price",
    "Take Profit",
    "Stop Loss",
    "Wait Time (min)",
)


def schedule_report(strategy_name: str, stats: ScheduleStatistics) -> str:
    """Return the markdown report of a strategy's scheduled signals."""
    title = f"# Scheduled Signals Report: {strategy_name}"
    if stats.total_events == 0:
        return document(title, "No scheduled signals recorded yet.")
    rows = [
        [
            iso(e.timestamp),
            e.action.upper(),
            e.symbol,
            e.signal_id,
            e.position.upper(),
            e.note if e.note is not None else "N/A",
            price(e.current_price),
            price(e.price_open),
            price(e.take_profit),
            price(e.stop_loss),
            str(e.duration) if e.duration is not None else "N/A",
        ]
        for e in stats.event_list
    ]
    summary = [
        f"**Total events:** {stats.total_events}",
        f"**Scheduled signals:** {stats.total_scheduled}",
        f"**Cancelled signals:** {stats.total_cancelled}",
        f"**Cancellation rate:** {fixed(stats.cancellation_rate, 2, '%')} (lower is better)",
        "**Average wait time (cancelled):** "
        + (
            f"{fixed(stats.avg_wait_time, 2)} minutes" if stats.avg_wait_time is not None else "N/A"
        ),
    ]
    return document(title, table(HEADER, rows), bullets(summary))
