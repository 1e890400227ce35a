"""A run's report in the desk: native (summary, trade table, sections); markdown for the rest.

`ReportScreen` shows a run's report from its data: the summary panel, every trade in a table
that fits the width, then the report's other tables. `MarkdownReportScreen` renders a
markdown document as is (the engine's own reports, opened from the walker).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Label, Markdown

from tui.widgets.key_footer import KeyFooter
from tui.widgets.report_view import ReportContent, ReportView

MAX_TABLE_ROWS = 20


def displayable(markdown: str, source: str | None) -> str:
    """Return the report with each table cut to its first rows (big tables render slowly).

    A note under a cut table says how many rows are left out and where the full report is.
    """
    where = f" in `{source}`" if source else ""
    kept: list[str] = []
    rows = 0
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("|"):
            rows += 1
            if rows <= MAX_TABLE_ROWS + 2:
                kept.append(line)
            continue
        if rows > MAX_TABLE_ROWS + 2:
            hidden = rows - MAX_TABLE_ROWS - 2
            kept += ["", f"*… {hidden} more rows: the full report is{where}.*"]
        rows = 0
        kept.append(line)
    return "\n".join(kept[:-1]) + "\n"


class ReportScroll(VerticalScroll):
    """A scrolling area with vim keys."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "scroll_down", "Down", show=False, id="report-down"),
        Binding("k", "scroll_up", "Up", show=False, id="report-up"),
        Binding("g", "scroll_home", "Top", show=False, id="report-top"),
        Binding("G", "scroll_end", "Bottom", show=False, id="report-bottom"),
        Binding("space", "page_down", "Page down", show=False, id="report-page-down"),
    ]


class MarkdownReportScreen(Screen[None]):
    """A markdown document rendered as is; `esc` goes back.

    Args:
        title: What the report is about (shown in the header line).
        markdown: The report's markdown.
        source: The file the report was dumped to, if any.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="markdown-report-back"),
    ]

    def __init__(self, title: str, markdown: str, source: str | None = None) -> None:
        super().__init__()
        self.report_title = title
        self.markdown = markdown
        self.source = source

    def compose(self) -> ComposeResult:
        """Title line, the report, the footer."""
        suffix = f" · {self.source}" if self.source else ""
        yield Label(f"Report · {self.report_title}{suffix}", classes="screen-title")
        with ReportScroll(id="report-scroll", classes="pane"):
            yield Markdown(displayable(self.markdown, self.source), id="report")
        yield KeyFooter()

    def on_mount(self) -> None:
        """Focus the report so the keys scroll it."""
        self.query_one(ReportScroll).focus()


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
        where = self.source or "not saved to a file"
        yield Label(f"Report · {self.content.title} · {where}", classes="screen-title")
        yield ReportView(self.content, id="report-view")
        yield KeyFooter()

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
