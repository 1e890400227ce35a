"""The signals stream: one row per signal, keyed by signal id, updated as it opens and closes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.theme import Theme
from textual.widgets import DataTable

from tui.formatting import format_price, format_short_timestamp, format_signed
from tui.runs import SignalStatus, SignalView
from tui.theming import desk_color
from tui.widgets.vim_table import VimTable

COLUMNS = (
    ("time", "Open time"),
    ("pos", "Pos"),
    ("open", "Open"),
    ("close", "Close"),
    ("why", "Why"),
    ("pnl", "PnL %"),
)

REASONS = {"take_profit": "TP", "stop_loss": "SL", "time_expired": "time"}


def _why(view: SignalView) -> str:
    if view.status is SignalStatus.CLOSED:
        reason = REASONS.get(view.close_reason or "", view.close_reason or "")
        return f"{reason}*" if view.ambiguous else reason
    return {"opened": "open", "scheduled": "sched", "cancelled": "cancel"}[view.status.value]


PALETTE = ("long", "short", "muted", "pnl-up", "pnl-down", "pnl-flat")
STREAM_ROWS = 40
"""Rows the live stream keeps (the newest); statistics and charts use every signal."""


def palette(variables: Mapping[str, str]) -> dict[str, str]:
    """Return the desk colours a signal row uses, as hex strings."""
    return {name: desk_color(variables, name).hex for name in PALETTE}


def signal_cells(view: SignalView, colours: Mapping[str, str]) -> tuple[Text, ...]:
    """Return the six cells of a signal's row, coloured from a `palette`."""
    colour = colours.__getitem__
    pnl = view.pnl_percentage
    pnl_colour = "pnl-flat" if pnl is None or pnl == 0 else "pnl-up" if pnl > 0 else "pnl-down"
    muted = view.status is not SignalStatus.CLOSED
    return (
        Text(format_short_timestamp(view.opened_at)),
        Text(view.position.upper(), style=colour("long" if view.position == "long" else "short")),
        Text(format_price(view.price_open), justify="right"),
        Text(format_price(view.price_close), justify="right"),
        Text(_why(view), style=colour("muted") if muted else ""),
        Text(format_signed(pnl), style=colour(pnl_colour), justify="right"),
    )


class SignalsTable(VimTable):
    """The newest signals of a run (at most `max_rows`), newest at the bottom, keyed by id.

    While the table has the focus, moving the cursor announces the signal under it (the
    chart follows).
    """

    @dataclass
    class SignalHighlighted(Message):
        """The cursor moved to a signal."""

        view: SignalView

    def __init__(
        self, *, max_rows: int = STREAM_ROWS, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self.max_rows = max_rows
        self.views: dict[str, SignalView] = {}

    def on_mount(self) -> None:
        """Add the columns and follow theme changes."""
        for key, label in COLUMNS:
            self.add_column(label, key=key)
        self.app.theme_changed_signal.subscribe(self, self._restyle)

    def _restyle(self, _theme: Theme) -> None:
        self.show(list(self.views.values()))

    def show(self, views: Sequence[SignalView]) -> None:
        """Replace all rows with the newest `max_rows` of `views`."""
        self.clear()
        self.views = {}
        self._apply(views[-self.max_rows :])

    def upsert(self, views: Sequence[SignalView]) -> None:
        """Add new signals and update the rows of known ones (by signal id).

        Beyond `max_rows` rows the oldest rows leave; a batch that alone fills the table
        replaces it (cheaper than removing row after row).
        """
        fresh = [v for v in views if v.signal_id not in self.views]
        if len(fresh) >= self.max_rows:
            self.show(fresh)
        else:
            self._apply(views)

    def _apply(self, views: Sequence[SignalView]) -> None:
        colours = palette(self.app.theme_variables)
        for view in views:
            known = self.views.get(view.signal_id)
            if known == view:
                continue
            cells = signal_cells(view, colours)
            if known is not None:
                for (key, _), cell in zip(COLUMNS, cells, strict=True):
                    self.update_cell(view.signal_id, key, cell)
            else:
                self.add_row(*cells, key=view.signal_id)
            self.views[view.signal_id] = view
        while len(self.views) > self.max_rows:
            oldest = next(iter(self.views))
            del self.views[oldest]
            self.remove_row(oldest)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Announce the signal under the cursor while the table has the focus."""
        event.stop()
        if self.has_focus:
            self._announce(str(event.row_key.value))

    def on_focus(self) -> None:
        """Announce the signal under the cursor when the table gets the focus."""
        if self.row_count:
            self._announce(str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value))

    def _announce(self, key: str) -> None:
        view = self.views.get(key)
        if view is not None:
            self.post_message(self.SignalHighlighted(view))
