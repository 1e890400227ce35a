"""The main screen: registry, signals stream, price chart, equity, statistics and log.

At 120×40 the panes share the screen; below 100 columns or 30 rows they become tabs (keys
1-6). A thread worker relays each run from the child process that computes it (see
`tui.run_process`); launches during a run are queued.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.events import Resize
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Tab, Tabs

from tui.engine_bridge import EngineBridge, FrameWindow
from tui.formatting import Clock, format_count, run_headline
from tui.messages import (
    EngineErrorReported,
    EngineNoticed,
    ModuleLoaded,
    ModuleLoadFailed,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunProgressed,
    RunStarted,
    SignalsReceived,
)
from tui.run_process import RunProcess
from tui.runs import DEFAULT_BALANCE, RunRecord, RunRequest, SignalStatus, SignalView
from tui.screens.blotter import BlotterScreen
from tui.screens.error import ErrorModal
from tui.state import DeskState
from tui.widgets.desk_header import DeskHeader
from tui.widgets.equity_chart import EquityChart
from tui.widgets.event_log import EventLog
from tui.widgets.key_footer import KeyFooter
from tui.widgets.price_chart import PriceChart, focus_window
from tui.widgets.registry_tree import RegistryTree
from tui.widgets.run_status import RunStatus
from tui.widgets.signals_table import STREAM_ROWS, SignalsTable
from tui.widgets.stats_panel import StatsPanel

PANES = (
    ("chart", "Chart"),
    ("signals", "Signals"),
    ("stats", "Stats"),
    ("equity", "Equity"),
    ("log", "Log"),
    ("registry", "Registry"),
)
"""Pane ids and tab labels, in the order of the keys 1-6."""

SLOT_OF = {
    "chart": "right",
    "signals": "middle",
    "stats": "middle",
    "log": "right",
    "equity": "left",
    "registry": "left",
}
COMPACT_WIDTH = 100
COMPACT_HEIGHT = 30
REDRAW_SECONDS = 0.5


class MainScreen(Screen[None]):
    """The desk's panes and the backtest runner.

    Args:
        state: Run history (finished runs are stored here).
        clock: Stamps log lines.
        module: A user strategy module to load on mount, beside the built-in strategies.
        notices: (title, message) pairs to tell the user at start (a moved-aside state file,
            a theme file that did not load).
    """

    AUTO_FOCUS = "#registry"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "x", "cancel_run", "Cancel", tooltip="Cancel the running backtest", id="cancel-run"
        ),
        Binding(
            "o",
            "chart_overview",
            "Overview",
            tooltip="Chart the whole run with every entry and exit",
            id="chart-overview",
        ),
        Binding(
            "T",
            "show_blotter",
            "Trades",
            tooltip="Every trade of the run in a sortable, filterable blotter",
            id="show-blotter",
        ),
        *(
            Binding(
                str(n),
                f"show_pane('{pane}')",
                label,
                show=False,
                tooltip=f"Show the {label.lower()} pane",
                id=f"show-{pane}",
            )
            for n, (pane, label) in enumerate(PANES, start=1)
        ),
    ]

    def __init__(
        self,
        state: DeskState,
        clock: Clock,
        module: str | None,
        notices: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(id="main")
        self.notices = tuple(notices)
        self.state = state
        self.clock = clock
        self.module = module
        self.bridge: EngineBridge
        self.runs: RunProcess
        self.running: RunRequest | None = None
        self.queue: list[RunRequest] = []
        self.last_record: RunRecord | None = None
        self.window: FrameWindow | None = None
        self._cancel = threading.Event()
        self._redraw_due = False
        self._pending: dict[str, SignalView] = {}
        self.closed: list[SignalView] = []

    def compose(self) -> ComposeResult:
        """Header, run status, the tab strip (compact sizes only), the panes and the footer."""
        yield DeskHeader(self.clock, id="header")
        yield RunStatus(id="run-status")
        tabs = Tabs(*(Tab(label, id=f"tab-{pane}") for pane, label in PANES), id="pane-tabs")
        tabs.can_focus = False
        yield tabs
        with Horizontal(id="body"):
            with Vertical(id="left", classes="slot"):
                yield self._pane(RegistryTree(id="registry"), "Registry")
                yield self._pane(EquityChart(id="equity"), "Equity")
            with Vertical(id="right", classes="slot"):
                yield self._pane(PriceChart(id="chart"), "Chart")
                with Horizontal(id="middle", classes="slot"):
                    yield self._pane(SignalsTable(id="signals"), "Signals")
                    yield self._pane(StatsPanel(id="stats"), "Statistics")
                yield self._pane(EventLog(self.clock, id="log"), "Log")
        yield KeyFooter()

    @staticmethod
    def _pane(widget: Widget, title: str) -> Widget:
        widget.add_class("pane", "slot")
        widget.border_title = title
        return widget

    def on_mount(self) -> None:
        """Fill the registry (loading the user's module in a worker when there is one)."""
        self.show_pane("chart")
        self.query_one(RunStatus).state = "idle"
        for title, text in self.notices:
            self.log_line(text, "warning")
            self.notify(text, title=title, severity="warning", timeout=10)
        self.bridge.register_builtins()
        if self.module is None:
            self.bridge.refresh_sources()
        self._describe_market()
        self.refresh_registry()
        if self.module is None:
            self.log_line("desk ready: demo market and built-in strategies · b runs a backtest")
            self.call_after_refresh(self._restore_last_run)
        else:
            self.log_line(f"loading {self.module} (its strategies join the built-in ones) …")
            self._load_module(self.module)

    def _describe_market(self) -> None:
        source = self.module or "demo market"
        request = self.state.last_request
        profile = request.profile.value if request else "default"
        self.query_one(DeskHeader).describe(f"{source} · profile {profile}")

    def refresh_registry(self) -> None:
        """Show what is registered now."""
        active = self.running.strategy_name if self.running else None
        self.query_one(RegistryTree).show(self.bridge.registry(), active)

    @work(
        thread=True,
        exclusive=True,
        group="module",
        exit_on_error=False,
        description="Loading module",
    )
    def _load_module(self, path: str) -> None:
        try:
            self.bridge.load_module(path)
        except Exception as exc:  # any import failure is shown in the desk, never a crash
            title, msg = self.bridge.describe(exc)
            shown = msg.replace(str(Path(path).expanduser().resolve()), path)
            self.post_message(ModuleLoadFailed(path, title, shown))
            return
        self.post_message(ModuleLoaded(path))

    def _restore_last_run(self) -> None:
        """Show the newest stored run, as the desk looked when it was last closed."""
        runs = self.state.runs()
        record = self.state.run(runs[0].run_id) if runs else None
        if record is None:
            self._load_overview()
            return
        self.last_record = record
        self.closed = list(record.signals)
        self.query_one(SignalsTable).show(record.signals)
        self._title_signals()
        self.query_one(StatsPanel).statistics = record.statistics
        self.query_one(EquityChart).show(record.signals, record.request.balance)
        headline = run_headline(record.statistics, len(record.signals))
        self.query_one(RunStatus).ended(
            "finished", f"last run {record.title} · {headline} · r report · H history"
        )
        self.window = FrameWindow(
            record.request.frame_name or "", record.frame_label, record.start_ms, record.end_ms
        )
        self._chart_overview(record.request, signals=True)

    def on_module_loaded(self, event: ModuleLoaded) -> None:
        """Show the module's schemas (and the cached exchanges it did not register itself)."""
        self.bridge.refresh_sources()
        self._describe_market()
        self.refresh_registry()
        self.log_line(f"loaded {event.path}")
        self.call_after_refresh(self._restore_last_run)

    def on_module_load_failed(self, event: ModuleLoadFailed) -> None:
        """Show why the module did not load; the desk goes on with the built-in strategies."""
        self.bridge.refresh_sources()
        self._describe_market()
        self.refresh_registry()
        self.call_after_refresh(self._restore_last_run)
        self.log_line(f"{event.title}: {event.msg}", "error")
        self.app.push_screen(
            ErrorModal(f"Could not load {event.path}", f"{event.title}: {event.msg}")
        )

    def _load_overview(self) -> None:
        """Draw the price of the last (or default) symbol and frame before any run."""
        request = self.state.last_request or self.bridge.default_request()
        if request is None:
            return
        try:
            self.window = self.bridge.frame_window(request)
        except Exception:  # a remembered frame may no longer exist; the chart stays empty
            return
        self._chart_overview(request)

    def _chart_overview(self, request: RunRequest, signals: bool = False) -> None:
        window = self.window
        if window is None:
            return
        chart = self.query_one(PriceChart)
        chart.border_title = f"Chart · {request.symbol} · {request.exchange_name} · {window.label}"
        chart.load(
            self.bridge,
            request.exchange_name,
            request.symbol,
            window.start_ms,
            window.end_ms,
            signals=self.closed if signals else (),
        )

    def start_run(self, request: RunRequest) -> None:
        """Start a backtest now, or queue it behind the running one."""
        if self.running is not None:
            self.queue.append(request)
            self.log_line(
                f"queued {request.strategy_name} · {request.symbol} ({len(self.queue)} waiting)"
            )
            return
        self.running = request
        self.refresh_bindings()
        self._cancel = threading.Event()
        self._run(request, self._cancel)

    @work(
        thread=True, exclusive=True, group="backtest", exit_on_error=False, description="Backtest"
    )
    def _run(self, request: RunRequest, cancel: threading.Event) -> None:
        self.runs.run(request, cancel, self.post_message, history=self.state)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer `cancel` only while a backtest runs."""
        if action == "cancel_run":
            return self.running is not None
        return True

    def action_cancel_run(self) -> None:
        """Cancel the running backtest (queued ones still start)."""
        if self.running is None:
            self.notify("No backtest is running.", severity="warning")
            return
        self._cancel.set()
        self.log_line(
            f"cancelling {self.running.strategy_name} · {self.running.symbol} …", "warning"
        )

    def cancel_runs(self) -> None:
        """Drop the queue and cancel the running backtest (on quit)."""
        self.queue.clear()
        self._cancel.set()

    def _next_run(self) -> None:
        self.running = None
        self.refresh_bindings()
        self.refresh_registry()
        if self.queue:
            self.start_run(self.queue.pop(0))

    def on_run_started(self, event: RunStarted) -> None:
        """Reset the panes for a new run."""
        request = event.request
        self.closed = []
        self._pending = {}
        signals = self.query_one(SignalsTable)
        if signals.has_focus:  # its cursor would zoom the chart on the rows as they stream in
            signals.blur()
        signals.show([])
        self.query_one(EquityChart).show([])
        self.query_one(StatsPanel).statistics = {}
        self.query_one(RunStatus).started(
            f"{request.strategy_name} · {request.symbol} · {event.frame_label} · "
            f"{request.profile.value}",
            len(self.queue),
        )
        self.query_one("#signals").border_title = "Signals"
        self._describe_market()
        self.refresh_registry()
        self.log_line(
            f"{request.strategy_name} {request.symbol}: run started on {event.frame_label} "
            f"({request.profile.value})"
        )
        self.window = self.bridge.frame_window(request)
        self._chart_overview(request)

    def on_run_progressed(self, event: RunProgressed) -> None:
        """Move the progress bar."""
        self.query_one(RunStatus).progressed(event.processed_frames, event.total_frames)

    def on_signals_received(self, event: SignalsReceived) -> None:
        """Collect signal rows; the table and the equity curve redraw a few times a second."""
        self.closed += [v for v in event.signals if v.status is SignalStatus.CLOSED]
        for view in event.signals:
            self._pending.pop(view.signal_id, None)
            self._pending[view.signal_id] = view
        if not self._redraw_due:
            self._redraw_due = True
            self.set_timer(REDRAW_SECONDS, self._redraw_stream)

    def _redraw_stream(self) -> None:
        """Apply the signals collected since the last redraw (the next batch arms the next)."""
        self._redraw_due = False
        pending, self._pending = list(self._pending.values()), {}
        self.query_one(SignalsTable).upsert(pending)
        self._title_signals()
        self._redraw_equity()

    def _title_signals(self) -> None:
        count = len(self.closed)
        newest = f" · newest {STREAM_ROWS}" if count > STREAM_ROWS else ""
        self.query_one("#signals").border_title = f"Signals · {format_count(count)} closed{newest}"

    def _redraw_equity(self) -> None:
        request = self.running or (self.last_record.request if self.last_record else None)
        self.query_one(EquityChart).show(
            self.closed, request.balance if request else DEFAULT_BALANCE
        )

    def on_run_finished(self, event: RunFinished) -> None:
        """Show the statistics and how the run went (amber with errors), start the next run."""
        record = self.last_record = event.record
        self.closed = list(record.signals)
        self._pending = {}
        self.query_one(SignalsTable).upsert(record.signals[-STREAM_ROWS:])
        self._title_signals()
        self._redraw_equity()
        self.query_one(StatsPanel).statistics = record.statistics
        figures = run_headline(record.statistics, len(record.signals))
        errors = record.error_summary(RunStatus.ERROR_CHARS)
        if errors is None:
            self.query_one(RunStatus).ended(
                "finished", f"✔ run #{record.run_id} finished · {figures} · r report"
            )
            self.log_line(f"{record.title}: finished, {figures}")
            self.notify(figures, title=f"Run #{record.run_id} finished")
        else:
            self.query_one(RunStatus).ended(
                "errors", f"⚠ run #{record.run_id} finished with {errors} · {figures} · r report"
            )
            self.log_line(f"{record.title}: finished with {record.error_summary()}", "warning")
            self.notify(
                f"{record.error_summary()} · {figures}",
                title=f"Run #{record.run_id} finished with engine errors",
                severity="warning",
                timeout=10,
            )
        self._chart_overview(record.request, signals=True)
        self._next_run()

    def on_run_cancelled(self, event: RunCancelled) -> None:
        """Say the run was cancelled; start the next queued run."""
        request = event.request
        self.query_one(RunStatus).ended(
            "cancelled",
            f"✖ cancelled {request.strategy_name} · {request.symbol} "
            f"after {event.closed_signals} closed signals",
        )
        self.log_line(f"{request.strategy_name} {request.symbol}: cancelled", "warning")
        self._next_run()

    def on_run_failed(self, event: RunFailed) -> None:
        """Show why the run failed; the desk goes on."""
        self.query_one(RunStatus).ended("failed", f"✖ {event.title}: {event.msg.splitlines()[0]}")
        self.log_line(f"{event.title}: {event.msg}", "error")
        self.app.push_screen(
            ErrorModal(
                f"Backtest {event.request.strategy_name} · {event.request.symbol} failed",
                f"{event.title}: {event.msg}",
            )
        )
        self._next_run()

    def on_engine_error_reported(self, event: EngineErrorReported) -> None:
        """Log a recoverable engine error (e.g. a strategy raised) in one readable line."""
        self.log_line(f"{event.title}: {event.msg}", "error")

    def on_engine_noticed(self, event: EngineNoticed) -> None:
        """Log an engine notice."""
        self.log_line(event.text, event.severity)

    def action_chart_overview(self) -> None:
        """Chart the whole frame of the last run with its entries and exits."""
        request = self.running or (self.last_record.request if self.last_record else None)
        if request is None:
            self._load_overview()
            return
        self._chart_overview(request, signals=True)

    def action_show_blotter(self) -> None:
        """Open the blotter of the last run (of the running one: its trades so far)."""
        record = self.last_record
        request = self.running or (record.request if record else None)
        if request is None or not self.closed:
            self.notify("No trades yet: run a backtest (b) first.", severity="warning")
            return
        if self.running is None and record is not None:
            title = record.title
        else:
            title = f"{request.strategy_name} · {request.symbol} · running, trades so far"
        self.app.push_screen(
            BlotterScreen(self.closed, title, request.exchange_name, request.symbol, self.bridge)
        )

    @on(SignalsTable.SignalHighlighted)
    def _focus_signal(self, event: SignalsTable.SignalHighlighted) -> None:
        """Zoom the chart on the highlighted signal with its TP and SL."""
        request = self.running or (self.last_record.request if self.last_record else None)
        if request is None:
            return
        view = event.view
        start, end = focus_window(view)
        chart = self.query_one(PriceChart)
        chart.border_title = (
            f"Chart · {request.symbol} · {view.position.upper()} {view.signal_id[:8]}"
        )
        chart.load(
            self.bridge, request.exchange_name, request.symbol, start, end, signals=(), focus=view
        )

    @on(RegistryTree.EntryChosen)
    async def _launch_with(self, event: RegistryTree.EntryChosen) -> None:
        """Open the launcher with the chosen strategy, exchange or frame."""
        field = {
            "strategies": "strategy_name",
            "exchanges": "exchange_name",
            "frames": "frame_name",
        }.get(event.kind)
        if field is not None:
            await self.app.run_action(f"launch_backtest({{'{field}': '{event.name}'}})")

    def log_line(self, text: str, severity: str = "information") -> None:
        """Append a line to the event log."""
        self.query_one(EventLog).add(text, severity)

    def on_resize(self, event: Resize) -> None:
        """Switch to tabs when the terminal is small."""
        self.set_class(
            event.size.width < COMPACT_WIDTH or event.size.height < COMPACT_HEIGHT, "-compact"
        )

    def action_show_pane(self, pane: str) -> None:
        """Show (compact sizes) and focus a pane."""
        self.show_pane(pane)
        widget = self.query_one(f"#{pane}")
        if widget.focusable:
            widget.focus()

    def show_pane(self, pane: str) -> None:
        """Make `pane` the active tab."""
        self.query_one(Tabs).active = f"tab-{pane}"

    @on(Tabs.TabActivated, "#pane-tabs")
    def _tab_activated(self, event: Tabs.TabActivated) -> None:
        pane = (event.tab.id or "tab-chart").removeprefix("tab-")
        for slot in self.query(".slot"):
            slot.remove_class("-active")
        self.query_one(f"#{pane}").add_class("-active")
        self.query_one(f"#{SLOT_OF[pane]}").add_class("-active")
        if SLOT_OF[pane] == "middle":
            self.query_one("#right").add_class("-active")
