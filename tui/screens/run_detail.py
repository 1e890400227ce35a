"""One stored run: chart and signals, statistics, report."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Label, TabbedContent, TabPane

from tui.engine_bridge import EngineBridge
from tui.runs import RunRecord
from tui.screens.blotter import BlotterScreen
from tui.widgets.equity_chart import EquityChart
from tui.widgets.key_footer import KeyFooter
from tui.widgets.price_chart import PriceChart, focus_window
from tui.widgets.report_view import ReportContent, ReportView
from tui.widgets.signals_table import SignalsTable
from tui.widgets.stats_panel import StatsPanel

HISTORY_ROWS = 1000
"""Signals listed for a stored run (the newest; the report file has them all)."""
TABS = (("run-chart", "Chart & signals"), ("run-stats", "Statistics"), ("run-report", "Report"))


class RunScreen(Screen[None]):
    """A past run opened from history; keys 1-3 switch tabs, `esc` goes back.

    A run during which the engine reported errors says so under the title, in amber.

    Args:
        record: The stored run.
        bridge: Fetches the candles for the chart.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="run-back"),
        Binding(
            "o",
            "chart_overview",
            "Overview",
            tooltip="Chart the whole run with every entry and exit",
            id="run-overview",
        ),
        Binding(
            "T",
            "show_blotter",
            "Trades",
            tooltip="Every trade of the run in a sortable, filterable blotter",
            id="run-blotter",
        ),
        *(
            Binding(str(n), f"show_tab('{tab}')", label, show=False, id=f"show-{tab}")
            for n, (tab, label) in enumerate(TABS, start=1)
        ),
    ]

    DEFAULT_CSS = """
    RunScreen > #run-errors { color: $warning; padding: 0 1; }
    """

    def __init__(self, record: RunRecord, bridge: EngineBridge) -> None:
        super().__init__()
        self.record = record
        self.bridge = bridge

    def compose(self) -> ComposeResult:
        """Tabs: chart with signals, statistics with equity, the report."""
        record = self.record
        yield Label(
            f"Run {record.title} · {record.request.exchange_name} · {record.request.profile.value}",
            classes="screen-title",
        )
        errors = record.error_summary()
        if errors is not None:
            yield Label(f"⚠ finished with {errors}", id="run-errors")
        with TabbedContent(id="run-tabs"):
            with TabPane(TABS[0][1], id=TABS[0][0]), Vertical():
                chart = PriceChart(id="run-price", classes="pane")
                chart.border_title = f"Chart · {record.request.symbol}"
                yield chart
                signals = SignalsTable(max_rows=HISTORY_ROWS, id="run-signals", classes="pane")
                shown = min(len(record.signals), HISTORY_ROWS)
                signals.border_title = f"Signals · {len(record.signals)} closed" + (
                    f" · last {shown} listed" if shown < len(record.signals) else ""
                )
                yield signals
            with TabPane(TABS[1][1], id=TABS[1][0]), Horizontal():
                stats = StatsPanel(id="run-statistics", classes="pane")
                stats.border_title = "Statistics"
                yield stats
                equity = EquityChart(id="run-equity", classes="pane")
                equity.border_title = "Equity"
                yield equity
            with TabPane(TABS[2][1], id=TABS[2][0]):
                yield ReportView(ReportContent.from_record(record))
        yield KeyFooter()

    def on_mount(self) -> None:
        """Fill the panes."""
        record = self.record
        table = self.query_one(SignalsTable)
        table.show(record.signals)
        self.query_one(StatsPanel).statistics = record.statistics
        self.query_one(EquityChart).show(record.signals, record.request.balance)
        self.action_chart_overview()
        table.focus()

    def action_chart_overview(self) -> None:
        """Chart the whole run with its entries and exits."""
        record = self.record
        chart = self.query_one(PriceChart)
        chart.border_title = f"Chart · {record.request.symbol} · {record.frame_label}"
        chart.load(
            self.bridge,
            record.request.exchange_name,
            record.request.symbol,
            record.start_ms,
            record.end_ms,
            signals=record.signals,
        )

    def action_show_blotter(self) -> None:
        """Open the blotter with every trade of the run."""
        record = self.record
        self.app.push_screen(
            BlotterScreen(
                record.signals,
                record.title,
                record.request.exchange_name,
                record.request.symbol,
                self.bridge,
            )
        )

    def action_show_tab(self, tab: str) -> None:
        """Switch to a tab."""
        self.query_one("#run-tabs", TabbedContent).active = tab

    @on(SignalsTable.SignalHighlighted)
    def _focus_signal(self, event: SignalsTable.SignalHighlighted) -> None:
        request = self.record.request
        start, end = focus_window(event.view)
        chart = self.query_one(PriceChart)
        chart.border_title = (
            f"Chart · {request.symbol} · {event.view.position.upper()} {event.view.signal_id[:8]}"
        )
        chart.load(self.bridge, request.exchange_name, request.symbol, start, end, focus=event.view)
