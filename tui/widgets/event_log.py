"""The event log pane: one timestamped line per thing that happened."""

from __future__ import annotations

from collections import deque
from typing import ClassVar

from rich.text import Text
from textual.events import Resize
from textual.widgets import RichLog

from tui.formatting import Clock, format_log_time
from tui.theming import desk_color

MAX_LINES = 2000


class EventLog(RichLog):
    """Timestamped, colour-coded lines: runs, signals worth noting, engine errors.

    Args:
        clock: Returns the time stamped on each line.
    """

    SEVERITY_VARIABLES: ClassVar[dict[str, str | None]] = {
        "information": None,
        "warning": "warning",
        "error": "error",
    }

    def __init__(self, clock: Clock, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, wrap=True, markup=False, max_lines=MAX_LINES)
        self._clock = clock
        self.entries: deque[Text] = deque(maxlen=MAX_LINES)
        """Every line written, unwrapped (the full-screen log redraws them at its width)."""

    def on_resize(self, event: Resize) -> None:
        """Keep the newest line shown when the pane changes size (compact tabs, a resize)."""
        super().on_resize(event)
        self.call_after_refresh(self.scroll_end, animate=False, immediate=True)

    def add(self, text: str, severity: str = "information") -> None:
        """Append one line; `severity` is `information`, `warning` or `error`."""
        line = Text(f"{format_log_time(self._clock())} ", style="dim")
        variable = self.SEVERITY_VARIABLES.get(severity)
        style = desk_color(self.app.theme_variables, variable).hex if variable else ""
        line.append(text, style=style)
        self.entries.append(line)
        self.write(line)
