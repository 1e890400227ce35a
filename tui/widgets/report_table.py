"""A report table that fits its width: every row, and the columns that fit, never squeezed.

When the full table is wider than the pane, the table first tries short headers and short
cells (`03-01 12:34`, `TP`), then drops the columns of lowest priority until it fits. Each
kept cell is shown whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.theme import Theme

from tui.theming import desk_color
from tui.widgets.report_data import CellKind, Column, TableData
from tui.widgets.vim_table import VimTable

CELL_PADDING = 2
"""Columns a DataTable adds around each cell (one each side)."""
SCROLLBAR = 2
"""Columns kept for the vertical scrollbar."""


@dataclass(frozen=True)
class ColumnFit:
    """Which columns a table shows and whether in their short form."""

    columns: tuple[int, ...]
    compact: bool


def _widths(table: TableData, compact: bool) -> list[int]:
    widths = []
    for index, column in enumerate(table.columns):
        label = (column.short_label or column.label) if compact else column.label
        shorten = column.compact if compact and column.compact is not None else None
        cells = (row[index] for row in table.rows if index < len(row))
        longest = max((len(shorten(c) if shorten else c) for c in cells), default=0)
        widths.append(max(len(label), longest) + CELL_PADDING)
    return widths


def choose_layout(table: TableData, width: int) -> ColumnFit:
    """Return the most columns that fit `width` (full form first, then short form).

    Columns with the highest priority number are dropped first; the priority-0 column stays,
    however narrow the pane.
    """
    order = sorted(range(len(table.columns)), key=lambda i: table.columns[i].priority)
    full, short = _widths(table, compact=False), _widths(table, compact=True)
    for count in range(len(order), 0, -1):
        kept = tuple(sorted(order[:count]))
        for compact, widths in ((False, full), (True, short)):
            if sum(widths[i] for i in kept) <= width:
                return ColumnFit(kept, compact)
    return ColumnFit(tuple(sorted(order[:1])), compact=True)


class ReportTable(VimTable):
    """A read-only table of a report section (cursor by row; `j`/`k`, `g`/`G`).

    Args:
        data: The table to show.
    """

    def __init__(self, data: TableData, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="pane report-table", cursor_type="row", zebra_stripes=True)
        self.data = data
        self.fit: ColumnFit | None = None
        self.border_title = data.title

    def on_mount(self) -> None:
        """Follow theme changes (the colours of sides and PnL)."""
        self.app.theme_changed_signal.subscribe(self, self._restyle)

    def _restyle(self, _theme: Theme) -> None:
        if self.fit is not None:
            self._fill(self.fit)

    def on_resize(self, event: events.Resize) -> None:
        """Choose the columns for the new width."""
        width = max(1, event.size.width - self.styles.gutter.width - SCROLLBAR)
        fit = choose_layout(self.data, width)
        if fit != self.fit:
            self._fill(fit)

    def _fill(self, fit: ColumnFit) -> None:
        self.fit = fit
        row = self.cursor_row
        self.clear(columns=True)
        columns = [self.data.columns[i] for i in fit.columns]
        for column in columns:
            label = (column.short_label or column.label) if fit.compact else column.label
            left = column.kind in (CellKind.TEXT, CellKind.SIDE)
            self.add_column(Text(label, justify="left" if left else "right"))
        colours = {
            name: desk_color(self.app.theme_variables, name).hex
            for name in ("long", "short", "pnl-up", "pnl-down", "pnl-flat")
        }
        self.add_rows(
            [_row(cells, fit, columns, colours) for cells in self.data.rows],
        )
        hidden = len(self.data.columns) - len(columns)
        self.border_subtitle = f"{hidden} columns hidden: widen to see them" if hidden else ""
        if self.row_count:
            self.move_cursor(row=min(row, self.row_count - 1))


def _row(
    cells: Sequence[str],
    fit: ColumnFit,
    columns: Sequence[Column],
    colours: Mapping[str, str],
) -> list[Text | str]:
    row: list[Text | str] = []
    for index, column in zip(fit.columns, columns, strict=True):
        text = cells[index] if index < len(cells) else ""
        if fit.compact and column.compact is not None:
            text = column.compact(text)
        row.append(_cell(text, column.kind, colours))
    return row


def _cell(text: str, kind: CellKind, colours: Mapping[str, str]) -> Text | str:
    if kind is CellKind.TEXT:
        return text
    if kind is CellKind.SIDE:
        side = "long" if text.lower() == "long" else "short" if text.lower() == "short" else ""
        return Text(text, style=colours.get(side, ""), justify="left")
    if kind is CellKind.PNL:
        sign = text[:1]
        name = "pnl-up" if sign == "+" else "pnl-down" if sign == "-" else "pnl-flat"
        if text.lstrip("+-") in {"0.00", "0"}:
            name = "pnl-flat"
        return Text(text, style=colours[name], justify="right")
    return Text(text, justify="right")
