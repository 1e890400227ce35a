"""Walker rankings: pick strategies × symbols and a frame, run them, rank them as they finish."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import ClassVar

from rich.console import JustifyMethod
from rich.segment import Segment
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.strip import Strip
from textual.widgets import DataTable, Label, SelectionList
from textual.widgets.option_list import Option

from tui.formatting import format_count, format_percent, format_ratio
from tui.screens.engine_report import EngineReportScreen
from tui.screens.reports import VimOptionList
from tui.theming import desk_color
from tui.walker_runs import (
    HeatRun,
    HeatRuns,
    RankedRow,
    RunOutcome,
    WalkerCancelled,
    WalkerFailed,
    WalkerFinished,
    WalkerRequest,
    WalkerRowRanked,
    WalkerStarted,
    ranking,
    run_walker,
)
from tui.widgets.key_footer import KeyFooter
from tui.widgets.registry_tree import is_internal
from tui.widgets.vim_table import VimTable
from tui.widgets.walk_progress import WalkProgress

COLUMNS = (
    ("rank", "#"),
    ("strategy", "Strategy"),
    ("symbol", "Symbol"),
    ("metric", "Metric"),
    ("trades", "Trades"),
    ("win", "Win rate"),
    ("pnl", "Total PnL"),
    ("sharpe", "Sharpe"),
)
BEST_MARK = "★"
PICKED, UNPICKED = "[x]", "[ ]"


class PickList(SelectionList[str]):
    """A SelectionList that moves with `j`/`k` and picks all (or none) with `a`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False, id="pick-down"),
        Binding("k", "cursor_up", "Up", show=False, id="pick-up"),
        Binding(
            "a",
            "toggle_all",
            "All",
            tooltip="Pick every entry, or none when all are picked",
            id="pick-all",
        ),
    ]

    def render_line(self, y: int) -> Strip:
        """Draw each entry's pick as `[x]` or `[ ]`, readable without its colour."""
        line = super().render_line(y)
        index = self.scroll_offset.y + y
        segments = list(line)
        if index >= self.option_count or len(segments) < 4:
            return line
        picked = self.get_option_at_index(index).value in self.selected
        mark = Segment(PICKED if picked else UNPICKED, segments[1].style)
        return Strip([mark, *segments[3:]])

    def action_toggle_all(self) -> None:
        """Pick every entry, or none when every entry is picked."""
        if len(self.selected) == self.option_count:
            self.deselect_all()
        else:
            self.select_all()


class WalkerScreen(Screen[None]):
    """Strategies and symbols to pick, a frame, and the rankings table that fills in.

    Each walker run joins the session's runs (`runs`), whose heatmaps the heatmap screen shows.

    Args:
        runs: The session's walker and heatmap runs.
        strategies: Every registered strategy.
        symbols: The symbols of the exchange.
        frames: Every registered frame.
        default: The first choice (every strategy on BTCUSDT on the last frame).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="walker-back"),
        Binding(
            "w",
            "run_walker",
            "Walker",
            tooltip="Backtest the picked strategies on the picked symbols and rank them",
            id="run-walker",
        ),
        Binding(
            "x",
            "cancel_walker",
            "Cancel",
            tooltip="Stop the walker before its next strategy",
            id="cancel-walker",
        ),
        Binding(
            "enter",
            "open_ranked_report",
            "Report",
            tooltip="Open the report of the strategy under the cursor",
            id="open-ranked-report",
        ),
    ]

    def __init__(
        self,
        runs: HeatRuns,
        strategies: Sequence[str],
        symbols: Sequence[str],
        frames: Sequence[str],
        default: WalkerRequest,
    ) -> None:
        super().__init__(id="walker")
        self.runs = runs
        self.heat_run: HeatRun | None = None
        self.strategies = tuple(strategies)
        self.symbols = tuple(symbols)
        self.frames = tuple(name for name in frames if not is_internal(name))
        self.default = default
        self.running: WalkerRequest | None = None
        self.request: WalkerRequest | None = None
        self.rows: list[RankedRow] = []
        self._cancel = threading.Event()

    def compose(self) -> ComposeResult:
        """Title, pickers, progress, rankings, footer."""
        yield Label(
            "Walker · space picks, w runs, x cancels, enter opens a strategy's report",
            classes="screen-title",
        )
        with Horizontal(id="walker-pickers"):
            strategies = PickList(
                *((name, name, name in self.default.strategies) for name in self.strategies),
                id="walker-strategies",
                classes="pane",
            )
            strategies.border_title = "Strategies"
            yield strategies
            symbols = PickList(
                *((name, name, name in self.default.symbols) for name in self.symbols),
                id="walker-symbols",
                classes="pane",
            )
            symbols.border_title = "Symbols"
            yield symbols
            frames = VimOptionList(
                *(Option(name, id=name) for name in self.frames),
                id="walker-frames",
                classes="pane",
            )
            frames.border_title = "Frame"
            yield frames
        yield WalkProgress(id="walker-progress")
        table = VimTable(id="rankings", cursor_type="row", classes="pane")
        table.border_title = "Rankings"
        yield table
        yield KeyFooter()

    def on_mount(self) -> None:
        """Set up the table and the frame; focus the strategies."""
        table = self.query_one("#rankings", VimTable)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        frames = self.query_one("#walker-frames", VimOptionList)
        if self.default.frame_name in self.frames:
            frames.highlighted = self.frames.index(self.default.frame_name)
        self.query_one(WalkProgress).show("Pick strategies and symbols, then press w.", 0, 1)
        self.query_one("#walker-strategies").focus()

    def chosen_request(self) -> WalkerRequest | None:
        """Return the walker the pickers describe, or None (with a warning) when incomplete."""
        strategies = self.query_one("#walker-strategies", PickList).selected
        symbols = self.query_one("#walker-symbols", PickList).selected
        frames = self.query_one("#walker-frames", VimOptionList)
        if not strategies or not symbols or frames.highlighted is None:
            self.notify("Pick at least one strategy, one symbol and a frame.", severity="warning")
            return None
        return WalkerRequest(
            strategies=tuple(str(name) for name in strategies),
            symbols=tuple(str(name) for name in symbols),
            exchange_name=self.default.exchange_name,
            frame_name=self.frames[frames.highlighted],
            metric=self.default.metric,
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer `cancel` only while the walker runs, `run` only while it does not."""
        if action == "cancel_walker":
            return self.running is not None
        if action == "run_walker":
            return self.running is None
        return True

    def action_run_walker(self) -> None:
        """Run the picked strategies × symbols on the picked frame."""
        if self.running is not None:
            return
        request = self.chosen_request()
        if request is None:
            return
        self.running = request
        self.heat_run = self.runs.start(request)
        self.refresh_bindings()
        self._cancel = threading.Event()
        self._walk(request, self._cancel)

    @work(thread=True, exclusive=True, group="walker", exit_on_error=False, description="Walker")
    def _walk(self, request: WalkerRequest, cancel: threading.Event) -> None:
        run_walker(request, self.post_message, cancel)

    def action_cancel_walker(self) -> None:
        """Stop the walker before its next strategy."""
        if self.running is None:
            return
        self._cancel.set()
        self.query_one(WalkProgress).show("Cancelling after the running backtest …")

    def on_unmount(self) -> None:
        """Stop a running walker when the screen goes."""
        self._cancel.set()

    def on_walker_started(self, event: WalkerStarted) -> None:
        """Empty the rankings for a new walker."""
        request = self.request = event.request
        self.rows = []
        self.query_one("#rankings", VimTable).clear()
        self._title()
        self.query_one(WalkProgress).show(
            f"Running {request.total} backtests on {request.frame_name} …", 0, request.total
        )

    def on_walker_row_ranked(self, event: WalkerRowRanked) -> None:
        """Add a finished strategy and re-rank."""
        if self.heat_run is not None:
            self.heat_run.add(event.row)
        self.rows.append(event.row)
        self._fill()
        self.query_one(WalkProgress).show(
            f"{event.processed}/{event.total} · {event.row.strategy_name} {event.row.symbol} done",
            event.processed,
            event.total,
        )

    def on_walker_finished(self, event: WalkerFinished) -> None:
        """Say which strategy is best."""
        best = ranking(self.rows)[0] if self.rows else None
        text = f"✔ {event.rows} backtests ranked"
        if best is not None:
            text += f" · best {best.strategy_name} on {best.symbol}"
        self.query_one(WalkProgress).show(text, event.rows, max(event.request.total, 1))
        self.notify(text.removeprefix("✔ "), title="Walker finished")
        self._ended(RunOutcome.FINISHED)

    def on_walker_cancelled(self, event: WalkerCancelled) -> None:
        """Say the walker stopped early."""
        self.query_one(WalkProgress).show(
            f"✖ cancelled after {event.rows} of {event.request.total} backtests"
        )
        self._ended(RunOutcome.CANCELLED)

    def on_walker_failed(self, event: WalkerFailed) -> None:
        """Show why the walker failed; the desk goes on."""
        self.query_one(WalkProgress).show(f"✖ {event.title}: {event.msg.splitlines()[0]}")
        self.notify(event.msg, title=f"Walker failed: {event.title}", severity="error")
        self._ended(RunOutcome.FAILED)

    def _ended(self, outcome: RunOutcome) -> None:
        if self.heat_run is not None:
            self.heat_run.outcome = outcome
        self.heat_run = None
        self.running = None
        self.refresh_bindings()
        table = self.query_one("#rankings", VimTable)
        if table.row_count:
            table.focus()

    def _title(self) -> None:
        request = self.request
        if request is None:
            return
        table = self.query_one("#rankings", VimTable)
        table.border_title = (
            f"Rankings · by {request.metric} · {request.frame_name} · "
            f"{len(self.rows)}/{request.total}"
        )

    def _fill(self) -> None:
        table = self.query_one("#rankings", VimTable)
        cursor_row = table.cursor_row
        table.clear()
        ranked = ranking(self.rows)
        cells = [self._cells(place, row) for place, row in enumerate(ranked, start=1)]
        widths = [
            max([len(label), *(len(line[i]) for line in cells)])
            for i, (_, label) in enumerate(COLUMNS)
        ]
        for row, line in zip(ranked, cells, strict=True):
            for text, width in zip(line, widths, strict=True):
                text.align("left" if text.justify == "left" else "right", width)
            table.add_row(*line, key=row.key)
        table.move_cursor(row=min(cursor_row, len(ranked) - 1))
        self._title()

    def _cells(self, place: int, row: RankedRow) -> tuple[Text, ...]:
        variables = self.app.theme_variables
        best = place == 1 and row.metric_value is not None
        base = f"bold {desk_color(variables, 'pnl-up').hex}" if best else ""
        pnl_style = ""
        if row.total_pnl:
            pnl_style = desk_color(variables, "pnl-up" if row.total_pnl > 0 else "pnl-down").hex

        def cell(text: str, style: str = "", justify: JustifyMethod = "right") -> Text:
            return Text(text, style=style or base, justify=justify, no_wrap=True)

        return (
            cell(f"{BEST_MARK}1" if best else str(place)),
            cell(row.strategy_name, justify="left"),
            cell(row.symbol, justify="left"),
            cell(format_ratio(row.metric_value)),
            cell(format_count(row.trades)),
            cell(format_percent(row.win_rate, signed=False)),
            cell(format_percent(row.total_pnl), pnl_style if not best else base),
            cell(format_ratio(row.sharpe_ratio)),
        )

    def _cursor_key(self) -> str | None:
        table = self.query_one("#rankings", VimTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return str(key.value)

    def cursor_row(self) -> RankedRow | None:
        """Return the ranked row under the cursor."""
        key = self._cursor_key()
        return next((row for row in self.rows if row.key == key), None)

    def action_open_ranked_report(self) -> None:
        """Open the backtest report (and the schedule, performance … reports) of the row."""
        row = self.cursor_row()
        if row is None:
            self.notify("No ranked strategy yet: press w to run the walker.", severity="warning")
            return
        self.app.push_screen(EngineReportScreen(row.symbol, row.strategy_name, heat_runs=self.runs))

    @on(DataTable.RowSelected, "#rankings")
    def _row_selected(self) -> None:
        self.action_open_ranked_report()
