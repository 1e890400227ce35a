"""A report in the desk, native: the summary, every trade in a table that fits, the sections.

`ReportScreen` shows a report (`tui.widgets.report_view.ReportContent`): the summary
panel, every trade in a table that fits the width, then the report's other sections.
`ReportScroll` is a scrolling area with vim keys, for the screens that show long text.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Label

from tui.widgets.key_footer import KeyFooter
from tui.widgets.report_view import ReportContent, ReportView


class ReportScroll(VerticalScroll):
    """A scrolling area with vim keys."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "scroll_down", "Down", show=False, id="report-down"),
        Binding("k", "scroll_up", "Up", show=False, id="report-up"),
        Binding("g", "scroll_home", "Top", show=False, id="report-top"),
        Binding("G", "scroll_end", "Bottom", show=False, id="report-bottom"),
        Binding("space", "page_down", "Page down", show=False, id="report-page-down"),
    ]


class ReportScreen(Screen[None]):
    """A run's report, native: summary, trades (all rows), other sections; `esc` goes back.

    The title line shows the report file's path; `p` copies it for sharing.

    Args:
        content: The report (`ReportContent.from_record` or `.from_markdown`).
        source: The report's markdown file, if it has one.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="report-back"),
        Binding(
            "p",
            "copy_path",
            "Copy path",
            tooltip="Copy the path of the report's markdown file, for sharing",
            id="report-copy-path",
        ),
        Binding("]", "next_section", "Next section", id="report-next-section"),
        Binding("[", "previous_section", "Previous section", show=False, id="report-prev-section"),
    ]

    def __init__(self, content: ReportContent, source: str | None = None) -> None:
        super().__init__()
        self.content = content
        self.source = source

    def compose(self) -> ComposeResult:
        """Title line with the file's path, the report, the footer."""
        yield Label(self.title_text(), classes="screen-title")
        yield ReportView(self.content, id="report-view")
        yield KeyFooter()

    def title_text(self) -> str:
        """Return the title line: the report's title and its file's path."""
        return f"Report · {self.content.title} · {self.source or 'not saved to a file'}"

    def on_mount(self) -> None:
        """Focus the trade table so the keys scroll it."""
        self.query_one(ReportView).focus_trades()

    def action_copy_path(self) -> None:
        """Copy the report file's absolute path to the clipboard and show it."""
        if self.source is None:
            self.notify("This report has no markdown file.", severity="warning")
            return
        path = str(Path(self.source).resolve())
        self.app.copy_to_clipboard(path)
        self.notify(path, title="Report path copied")

    def action_next_section(self) -> None:
        """Show the next tab of the report (trades, sections, figures)."""
        self.query_one(ReportView).switch_section(1)

    def action_previous_section(self) -> None:
        """Show the previous tab of the report."""
        self.query_one(ReportView).switch_section(-1)
