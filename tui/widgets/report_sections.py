"""Report sections besides the trades, as tables: schedule, partial levels, timings, heatmap.

Each builder takes the desk's rows (`tui.runs.RunSections`, collected where the run
happens, or read from the engine's stores for the walker) and returns a `TableData` with the
section's key figures and, when it has no rows, a plain sentence saying so. Column
priorities keep each table readable at 80 columns: the low-priority columns go first.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.analytics.heat import HeatmapStatistics
from tui.formatting import (
    MISSING,
    format_count,
    format_percent,
    format_price,
    format_ratio,
    format_signed,
    format_timestamp,
)
from tui.runs import PartialLevel, ScheduledSignal, ScheduleOutcome, TimingRow
from tui.widgets.report_data import CellKind, Column, TableData, format_duration, short_time
from tui.widgets.report_summary import Figure

NOT_RECORDED = "Not recorded: this run was stored before the desk kept its {section}."
"""What a section of a run stored before the sections existed says instead of a table."""

SCHEDULE_COLUMNS = (
    Column("#", 9, kind=CellKind.NUMBER),
    Column("Scheduled", 1, "Sched.", short_time),
    Column("Side", 2, kind=CellKind.SIDE),
    Column("Entry", 3, kind=CellKind.NUMBER),
    Column("Price then", 8, "Then", kind=CellKind.NUMBER),
    Column("Take profit", 7, "TP", kind=CellKind.NUMBER),
    Column("Stop loss", 7, "SL", kind=CellKind.NUMBER),
    Column("Outcome", 0),
    Column("Ended", 5, compact=short_time),
    Column("Waited", 4, "Wait", kind=CellKind.NUMBER),
    Column("Note", 11),
    Column("Signal ID", 12, "ID", lambda text: text[:8]),
)
"""The schedule table's columns: the outcome stays longest, then the time and side."""

PARTIAL_COLUMNS = (
    Column("#", 9, kind=CellKind.NUMBER),
    Column("Time", 1, compact=short_time),
    Column("Level", 0, kind=CellKind.PNL),
    Column("Kind", 5),
    Column("Side", 2, kind=CellKind.SIDE),
    Column("Price", 3, kind=CellKind.NUMBER),
    Column("Signal ID", 4, "ID", lambda text: text[:8]),
)
"""The partial table's columns: a level reads `+10 %` (profit) or `-10 %` (loss)."""

TIMING_COLUMNS = (
    Column("Metric", 0),
    Column("Count", 1, kind=CellKind.NUMBER),
    Column("Total ms", 2, "Total", kind=CellKind.NUMBER),
    Column("Avg ms", 3, "Avg", kind=CellKind.NUMBER),
    Column("Min ms", 5, "Min", kind=CellKind.NUMBER),
    Column("Max ms", 4, "Max", kind=CellKind.NUMBER),
    Column("p95 ms", 6, "p95", kind=CellKind.NUMBER),
)
"""The performance table's columns, in milliseconds."""


def _minutes(start_ms: int, end_ms: int | None) -> str:
    return MISSING if end_ms is None else format_duration((end_ms - start_ms) / 60_000)


def _mean_wait(rows: Sequence[ScheduledSignal], outcome: ScheduleOutcome) -> str:
    waits = [
        (r.ended_at - r.scheduled_at) / 60_000
        for r in rows
        if r.outcome is outcome and r.ended_at is not None
    ]
    return format_duration(sum(waits) / len(waits)) if waits else MISSING


def schedule_table(rows: Sequence[ScheduledSignal] | None) -> TableData:
    """Return the schedule section: every limit signal of the run and how its wait ended."""
    cells = tuple(
        (
            str(number),
            format_timestamp(row.scheduled_at),
            row.position.upper(),
            format_price(row.price_open),
            format_price(row.price_then),
            format_price(row.price_take_profit),
            format_price(row.price_stop_loss),
            str(row.outcome),
            MISSING if row.ended_at is None else format_timestamp(row.ended_at),
            _minutes(row.scheduled_at, row.ended_at),
            row.note or "",
            row.signal_id,
        )
        for number, row in enumerate(rows or (), start=1)
    )
    figures: tuple[Figure, ...] = ()
    if rows:
        count = {o: sum(1 for r in rows if r.outcome is o) for o in ScheduleOutcome}
        cancelled = count[ScheduleOutcome.CANCELLED]
        figures = (
            Figure("Scheduled", format_count(len(rows))),
            Figure("Activated", format_count(count[ScheduleOutcome.ACTIVATED])),
            Figure("Cancelled", format_count(cancelled)),
            Figure("Still waiting", format_count(count[ScheduleOutcome.WAITING])),
            Figure("Cancel rate", format_percent(cancelled / len(rows) * 100, signed=False)),
            Figure("Avg wait to fill", _mean_wait(rows, ScheduleOutcome.ACTIVATED)),
            Figure("Avg wait cancelled", _mean_wait(rows, ScheduleOutcome.CANCELLED)),
        )
    empty = (
        NOT_RECORDED.format(section="scheduled signals")
        if rows is None
        else "No scheduled signals in this run: its strategy opened every signal at once."
    )
    return TableData(f"Schedule ({len(cells)})", SCHEDULE_COLUMNS, cells, figures, empty)


def partial_table(rows: Sequence[PartialLevel] | None) -> TableData:
    """Return the partial section: each profit or loss level an open signal reached."""
    cells = tuple(
        (
            str(number),
            format_timestamp(row.timestamp),
            f"{'+' if row.kind == 'profit' else '-'}{row.level} %",
            row.kind,
            row.position.upper(),
            format_price(row.price),
            row.signal_id,
        )
        for number, row in enumerate(rows or (), start=1)
    )
    figures: tuple[Figure, ...] = ()
    if rows:
        profits = sum(1 for r in rows if r.kind == "profit")
        figures = (
            Figure("Levels reached", format_count(len(rows))),
            Figure("Profit levels", format_count(profits)),
            Figure("Loss levels", format_count(len(rows) - profits)),
            Figure("Signals", format_count(len({r.signal_id for r in rows}))),
            Figure("Highest profit", _highest(rows, "profit")),
            Figure("Deepest loss", _highest(rows, "loss")),
        )
    empty = (
        NOT_RECORDED.format(section="partial levels")
        if rows is None
        else "No partial levels in this run: no open signal moved 10 % for or against it."
    )
    return TableData(f"Partial ({len(cells)})", PARTIAL_COLUMNS, cells, figures, empty)


def _highest(rows: Sequence[PartialLevel], kind: str) -> str:
    levels = [r.level for r in rows if r.kind == kind]
    return f"{'+' if kind == 'profit' else '-'}{max(levels)} %" if levels else MISSING


def _ms(value: float) -> str:
    return f"{value:,.2f}".replace(",", " ")


def performance_table(rows: Sequence[TimingRow] | None) -> TableData:
    """Return the performance section: the engine's timing of each step, slowest first."""
    cells = tuple(
        (
            row.metric_type,
            format_count(row.measurements),
            _ms(row.total_ms),
            _ms(row.avg_ms),
            _ms(row.min_ms),
            _ms(row.max_ms),
            _ms(row.p95_ms),
        )
        for row in rows or ()
    )
    figures: tuple[Figure, ...] = ()
    if rows:
        figures = (
            Figure("Measurements", format_count(sum(r.measurements for r in rows))),
            Figure("Metric types", format_count(len(rows))),
            Figure("Measured time", f"{_ms(sum(r.total_ms for r in rows))} ms"),
        )
    empty = (
        NOT_RECORDED.format(section="timings")
        if rows is None
        else "No timing measurements in this run."
    )
    return TableData(f"Performance ({len(cells)})", TIMING_COLUMNS, cells, figures, empty)


HEAT_COLUMNS = (
    Column("Symbol", 0),
    Column("PnL Σ %", 1, "PnL", kind=CellKind.PNL),
    Column("Sharpe", 2, kind=CellKind.NUMBER),
    Column("Trades", 3, kind=CellKind.NUMBER),
    Column("Win rate", 4, "Win", kind=CellKind.NUMBER),
    Column("Profit factor", 5, "PF", kind=CellKind.NUMBER),
    Column("Expectancy", 6, "Exp.", kind=CellKind.PNL),
    Column("Max DD", 7, "DD", kind=CellKind.NUMBER),
    Column("Avg win", 8, kind=CellKind.PNL),
    Column("Avg loss", 8, kind=CellKind.PNL),
    Column("Win streak", 9, "W+", kind=CellKind.NUMBER),
    Column("Loss streak", 9, "L+", kind=CellKind.NUMBER),
)
"""The heatmap table's columns: one row per symbol, PnL figures in percent per trade."""


def heatmap_table(stats: HeatmapStatistics) -> TableData:
    """Return the heatmap of a strategy (`engine.analytics.heat`), best Sharpe first."""
    cells = tuple(
        (
            row.symbol,
            format_signed(row.total_pnl),
            format_ratio(row.sharpe_ratio),
            format_count(row.total_trades),
            format_percent(row.win_rate, signed=False),
            format_ratio(row.profit_factor),
            format_signed(row.expectancy),
            format_percent(row.max_drawdown, signed=False),
            format_signed(row.avg_win),
            format_signed(row.avg_loss),
            str(row.max_win_streak),
            str(row.max_loss_streak),
        )
        for row in stats.symbols
    )
    figures: tuple[Figure, ...] = ()
    if cells:
        figures = (
            Figure("Symbols", format_count(stats.total_symbols)),
            Figure("Trades", format_count(stats.portfolio_total_trades)),
            Figure("PnL Σ trade %", format_percent(stats.portfolio_total_pnl), signed=True),
            Figure("Sharpe (trade-weighted)", format_ratio(stats.portfolio_sharpe_ratio)),
        )
    empty = "No symbol has a finished backtest of this strategy yet."
    return TableData(f"Heatmap ({len(cells)})", HEAT_COLUMNS, cells, figures, empty)
