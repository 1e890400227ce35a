"""A run's report as data for the desk's report screen: the trades, the other tables, figures.

The trades come from the run's own signals when the desk has them (a run it made or stored);
a report read from a file gives its trade table from the markdown. Any other table of the
markdown (schedule, partial, performance sections) and its `**Label:** value` lines are read
from the markdown, since that is the only form they exist in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from engine.analytics.reports.backtest import HEADER as BACKTEST_HEADER
from tui.formatting import MISSING, format_price, format_timestamp
from tui.runs import SignalView
from tui.widgets.report_summary import Figure

_SEPARATOR_CELL = re.compile(r"^:?-+:?$")
_FIGURE = re.compile(r"^(?:[-*]\s+)?\*\*(?P<label>[^*]+?):\*\*\s*(?P<value>.*)$")
_ISO_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})")
_REASONS = {"take_profit": "TP", "stop_loss": "SL", "time_expired": "time"}


class CellKind(StrEnum):
    """How a column's cells are coloured and aligned."""

    TEXT = "text"
    NUMBER = "number"
    SIDE = "side"
    PNL = "pnl"


@dataclass(frozen=True)
class Column:
    """One column of a report table.

    Attributes:
        label: The header at full width.
        priority: Lower keeps the column longer when the width is short (0 is kept last).
        short_label: The header when the table is compacted.
        compact: Shortens a cell when the table is compacted (None: the cell stays).
        kind: How the cells are coloured and aligned.
    """

    label: str
    priority: int = 50
    short_label: str | None = None
    compact: Callable[[str], str] | None = None
    kind: CellKind = CellKind.TEXT


@dataclass(frozen=True)
class TableData:
    """A table of a report: its title, columns and rows (cells as text).

    Attributes:
        figures: The section's key figures, shown above its table.
        empty: What the section says instead of a table when it has no rows.
    """

    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[str, ...], ...]
    figures: tuple[Figure, ...] = ()
    empty: str = "This table has no rows."


@dataclass(frozen=True)
class MarkdownReport:
    """What a markdown report holds: its title, its tables and its `**Label:** value` figures."""

    title: str
    tables: tuple[TableData, ...]
    figures: tuple[tuple[str, str], ...]


def short_time(text: str) -> str:
    """Return `03-01 12:34` for `2024-03-01 12:34` (the year is dropped)."""
    return text[5:] if len(text) >= 16 and text[4] == "-" else text


def short_reason(text: str) -> str:
    """Return `TP`, `SL` or `time` for a close reason; `*` marks an ambiguous close."""
    ambiguous = text.endswith(" (ambiguous)")
    reason = text.removesuffix(" (ambiguous)")
    return _REASONS.get(reason, reason) + ("*" if ambiguous else "")


def short_duration(text: str) -> str:
    """Return `2h05` as `2h` and `3d 04h` as `3d` (the largest unit only)."""
    return text.split(" ")[0] if " " in text else text


def format_duration(minutes: float) -> str:
    """Return a duration in minutes as `45m`, `3h 05m` or `2d 04h`."""
    whole = round(minutes)
    days, rest = divmod(whole, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {mins:02d}m"
    return f"{mins}m"


TRADE_COLUMNS = (
    Column("#", 9, kind=CellKind.NUMBER),
    Column("Open time", 2, "Open", short_time),
    Column("Close time", 6, "Close", short_time),
    Column("Side", 1, kind=CellKind.SIDE),
    Column("Entry", 3, kind=CellKind.NUMBER),
    Column("Exit", 4, kind=CellKind.NUMBER),
    Column("Take profit", 7, "TP", kind=CellKind.NUMBER),
    Column("Stop loss", 8, "SL", kind=CellKind.NUMBER),
    Column("PnL %", 0, kind=CellKind.PNL),
    Column("PnL", 1, kind=CellKind.PNL),
    Column("Fee", 9, kind=CellKind.NUMBER),
    Column("Reason", 5, "Why", short_reason),
    Column("Duration", 7, "Dur", short_duration, CellKind.NUMBER),
    Column("Note", 11),
    Column("Signal ID", 12, "ID", lambda text: text[:8]),
)
"""The trade table's columns in display order; priorities say which go first at 80 columns."""


def _pnl_text(value: float | None) -> str:
    return MISSING if value is None or not math.isfinite(value) else f"{value:+.2f}"


def trade_rows(signals: Sequence[SignalView]) -> tuple[tuple[str, ...], ...]:
    """Return one row per closed signal, in `TRADE_COLUMNS` order."""
    rows = []
    for number, view in enumerate(signals, start=1):
        closed_at = view.closed_at
        reason = view.close_reason or MISSING
        held = None if closed_at is None else (closed_at - view.opened_at) / 60_000
        rows.append(
            (
                str(number),
                format_timestamp(view.opened_at),
                MISSING if closed_at is None else format_timestamp(closed_at),
                view.position.upper(),
                format_price(view.price_open),
                format_price(view.price_close),
                format_price(view.price_take_profit),
                format_price(view.price_stop_loss),
                _pnl_text(view.pnl_percentage),
                _pnl_text(view.pnl_money),
                MISSING if view.fee is None else f"{view.fee:.2f}",
                reason + (" (ambiguous)" if view.ambiguous else ""),
                MISSING if held is None else format_duration(held),
                view.note or "",
                view.signal_id,
            )
        )
    return tuple(rows)


def trades_table(signals: Sequence[SignalView]) -> TableData:
    """Return the trade table of a run's closed signals (every one of them)."""
    return TableData(f"Trades ({len(signals)})", TRADE_COLUMNS, trade_rows(signals))


def _markdown_price(text: str) -> str:
    try:
        return format_price(float(text.removesuffix(" USD")))
    except ValueError:
        return text


def _markdown_time(text: str) -> str:
    match = _ISO_TIME.match(text)
    return f"{match[1]} {match[2]}" if match else text


def _markdown_minutes(text: str) -> str:
    try:
        return format_duration(float(text))
    except ValueError:
        return text


def _markdown_pnl(text: str) -> str:
    try:
        return f"{float(text.removesuffix('%')):+.2f}"
    except ValueError:
        return text


_FROM_MARKDOWN: dict[str, tuple[str, Callable[[str], str]]] = {
    "Signal ID": ("Signal ID", str),
    "Position": ("Side", str),
    "Note": ("Note", lambda text: "" if text == "N/A" else text),
    "Open Price": ("Entry", _markdown_price),
    "Close Price": ("Exit", _markdown_price),
    "Take Profit": ("Take profit", _markdown_price),
    "Stop Loss": ("Stop loss", _markdown_price),
    "PNL (net)": ("PnL %", _markdown_pnl),
    "Close Reason": ("Reason", str),
    "Duration (min)": ("Duration", _markdown_minutes),
    "Open Time": ("Open time", _markdown_time),
    "Close Time": ("Close time", _markdown_time),
}
"""How the markdown trade table's columns map onto the desk's (its `Symbol` is dropped)."""


def markdown_trades(rows: Sequence[Sequence[str]]) -> TableData:
    """Return the desk's trade table from the rows of a backtest report's markdown table."""
    where = {name: BACKTEST_HEADER.index(name) for name in _FROM_MARKDOWN}
    by_label = {label: (where[name], convert) for name, (label, convert) in _FROM_MARKDOWN.items()}
    converted = []
    for number, row in enumerate(rows, start=1):
        cells = [str(number)]
        for column in TRADE_COLUMNS[1:]:
            found = by_label.get(column.label)  # money columns: the markdown has none
            if found is None or found[0] >= len(row):
                cells.append(MISSING)
            else:
                cells.append(found[1](row[found[0]]))
        converted.append(tuple(cells))
    return TableData(f"Trades ({len(converted)})", TRADE_COLUMNS, tuple(converted))


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def parse_markdown(markdown: str) -> MarkdownReport:
    """Read a markdown report: the `#` title, each table under its heading, the figures.

    A backtest report's trade table becomes the desk's trade table (`markdown_trades`); any
    other table keeps its own columns, titled by the heading above it.
    """
    title, heading = "", ""
    tables: list[TableData] = []
    figures: list[tuple[str, str]] = []
    block: list[list[str]] = []

    def close_block() -> None:
        if not block:
            return
        header, *rows = block
        rows = [row for row in rows if not all(_SEPARATOR_CELL.match(c) for c in row)]
        if tuple(header) == BACKTEST_HEADER:
            tables.append(markdown_trades(rows))
        else:
            name = heading or f"Table {len(tables) + 1}"
            columns = tuple(Column(label, priority=i) for i, label in enumerate(header))
            tables.append(TableData(name, columns, tuple(tuple(row) for row in rows)))
        block.clear()

    for line in markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith("|"):
            block.append(_cells(stripped))
            continue
        close_block()
        if stripped.startswith("#"):
            text = stripped.lstrip("#").strip()
            if stripped.startswith("# ") and not title:
                title = text
            else:
                heading = text
        elif match := _FIGURE.match(stripped):
            figures.append((match["label"].strip(), match["value"].strip()))
    close_block()
    return MarkdownReport(title, tuple(tables), tuple(figures))
