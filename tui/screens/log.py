"""The event log full screen: every line of the desk's log, wrapped to the width, scrollable."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Label, RichLog

from tui.widgets.event_log import EventLog
from tui.widgets.key_footer import KeyFooter


class LogScreen(Screen[None]):
    """The desk's event log on the whole screen, newest line at the bottom; `esc` goes back.

    Args:
        source: The main screen's log pane (its lines are shown here, unwrapped first).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="log-back"),
        Binding("j", "scroll_lines(1)", "Down", show=False, id="log-down"),
        Binding("k", "scroll_lines(-1)", "Up", show=False, id="log-up"),
        Binding("g", "scroll_edge('home')", "First", show=False, id="log-first"),
        Binding("G", "scroll_edge('end')", "Last", show=False, id="log-last"),
    ]

    DEFAULT_CSS = """
    LogScreen > #log-full { height: 1fr; scrollbar-size-horizontal: 0; }
    """

    def __init__(self, source: EventLog) -> None:
        super().__init__()
        self.source = source

    def compose(self) -> ComposeResult:
        """Title, the log, footer."""
        yield Label(
            f"Log · {len(self.source.entries):,} lines · j/k scroll · g/G first/last · esc back",
            classes="screen-title",
        )
        log = RichLog(id="log-full", wrap=True, markup=False, classes="pane")
        log.border_title = "Log"
        yield log
        yield KeyFooter()

    def on_mount(self) -> None:
        """Write the lines and show the newest."""
        log = self.query_one("#log-full", RichLog)
        for line in self.source.entries:
            log.write(line, scroll_end=True)
        log.focus()

    def action_scroll_lines(self, lines: int) -> None:
        """Scroll the log by `lines` (negative: up)."""
        log = self.query_one("#log-full", RichLog)
        log.scroll_relative(y=lines, animate=False)

    def action_scroll_edge(self, edge: str) -> None:
        """Jump to the oldest (`home`) or the newest (`end`) line."""
        log = self.query_one("#log-full", RichLog)
        if edge == "home":
            log.scroll_home(animate=False)
        else:
            log.scroll_end(animate=False)
