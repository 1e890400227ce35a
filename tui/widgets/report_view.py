"""A report, native: the summary first, then the trades and each other section as tabs.

A run's report has its schedule, partial and performance sections from the run's data
(`tui.runs.RunSections`); a report read from a file has the tables of its markdown.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, TabbedContent, TabPane, Tabs

from tui.runs import RunRecord
from tui.widgets.report_data import (
    TRADE_COLUMNS,
    Column,
    MarkdownReport,
    TableData,
    parse_markdown,
    trades_table,
)
from tui.widgets.report_sections import partial_table, performance_table, schedule_table
from tui.widgets.report_summary import (
    Figure,
    ReportSummary,
    markdown_figures,
    plain_value,
    run_figures,
)
from tui.widgets.report_table import ReportTable

TRADES_TAB = "report-trades"


@dataclass(frozen=True)
class ReportContent:
    """What a report view shows: summary figures, the trade table, the other tables.

    Build it with `from_record` (a run the desk has: its signals, statistics and sections) or
    `from_markdown` (a report file). Without a trade table the view starts at the first
    section.
    """

    title: str
    summary: tuple[Figure, ...]
    trades: TableData | None
    sections: tuple[TableData, ...]

    @classmethod
    def from_record(cls, record: RunRecord) -> ReportContent:
        """Return the report of a run: its statistics, every closed signal, other sections.

        The sections: the scheduled signals, the partial levels, the timings, any other table
        of the run's markdown, then all its figures.
        """
        parsed = parse_markdown(record.report)
        others = tuple(t for t in parsed.tables if t.columns is not TRADE_COLUMNS)
        summary = tuple(run_figures(record.statistics, record.error_count))
        stored = record.sections
        sections = (
            schedule_table(stored.scheduled if stored else None),
            partial_table(stored.partials if stored else None),
            performance_table(stored.timings if stored else None),
            *others,
            _figures(parsed),
        )
        return cls(record.title, summary, trades_table(record.signals), sections)

    @classmethod
    def from_markdown(cls, markdown: str, name: str) -> ReportContent:
        """Return the report read from a markdown file's text (`name`: the file's name)."""
        parsed = parse_markdown(markdown)
        trades = next((t for t in parsed.tables if t.columns is TRADE_COLUMNS), None)
        others = tuple(t for t in parsed.tables if t is not trades)
        summary = tuple(markdown_figures(parsed.figures))
        return cls(parsed.title or name, summary, trades, (*others, _figures(parsed)))


def _figures(parsed: MarkdownReport) -> TableData:
    rows = tuple((label, plain_value(value)) for label, value in parsed.figures)
    columns = (Column("Figure", 0), Column("Value", 1))
    return TableData(f"Figures ({len(rows)})", columns, rows)


class ReportView(Vertical):
    """The summary panel, then tabs: the trades (all rows), each other section, all figures.

    The summary panel shows the figures of the tab on screen: a section's own (the schedule's
    counts, the partial levels') when it has some, else the report's key figures; a report
    with neither has no panel. A section without rows says so in a sentence. A report of one
    table shows no tab strip.

    Args:
        content: What to show.
    """

    def __init__(self, content: ReportContent, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="report-view")
        self.content = content
        self._sections = {
            f"report-section-{number}": section
            for number, section in enumerate(content.sections, start=1)
        }

    def compose(self) -> ComposeResult:
        """Summary, then one tab per table."""
        content = self.content
        yield ReportSummary(content.summary, id="report-summary")
        with TabbedContent(id="report-tabs"):
            if content.trades is not None:
                with TabPane(content.trades.title, id=TRADES_TAB):
                    yield ReportTable(content.trades, id="report-trades-table")
            elif not content.sections:
                with TabPane("Trades", id=TRADES_TAB):
                    yield Label("This report has no trade table.", classes="hint")
            for pane_id, section in self._sections.items():
                with TabPane(section.title, id=pane_id):
                    if section.rows:
                        yield ReportTable(section)
                    else:
                        yield Label(section.empty, classes="hint")

    def on_mount(self) -> None:
        """Show the figures of the first tab; hide the tab strip of a report of one table."""
        tabs = self.query_one(TabbedContent)
        tabs.query_one(Tabs).display = len(self.query(TabPane)) > 1
        self._show_figures(tabs.active)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        """Show the figures of the tab that came on screen."""
        self._show_figures(event.pane.id)

    def _show_figures(self, pane_id: str | None) -> None:
        section = self._sections.get(pane_id or "")
        summary = self.query_one(ReportSummary)
        if section is not None and section.figures:
            summary.show(section.figures, f"Summary · {section.title}")
        else:
            summary.show(self.content.summary, "Summary")

    def focus_trades(self) -> None:
        """Focus the trade table (or the first table there is)."""
        tables = self.query(ReportTable)
        if tables:
            tables.first().focus()

    def switch_section(self, step: int) -> None:
        """Show the tab `step` places after the current one (wrapping), focusing its table."""
        tabs = self.query_one(TabbedContent)
        panes = [pane.id for pane in self.query(TabPane)]
        index = panes.index(tabs.active) if tabs.active in panes else 0
        tabs.active = str(panes[(index + step) % len(panes)])
        tables = tabs.get_pane(tabs.active).query(ReportTable)
        if tables:
            tables.first().focus()
