"""Reports dumped on disk (`./dump/**/*.md`), listed newest first and shown natively."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from tui.formatting import format_timestamp
from tui.screens.report import ReportScreen
from tui.widgets.key_footer import KeyFooter
from tui.widgets.report_view import ReportContent, ReportView


class VimOptionList(OptionList):
    """An OptionList that also moves with `j`/`k` and jumps with `g`/`G`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False, id="list-down"),
        Binding("k", "cursor_up", "Up", show=False, id="list-up"),
        Binding("g", "first", "First", show=False, id="list-first"),
        Binding("G", "last", "Last", show=False, id="list-last"),
    ]


def find_reports(dump_dir: Path) -> list[Path]:
    """Return the markdown files under `dump_dir`, newest first."""
    if not dump_dir.is_dir():
        return []
    return sorted(dump_dir.rglob("*.md"), key=lambda p: (-p.stat().st_mtime, str(p)))


class ReportsScreen(Screen[None]):
    """Past reports: a list on the left, the highlighted one previewed on the right.

    Enter opens the highlighted report full screen.

    Args:
        dump_dir: The folder the engine dumps reports into.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="reports-back"),
        Binding(
            "enter",
            "read_report",
            "Read",
            tooltip="Open the highlighted report full screen",
            id="read-report",
        ),
    ]

    def __init__(self, dump_dir: Path) -> None:
        super().__init__()
        self.dump_dir = dump_dir
        self.paths = find_reports(dump_dir)

    def compose(self) -> ComposeResult:
        """List and viewer."""
        yield Label(f"Reports · {self.dump_dir}", classes="screen-title")
        with Horizontal(id="reports-body"):
            options = [
                Option(
                    f"{path.relative_to(self.dump_dir)}\n"
                    f"[dim]{format_timestamp(int(path.stat().st_mtime * 1000))} UTC[/]",
                    id=str(index),
                )
                for index, path in enumerate(self.paths)
            ]
            report_list = VimOptionList(*options, id="report-list", classes="pane")
            report_list.border_title = f"Files ({len(self.paths)})"
            yield report_list
            with Vertical(id="report-preview"):
                if not self.paths:
                    yield Label(
                        f"No reports yet: a finished run writes one to {self.dump_dir}.",
                        classes="hint",
                    )
        yield KeyFooter()

    def on_mount(self) -> None:
        """Show the newest report."""
        report_list = self.query_one(VimOptionList)
        report_list.focus()
        if self.paths:
            report_list.highlighted = 0

    def _content(self, path: Path) -> ReportContent:
        return ReportContent.from_markdown(path.read_text(encoding="utf-8"), path.name)

    @on(OptionList.OptionHighlighted, "#report-list")
    async def _show(self, event: OptionList.OptionHighlighted) -> None:
        path = self.paths[int(event.option.id or 0)]
        preview = self.query_one("#report-preview", Vertical)
        await preview.remove_children()
        await preview.mount(ReportView(self._content(path)))

    @on(OptionList.OptionSelected, "#report-list")
    def _read(self) -> None:
        self.action_read_report()

    def action_read_report(self) -> None:
        """Open the highlighted report full screen."""
        index = self.query_one(VimOptionList).highlighted
        if index is not None and self.paths:
            path = self.paths[index]
            self.app.push_screen(ReportScreen(self._content(path), str(path)))
