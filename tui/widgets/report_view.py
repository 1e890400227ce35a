"""A run's report, native: the summary first, then the trades and each other section as tabs."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, TabbedContent, TabPane

from tui.runs import RunRecord
from tui.widgets.report_data import (
    TRADE_COLUMNS,
    Column,
    MarkdownReport,
    TableData,
    parse_markdown,
    trades_table,
)
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

    Build it with `from_record` (a run the desk has: its signals and statistics) or
    `from_markdown` (a report file).
    """

    title: str
    summary: tuple[Figure, ...]
    trades: TableData | None
    sections: tuple[TableData, ...]

    @classmethod
    def from_record(cls, record: RunRecord) -> ReportContent:
        """Return the report of a run: its statistics, every closed signal, other sections."""
        parsed = parse_markdown(record.report)
        others = tuple(t for t in parsed.tables if t.columns is not TRADE_COLUMNS)
        summary = tuple(run_figures(record.statistics, record.error_count))
        return cls(record.title, summary, trades_table(record.signals), (*others, _figures(parsed)))

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
    """The summary panel, then tabs: the trades (all rows), each other table, all figures.

    Args:
        content: What to show.
    """

    def __init__(self, content: ReportContent, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="report-view")
        self.content = content

    def compose(self) -> ComposeResult:
        """Summary, then one tab per table."""
        content = self.content
        yield ReportSummary(content.summary, id="report-summary")
        with TabbedContent(id="report-tabs"):
            with TabPane(content.trades.title if content.trades else "Trades", id=TRADES_TAB):
                if content.trades is not None:
                    yield ReportTable(content.trades, id="report-trades-table")
                else:
                    yield Label("This report has no trade table.", classes="hint")
            for number, section in enumerate(content.sections, start=1):
                with TabPane(section.title, id=f"report-section-{number}"):
                    yield ReportTable(section)

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
