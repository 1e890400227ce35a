"""A gap calendar: one line per UTC day (newest first), one cell per hour, shaded by gaps.

A cell shows the minutes the hour misses (or, when none miss, the zero-volume minutes) and
is shaded by how bad it is; hours outside the dataset's range show a dot.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from rich.style import Style
from rich.text import Text
from textual.color import Color
from textual.widgets import Static

from engine.data.inventory import GapCalendar

DAY_LABEL = 11  # "2024-01-01 "
MIN_CELL, MAX_CELL = 2, 4

SHADES = ("complete", "zero volume", "some missing", "hour missing", "no data")
"""The states of an hour, in the legend's order."""


def cell_state(missing: int, zero_volume: int, in_range: int) -> str:
    """Return the state of one hour (one of `SHADES`)."""
    if not in_range:
        return "no data"
    if missing >= in_range:
        return "hour missing"
    if missing:
        return "some missing"
    return "zero volume" if zero_volume else "complete"


def shade_styles(variables: Mapping[str, str]) -> dict[str, Style]:
    """Return the style of each state from the theme's colour variables."""
    surface = Color.parse(variables["surface"])
    foreground = Color.parse(variables["foreground"])
    muted = Color.parse(variables["muted"])

    def filled(name: str, strength: float) -> Style:
        background = surface.blend(Color.parse(variables[name]), strength)
        return Style(bgcolor=background.rich_color, color=foreground.rich_color, bold=True)

    return {
        "complete": filled("primary", 0.25),
        "zero volume": filled("secondary", 0.55),
        "some missing": filled("warning", 0.7),
        "hour missing": filled("error", 0.85),
        "no data": Style(color=muted.rich_color),
    }


class GapCalendarView(Static):
    """The gap calendar of one dataset; the cell width follows the widget's width."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.calendar: GapCalendar | None = None

    def show(self, calendar: GapCalendar | None) -> None:
        """Draw `calendar` (None: nothing to show)."""
        self.calendar = calendar
        self.update(self.render_calendar(self.size.width))

    def on_resize(self) -> None:
        """Fit the cells to the new width."""
        self.update(self.render_calendar(self.size.width))

    def cell(self, day_ms: int, hour: int) -> tuple[str, str]:
        """Return the text and the state of one hour's cell."""
        if self.calendar is None:
            return "", "no data"
        days = self.calendar.days.tolist()
        if day_ms not in days:
            return "·", "no data"
        row = days.index(day_ms)
        missing = int(self.calendar.missing[row, hour])
        zero = int(self.calendar.zero_volume[row, hour])
        state = cell_state(missing, zero, int(self.calendar.in_range[row, hour]))
        if state == "no data":
            return "·", state
        count = missing or zero
        return (str(count) if count else ""), state

    def render_calendar(self, width: int) -> Text:
        """Return the calendar as text for `width` columns: hours header, then the days."""
        calendar = self.calendar
        if calendar is None or not calendar.days.size:
            return Text("No candles to show.", style="italic")
        cell = max(MIN_CELL, min(MAX_CELL, (width - DAY_LABEL) // 24))
        styles = shade_styles(self.app.theme_variables)
        every = 1 if cell >= 3 else 3
        header = Text(" " * DAY_LABEL, style=styles["no data"])
        for hour in range(0, 24, every):
            header.append(f"{hour:02d}".ljust(cell * every), style=styles["no data"])
        lines = [header]
        for row in range(calendar.days.size - 1, -1, -1):
            day_ms = int(calendar.days[row])
            label = datetime.fromtimestamp(day_ms / 1000, UTC).strftime("%Y-%m-%d ")
            line = Text(label)
            for hour in range(24):
                text, state = self.cell(day_ms, hour)
                line.append(_fit(text, state, cell), style=styles[state])
            lines.append(line)
        return Text("\n").join(lines)


def _fit(text: str, state: str, cell: int) -> str:
    """Return a cell's text padded to `cell` columns (numbers right-aligned, a gap after)."""
    if state == "no data":
        return text.center(cell)
    return text.rjust(cell) if cell < 3 else text.rjust(cell - 1) + " "


def legend(variables: Mapping[str, str]) -> Text:
    """Return the legend: a swatch and a word for each state."""
    styles = shade_styles(variables)
    text = Text()
    for state in SHADES:
        swatch = " · " if state == "no data" else "   "
        text.append(swatch, style=styles[state])
        text.append(f" {state}  ")
    text.append("· numbers are minutes")
    return text
