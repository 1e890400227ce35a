"""A run's markdown report rendered in the desk."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Label, Markdown

from tui.widgets.key_footer import KeyFooter

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


class ReportScreen(Screen[None]):
    """The markdown report of one run; `esc` goes back.

    Args:
        title: What the report is about (shown in the header line).
        markdown: The report's markdown.
        source: The file the report was dumped to, if any.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="report-back"),
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
