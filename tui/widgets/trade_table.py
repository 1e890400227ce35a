"""A virtual table of closed trades: it draws only the rows on screen, from a sorted index.

Textual's `DataTable` builds a row object per trade; with 10,000 trades, filling it or
re-sorting it stops the UI for a noticeable time. This table keeps the trades as they are,
one numpy array per sortable column, and an index array (sorted, filtered) of the rows to
show; a key press re-sorts the index (a few milliseconds) and repaints the visible lines.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual import events, work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from tui.formatting import MISSING, format_price, format_short_timestamp, format_signed
from tui.runs import SignalView
from tui.widgets.signals_table import REASONS, palette

MINUTE_MS = 60_000


def format_duration(milliseconds: int | None) -> str:
    """Return a trade's duration as `45m`, `3h05m` or `2d04h` (`—` when unknown)."""
    if milliseconds is None:
        return MISSING
    minutes = max(0, milliseconds) // MINUTE_MS
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def reason_label(view: SignalView) -> str:
    """Return the short close reason (`TP`, `SL`, `time`; `*` when the candle was ambiguous)."""
    reason = REASONS.get(view.close_reason or "", view.close_reason or MISSING)
    return f"{reason}*" if view.ambiguous else reason


def trade_fee(view: SignalView) -> float | None:
    """Return the fee paid on a trade in money, or None when the run did not record it."""
    fee = getattr(view, "fee", None)
    return None if fee is None else float(fee)


def trade_pnl_money(view: SignalView) -> float | None:
    """Return a trade's PnL in money, or None when the run did not record it."""
    pnl = getattr(view, "pnl_money", None)
    return None if pnl is None else float(pnl)


def _duration(view: SignalView) -> int | None:
    return None if view.closed_at is None else view.closed_at - view.opened_at


def _number(value: float | None) -> float:
    return float("nan") if value is None else float(value)


@dataclass(frozen=True)
class Column:
    """A blotter column: its title, width, how a trade's cell reads and how it sorts."""

    key: str
    label: str
    width: int
    text: Callable[[SignalView], str]
    sort_value: Callable[[SignalView], float | str]
    right: bool = True


COLUMNS: tuple[Column, ...] = (
    Column(
        "opened",
        "Open time",
        11,
        lambda v: format_short_timestamp(v.opened_at),
        lambda v: v.opened_at,
        right=False,
    ),
    Column(
        "closed",
        "Close time",
        11,
        lambda v: MISSING if v.closed_at is None else format_short_timestamp(v.closed_at),
        lambda v: _number(v.closed_at),
        right=False,
    ),
    Column("side", "Side", 5, lambda v: v.position.upper(), lambda v: v.position, right=False),
    Column("entry", "Entry", 10, lambda v: format_price(v.price_open), lambda v: v.price_open),
    Column(
        "tp",
        "TP",
        10,
        lambda v: format_price(v.price_take_profit),
        lambda v: v.price_take_profit,
    ),
    Column("sl", "SL", 10, lambda v: format_price(v.price_stop_loss), lambda v: v.price_stop_loss),
    Column(
        "exit", "Exit", 10, lambda v: format_price(v.price_close), lambda v: _number(v.price_close)
    ),
    Column("reason", "Why", 5, reason_label, reason_label, right=False),
    Column(
        "duration",
        "Held",
        6,
        lambda v: format_duration(_duration(v)),
        lambda v: _number(_duration(v)),
    ),
    Column(
        "fee",
        "Fee",
        7,
        lambda v: format_signed(trade_fee(v)).lstrip("+"),
        lambda v: _number(trade_fee(v)),
    ),
    Column(
        "pnl",
        "PnL %",
        7,
        lambda v: format_signed(v.pnl_percentage),
        lambda v: _number(v.pnl_percentage),
    ),
    Column(
        "money",
        "PnL",
        9,
        lambda v: format_signed(trade_pnl_money(v)),
        lambda v: _number(trade_pnl_money(v)),
    ),
)
COLUMN_KEYS = tuple(column.key for column in COLUMNS)
PRICE_KEYS = frozenset({"entry", "tp", "sl", "exit"})
PRIORITY = tuple(
    COLUMN_KEYS.index(key)
    for key in (
        "opened",
        "side",
        "entry",
        "exit",
        "pnl",
        "reason",
        "money",
        "closed",
        "tp",
        "sl",
        "duration",
        "fee",
    )
)
"""Which columns stay when the table is narrower than all of them, most important first."""
SIDES = ("long", "short")
REASON_WORDS = {"tp": "take_profit", "sl": "stop_loss", "time": "time_expired"}


def row_text(view: SignalView) -> str:
    """Return a trade's cells as one lower-case line (what free-text filter words search)."""
    return " ".join(column.text(view) for column in COLUMNS).lower()


def matches(view: SignalView, words: Sequence[str], text: str | None = None) -> bool:
    """Return whether a trade matches every word of a filter.

    A side (`long`, `short`) or a reason (`tp`, `sl`, `time`, or the engine's
    `take_profit` …) matches that field exactly; any other word must occur in one of the
    row's cells (case-insensitive), e.g. a date `03-14` or a price. `text` is the trade's
    `row_text`, when the caller keeps it.
    """
    for word in words:
        if word in SIDES:
            if view.position != word:
                return False
        elif word in REASON_WORDS or word in REASON_WORDS.values():
            if view.close_reason != REASON_WORDS.get(word, word):
                return False
        elif word not in (row_text(view) if text is None else text):
            return False
    return True


class TradeTable(Widget, can_focus=True):
    """Every trade of a run, one line each, sortable by any column and filterable.

    Only the lines on screen are drawn. `left`/`right` pick a column (when the screen is
    too narrow for all of them, the less important ones give way to the cursor's), `s`
    sorts by it and again reverses, `enter` opens the trade under the cursor.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "move(1)", "Down", show=False, id="blotter-down"),
        Binding("up,k", "move(-1)", "Up", show=False, id="blotter-up"),
        Binding("pagedown,ctrl+d", "page(1)", "Page down", show=False, id="blotter-page-down"),
        Binding("pageup,ctrl+u", "page(-1)", "Page up", show=False, id="blotter-page-up"),
        Binding("home,g", "jump(0)", "First trade", show=False, id="blotter-first"),
        Binding("end,G", "jump(-1)", "Last trade", show=False, id="blotter-last"),
        Binding("left", "column(-1)", "Column left", show=False, id="blotter-column-left"),
        Binding("right", "column(1)", "Column right", show=False, id="blotter-column-right"),
        Binding(
            "s",
            "sort_column",
            "Sort",
            tooltip="Sort by the cursor's column; again reverses the order",
            id="blotter-sort",
        ),
        Binding("enter", "open_trade", "Open trade", tooltip="Chart the trade", id="blotter-open"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "trade-table--header",
        "trade-table--header-cursor",
        "trade-table--cursor",
        "trade-table--stripe",
    }

    DEFAULT_CSS = """
    TradeTable { height: 1fr; background: $surface; }
    TradeTable > .trade-table--header {
        color: $text-muted; background: $surface; text-style: bold;
    }
    TradeTable > .trade-table--header-cursor {
        color: $text; background: $surface; text-style: bold reverse;
    }
    TradeTable > .trade-table--cursor {
        background: $block-cursor-blurred-background; color: $block-cursor-blurred-foreground;
    }
    TradeTable:focus > .trade-table--cursor {
        background: $block-cursor-background; color: $block-cursor-foreground;
        text-style: $block-cursor-text-style;
    }
    TradeTable > .trade-table--stripe { background: $surface-lighten-1; }
    """

    @dataclass
    class TradeChosen(Message):
        """`enter` on a trade."""

        view: SignalView

    @dataclass
    class Changed(Message):
        """The rows shown changed (new trades, order or filter)."""

        table: TradeTable

    cursor_row: reactive[int] = reactive(0, repaint=True)
    cursor_column: reactive[int] = reactive(COLUMN_KEYS.index("pnl"), repaint=True)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.trades: tuple[SignalView, ...] = ()
        self.order: np.ndarray = np.empty(0, dtype=np.intp)
        """Indices into `trades` of the rows shown, in the order shown."""
        self.sort_key: str | None = None
        self.descending = False
        self.filter_words: tuple[str, ...] = ()
        self._sort_values: dict[str, np.ndarray] = {}
        self._texts: tuple[tuple[SignalView, ...], list[str]] = ((), [])
        self._top = 0
        self._widths = [column.width for column in COLUMNS]
        self._colours: tuple[str, dict[str, str]] = ("", {})

    def show(self, trades: Sequence[SignalView]) -> None:
        """Replace the trades (opening order until sorted); the order and the filter stay."""
        self.trades = tuple(trades)
        self._widths = self._fitted_widths()
        self.order = np.empty(0, dtype=np.intp)
        self._sort_values = {}
        self._reindex()
        self._prepare_texts(self.trades)
        self.cursor_row = 0
        self._top = 0

    def _fitted_widths(self) -> list[int]:
        """Column widths, the price columns as wide as the largest price needs."""
        biggest = max(
            (max(v.price_open, v.price_take_profit, v.price_stop_loss) for v in self.trades),
            default=0.0,
        )
        price = max(6, len(format_price(biggest)))
        return [price if c.key in PRICE_KEYS else c.width for c in COLUMNS]

    @property
    def shown_count(self) -> int:
        """Return how many trades pass the filter."""
        return int(self.order.shape[0])

    @property
    def current(self) -> SignalView | None:
        """Return the trade under the cursor (None when no row is shown)."""
        if not self.shown_count:
            return None
        return self.trades[int(self.order[self.cursor_row])]

    def row(self, position: int) -> SignalView:
        """Return the trade shown at `position` (0 is the top of the order)."""
        return self.trades[int(self.order[position])]

    def sort_by(self, key: str, *, descending: bool = False) -> None:
        """Order the rows by a column (`COLUMN_KEYS`); trades without a value go last."""
        self.sort_key, self.descending = key, descending
        self._reindex()

    def filter(self, text: str) -> None:
        """Show only the trades matching every word of `text` (see `matches`)."""
        self.filter_words = tuple(text.lower().split())
        self._reindex()

    def _values(self, key: str) -> np.ndarray:
        values = self._sort_values.get(key)
        if values is None:
            column = COLUMNS[COLUMN_KEYS.index(key)]
            values = np.array([column.sort_value(view) for view in self.trades])
            self._sort_values[key] = values
        return values

    @work(thread=True, exclusive=True, group="trade-texts", exit_on_error=False)
    def _prepare_texts(self, trades: tuple[SignalView, ...]) -> None:
        """Write every row's text in a thread, before the first free-text filter needs it."""
        texts = [row_text(view) for view in trades]
        self._texts = (trades, texts)

    def _row_texts(self) -> list[str]:
        trades, texts = self._texts
        if trades is not self.trades:  # asked before the thread finished
            texts = [row_text(view) for view in self.trades]
            self._texts = (self.trades, texts)
        return texts

    def _reindex(self) -> None:
        current = int(self.order[self.cursor_row]) if self.current is not None else None
        order = np.arange(len(self.trades), dtype=np.intp)
        if self.sort_key is not None and len(self.trades):
            values = self._values(self.sort_key)
            if values.dtype.kind == "f":
                missing = np.isnan(values)
                present = order[~missing]
                ranked = present[np.argsort(values[~missing], kind="stable")]
                if self.descending:
                    ranked = ranked[::-1]
                order = np.concatenate([ranked, order[missing]])
            else:
                order = np.argsort(values, kind="stable")
                if self.descending:
                    order = order[::-1]
        if self.filter_words:
            words, texts = self.filter_words, self._row_texts()
            keep = np.fromiter(
                (matches(self.trades[i], words, texts[i]) for i in order),
                dtype=bool,
                count=len(order),
            )
            order = order[keep]
        self.order = np.ascontiguousarray(order, dtype=np.intp)
        row = 0
        if current is not None:
            found = np.flatnonzero(self.order == current)
            row = int(found[0]) if found.shape[0] else 0
        self.cursor_row = row
        self._follow_cursor()
        self.refresh()
        self.post_message(self.Changed(self))

    @property
    def _visible_rows(self) -> int:
        return max(1, self.size.height - 1)

    def _follow_cursor(self) -> None:
        rows = self._visible_rows
        last_top = max(0, self.shown_count - rows)
        if self.cursor_row < self._top:
            self._top = self.cursor_row
        elif self.cursor_row >= self._top + rows:
            self._top = self.cursor_row - rows + 1
        self._top = min(self._top, last_top)

    def watch_cursor_row(self, _old: int, _new: int) -> None:
        """Keep the cursor on screen."""
        self._follow_cursor()

    def action_move(self, rows: int) -> None:
        """Move the cursor by `rows`."""
        if self.shown_count:
            self.cursor_row = min(self.shown_count - 1, max(0, self.cursor_row + rows))

    def action_page(self, pages: int) -> None:
        """Move the cursor by a screenful."""
        self.action_move(pages * self._visible_rows)

    def action_jump(self, position: int) -> None:
        """Jump to the first (0) or last (-1) trade."""
        if self.shown_count:
            self.cursor_row = position % self.shown_count

    def action_column(self, step: int) -> None:
        """Move the column cursor; the columns scroll sideways to keep it on screen."""
        self.cursor_column = min(len(COLUMNS) - 1, max(0, self.cursor_column + step))

    def action_sort_column(self) -> None:
        """Sort by the cursor's column; on the sorted column, reverse the order."""
        key = COLUMN_KEYS[self.cursor_column]
        self.sort_by(key, descending=not self.descending if key == self.sort_key else False)

    def action_open_trade(self) -> None:
        """Announce the trade under the cursor."""
        view = self.current
        if view is not None:
            self.post_message(self.TradeChosen(view))

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        """Scroll three rows."""
        event.stop()
        self.action_move(3)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        """Scroll three rows."""
        event.stop()
        self.action_move(-3)

    def on_click(self, event: events.Click) -> None:
        """Put the cursor on the clicked row and column (a header click sorts)."""
        column = self._column_at(event.x)
        if column is not None:
            self.cursor_column = column
        if event.y == 0:
            self.action_sort_column()
        elif self.shown_count:
            self.cursor_row = min(self.shown_count - 1, self._top + event.y - 1)

    def on_resize(self, _event: events.Resize) -> None:
        """Keep the cursor row on screen."""
        self._follow_cursor()

    def _layout(self) -> list[int]:
        """Return the column indices drawn, in table order.

        When every column does not fit, the most important ones that fit are drawn
        (`PRIORITY`), always with the cursor's column.
        """
        widths, room = self._widths, self.size.width
        if sum(widths) + len(widths) - 1 <= room:
            return list(range(len(COLUMNS)))
        chosen = {self.cursor_column}
        used = widths[self.cursor_column]
        for index in PRIORITY:
            if index not in chosen and used + 1 + widths[index] <= room:
                chosen.add(index)
                used += 1 + widths[index]
        return sorted(chosen)

    def _column_at(self, x: int) -> int | None:
        start = 0
        for index in self._layout():
            if start <= x < start + self._widths[index] + 1:
                return index
            start += self._widths[index] + 1
        return None

    def header_labels(self) -> list[str]:
        """Return every column's title, the sorted one with ▲ (ascending) or ▼."""
        labels = []
        for column in COLUMNS:
            arrow = ("▼" if self.descending else "▲") if column.key == self.sort_key else ""
            labels.append(f"{column.label}{arrow}")
        return labels

    def _cell(self, text: str, index: int) -> str:
        width = self._widths[index]
        if len(text) > width:
            text = text[: width - 1] + "…"
        return text.rjust(width) if COLUMNS[index].right else text.ljust(width)

    def render_line(self, y: int) -> Strip:
        """Draw the header (line 0) or the trade at `top + y - 1`."""
        width = self.size.width
        base = self.rich_style
        layout = self._layout()
        if y == 0:
            header = self.get_component_rich_style("trade-table--header")
            under_cursor = self.get_component_rich_style("trade-table--header-cursor")
            labels = self.header_labels()
            segments = []
            for index in layout:
                style = under_cursor if index == self.cursor_column else header
                segments += [Segment(self._cell(labels[index], index), style)]
                segments.append(Segment(" ", header))
            return Strip(segments).crop_extend(0, width, header)
        position = self._top + y - 1
        if position >= self.shown_count:
            return Strip.blank(width, base)
        view = self.row(position)
        if position == self.cursor_row:
            line = self.get_component_rich_style("trade-table--cursor")
            cells = [Segment(self._cell(COLUMNS[i].text(view), i), line) for i in layout]
        else:
            line = self.get_component_rich_style("trade-table--stripe") if position % 2 else base
            colours = self._palette()
            cells = [
                Segment(
                    self._cell(COLUMNS[i].text(view), i),
                    line + self._colour(COLUMNS[i].key, view, colours),
                )
                for i in layout
            ]
        segments = []
        for cell in cells:
            segments += [cell, Segment(" ", line)]
        return Strip(segments).crop_extend(0, width, line)

    def _palette(self) -> dict[str, str]:
        if self._colours[0] != self.app.theme:
            self._colours = (self.app.theme, palette(self.app.theme_variables))
        return self._colours[1]

    @staticmethod
    def _colour(key: str, view: SignalView, colours: dict[str, str]) -> Style:
        if key == "side":
            return Style(color=colours["long" if view.position == "long" else "short"])
        if key in ("pnl", "money"):
            value = view.pnl_percentage if key == "pnl" else trade_pnl_money(view)
            name = "pnl-flat" if not value else "pnl-up" if value > 0 else "pnl-down"
            return Style(color=colours[name])
        return Style()
