"""A report table that fits its width: every row, and the columns that fit, never squeezed.

When the full table is wider than the pane, the table first tries short headers and short
cells (`03-01 12:34`, `TP`), then drops the columns of lowest priority until it fits. Each
kept cell is shown whole. The table draws only the lines on screen (Textual's line API), so
a 365-day run's 9,000 trades open and scroll as fast as 100.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.color import Color
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.theme import Theme

from tui.theming import desk_color
from tui.widgets.report_data import CellKind, TableData

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


@dataclass(frozen=True)
class _Palette:
    """The styles a table draws with, from the current theme."""

    text: Style
    stripe: Style
    header: Style
    cursor: Style
    marks: dict[str, Style]

    @classmethod
    def of(cls, variables: dict[str, str]) -> _Palette:
        def colour(name: str) -> Color:
            return Color.parse(variables[name])

        surface, panel, primary = colour("surface"), colour("panel"), colour("primary")
        text = Style(color=colour("foreground").rich_color, bgcolor=surface.rich_color)
        marks = {
            name: Style(color=desk_color(variables, name).rich_color)
            for name in ("long", "short", "pnl-up", "pnl-down", "pnl-flat")
        }
        return cls(
            text=text,
            stripe=text + Style(bgcolor=panel.rich_color),
            header=text + Style(color=colour("muted").rich_color, bold=True),
            cursor=Style(
                color=primary.get_contrast_text(1.0).rich_color,
                bgcolor=primary.rich_color,
                bold=True,
            ),
            marks=marks,
        )


class ReportTable(ScrollView, can_focus=True):
    """A read-only table of a report section: a sticky header, a row cursor, every row.

    Keys: `j`/`k` or arrows move the cursor, `space`/page keys page, `g`/`G` jump.

    Args:
        data: The table to show.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "move(1)", "Down", show=False, id="report-row-down"),
        Binding("up,k", "move(-1)", "Up", show=False, id="report-row-up"),
        Binding("pagedown,space", "page(1)", "Page down", show=False, id="report-rows-page-down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="report-rows-page-up"),
        Binding("home,g", "jump(0)", "First row", show=False, id="report-first-row"),
        Binding("end,G", "jump(-1)", "Last row", show=False, id="report-last-row"),
    ]

    cursor_row: reactive[int] = reactive(0)

    def __init__(self, data: TableData, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="pane report-table")
        self.data = data
        self.fit: ColumnFit | None = None
        self._widths: list[int] = []
        self._shown: list[tuple[str, ...]] = []
        self._labels: tuple[str, ...] = ()
        self._palette: _Palette | None = None
        self.border_title = data.title

    @property
    def row_count(self) -> int:
        """The number of rows (every row of the data, whatever is on screen)."""
        return len(self.data.rows)

    def shown_row(self, index: int) -> tuple[str, ...]:
        """Return the cells of a row as the table shows them (kept columns, their form)."""
        return self._shown[index]

    def on_mount(self) -> None:
        """Follow theme changes (the colours of sides and PnL)."""
        self.app.theme_changed_signal.subscribe(self, self._restyle)

    def _restyle(self, _theme: Theme) -> None:
        self._palette = None
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        """Choose the columns for the new width."""
        width = max(1, event.size.width - self.styles.gutter.width - SCROLLBAR)
        fit = choose_layout(self.data, width)
        if fit != self.fit:
            self._apply(fit)

    def _apply(self, fit: ColumnFit) -> None:
        self.fit = fit
        columns = [self.data.columns[i] for i in fit.columns]
        self._labels = tuple(
            (c.short_label or c.label) if fit.compact else c.label for c in columns
        )
        self._shown = [_shown(cells, fit, self.data) for cells in self.data.rows]
        self._widths = [
            max([len(label), *(len(row[n]) for row in self._shown)]) + CELL_PADDING
            for n, label in enumerate(self._labels)
        ]
        hidden = len(self.data.columns) - len(columns)
        self.border_subtitle = f"{hidden} columns hidden: widen to see them" if hidden else ""
        self.virtual_size = Size(sum(self._widths), self.row_count + 1)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        """Draw the header (line 0, never scrolled away) or one row."""
        if self._palette is None:
            self._palette = _Palette.of(self.app.theme_variables)
        palette = self._palette
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        if self.fit is None:  # drawn before the first resize chose the columns
            return Strip.blank(width, palette.text)
        if y == 0:
            strip = self._line(self._labels, palette.header, palette, header=True)
        else:
            index = scroll_y + y - 1
            if index >= self.row_count:
                return Strip.blank(width, palette.text)
            style = palette.stripe if index % 2 else palette.text
            if index == self.cursor_row:
                style = palette.cursor
            strip = self._line(self._shown[index], style, palette, header=False)
        return strip.crop_extend(scroll_x, scroll_x + width, palette.text)

    def _line(
        self, cells: Sequence[str], style: Style, palette: _Palette, *, header: bool
    ) -> Strip:
        segments = []
        fit = self.fit
        assert fit is not None  # render_line draws nothing before the columns are chosen
        for number, (cell, width) in enumerate(zip(cells, self._widths, strict=True)):
            kind = self.data.columns[fit.columns[number]].kind
            inner = width - CELL_PADDING
            text = (
                cell.ljust(inner) if kind in (CellKind.TEXT, CellKind.SIDE) else cell.rjust(inner)
            )
            mark = (
                style if header or style is palette.cursor else style + _mark(cell, kind, palette)
            )
            segments.append(Segment(f" {text} ", mark))
        return Strip(segments)

    def watch_cursor_row(self, old: int, new: int) -> None:
        """Keep the cursor on screen."""
        visible = max(1, self.scrollable_content_region.height - 1)
        top = round(self.scroll_y)
        if new < top:
            self.scroll_to(y=new, animate=False)
        elif new >= top + visible:
            self.scroll_to(y=new - visible + 1, animate=False)
        self.refresh()

    def action_move(self, step: int) -> None:
        """Move the cursor by `step` rows."""
        if self.row_count:
            self.cursor_row = min(max(0, self.cursor_row + step), self.row_count - 1)

    def action_page(self, direction: int) -> None:
        """Move the cursor by one screen of rows."""
        self.action_move(direction * max(1, self.scrollable_content_region.height - 1))

    def action_jump(self, row: int) -> None:
        """Move the cursor to the first row (0) or the last (-1)."""
        if self.row_count:
            self.cursor_row = row % self.row_count


def _shown(cells: Sequence[str], fit: ColumnFit, data: TableData) -> tuple[str, ...]:
    shown = []
    for index in fit.columns:
        column = data.columns[index]
        text = cells[index] if index < len(cells) else ""
        if fit.compact and column.compact is not None:
            text = column.compact(text)
        shown.append(text)
    return tuple(shown)


def _mark(text: str, kind: CellKind, palette: _Palette) -> Style:
    if kind is CellKind.SIDE:
        side = text.lower()
        return palette.marks.get(side, Style())
    if kind is CellKind.PNL:
        if text.lstrip("+-") in {"0.00", "0"}:
            return palette.marks["pnl-flat"]
        sign = text[:1]
        return palette.marks["pnl-up" if sign == "+" else "pnl-down" if sign == "-" else "pnl-flat"]
    return Style()
