"""Heatmap of one walker or heatmap run: a strategy's symbols × metrics, coloured, sortable.

The screen shows the rows of exactly one run of the session (`tui.walker_runs.HeatRuns`),
computed from that run's closed signals alone; `[` and `]` pick the run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.color import Color
from textual.screen import Screen
from textual.widgets import Label

from engine.analytics.heat import HeatmapStatistics, HeatRow
from tui.formatting import format_count, format_noun, format_percent, format_ratio
from tui.theming import desk_color
from tui.walker_runs import (
    HeatRun,
    HeatRuns,
    RunOutcome,
    WalkerCancelled,
    WalkerFailed,
    WalkerFinished,
    WalkerRequest,
    WalkerRowRanked,
    WalkerStarted,
    run_heat,
)
from tui.widgets.key_footer import KeyFooter
from tui.widgets.vim_table import VimTable
from tui.widgets.walk_progress import WalkProgress

CELL_TINT = 0.5
"""How much of the pnl-down…pnl-up colour a cell's background takes over the surface."""


@dataclass(frozen=True, slots=True)
class HeatColumn:
    """A metric column: its label, how to read and format it, and which way is better."""

    key: str
    label: str
    value: Callable[[HeatRow], float | None]
    text: Callable[[float | None], str]
    higher_is_better: bool | None
    """True or False colours the column; None leaves it plain (trade counts)."""


def _field(name: str) -> Callable[[HeatRow], float | None]:
    def value(row: HeatRow) -> float | None:
        number = getattr(row, name)
        return None if number is None else float(number)

    return value


COLUMNS: tuple[HeatColumn, ...] = (
    HeatColumn("total_pnl", "Total PnL", _field("total_pnl"), format_percent, True),
    HeatColumn("sharpe_ratio", "Sharpe", _field("sharpe_ratio"), format_ratio, True),
    HeatColumn(
        "max_drawdown",
        "Max DD",
        _field("max_drawdown"),
        lambda v: format_percent(v, signed=False),
        False,
    ),
    HeatColumn("total_trades", "Trades", _field("total_trades"), format_count, None),
    HeatColumn(
        "win_rate", "Win rate", _field("win_rate"), lambda v: format_percent(v, signed=False), True
    ),
    HeatColumn("profit_factor", "PF", _field("profit_factor"), format_ratio, True),
    HeatColumn("expectancy", "Expect.", _field("expectancy"), format_percent, True),
)
SYMBOL_KEY = "symbol"


def sorted_rows(rows: Sequence[HeatRow], key: str, descending: bool) -> list[HeatRow]:
    """Return rows sorted by a column (`symbol` or a metric); undefined values always last."""
    if key == SYMBOL_KEY:
        return sorted(rows, key=lambda r: r.symbol, reverse=descending)
    column = next(c for c in COLUMNS if c.key == key)
    defined = [r for r in rows if column.value(r) is not None]
    undefined = [r for r in rows if column.value(r) is None]
    defined.sort(key=lambda r: column.value(r) or 0.0, reverse=descending)
    return defined + undefined


def shade(low: Color, high: Color, value: float, lowest: float, highest: float) -> Color:
    """Return the colour of `value` between `lowest` (→ `low`) and `highest` (→ `high`)."""
    span = highest - lowest
    share = 0.5 if span <= 0 else (value - lowest) / span
    return low.blend(high, min(1.0, max(0.0, share)))


class HeatmapScreen(Screen[None]):
    """One run's heatmap: a strategy's symbols as rows, metrics as columns; `s` sorts.

    Args:
        runs: The session's walker and heatmap runs; the screen shows one of them.
        strategies: Every registered strategy.
        symbols: The symbols `a` runs the strategy on.
        exchange_name: The exchange `a` runs on.
        frame_name: The frame `a` runs on.
        strategy_name: The strategy `a` runs while no run is shown (default: the first one).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="heatmap-back"),
        Binding(
            "s",
            "sort_heatmap",
            "Sort",
            tooltip="Sort by the column under the cursor (again: reverse)",
            id="sort-heatmap",
        ),
        Binding(
            "left_square_bracket",
            "cycle_run(-1)",
            "Previous run",
            key_display="[",
            tooltip="Show the previous walker or heatmap run",
            id="heatmap-previous-run",
        ),
        Binding(
            "right_square_bracket",
            "cycle_run(1)",
            "Next run",
            key_display="]",
            tooltip="Show the next walker or heatmap run",
            id="heatmap-next-run",
        ),
        Binding(
            "a",
            "run_heatmap",
            "All symbols",
            tooltip="Backtest the shown strategy on every symbol (a new run)",
            id="run-heatmap",
        ),
        Binding(
            "x",
            "cancel_heatmap",
            "Cancel",
            tooltip="Stop the run before its next symbol",
            id="cancel-heatmap",
        ),
    ]

    def __init__(
        self,
        runs: HeatRuns,
        strategies: Sequence[str],
        symbols: Sequence[str],
        exchange_name: str,
        frame_name: str,
        strategy_name: str | None = None,
    ) -> None:
        super().__init__(id="heatmap")
        self.runs = runs
        self.symbols = tuple(symbols)
        self.exchange_name = exchange_name
        self.frame_name = frame_name
        chosen = tuple(strategies)
        self.strategy_name = strategy_name if strategy_name in chosen else (chosen or ("",))[0]
        self.shown: int | None = None
        """The index of the shown heatmap in `runs.views()`, None while there is none."""
        self.statistics: HeatmapStatistics | None = None
        self.sort_key = "sharpe_ratio"
        self.descending = True
        self.running: HeatRun | None = None
        self._views_seen = 0
        self._cancel = threading.Event()

    def compose(self) -> ComposeResult:
        """Title, progress, the table and a hint, footer."""
        yield Label("", id="heatmap-title", classes="screen-title")
        yield WalkProgress(id="heatmap-progress")
        table = VimTable(id="heat", cursor_type="cell", classes="pane")
        yield table
        yield Label("", id="heatmap-hint", classes="hint")
        yield KeyFooter()

    def on_mount(self) -> None:
        """Set up the columns and show the latest run."""
        table = self.query_one("#heat", VimTable)
        table.add_column("Symbol", key=SYMBOL_KEY)
        for column in COLUMNS:
            table.add_column(column.label, key=column.key)
        symbols = format_noun(len(self.symbols), "symbol")
        self.query_one(WalkProgress).show(
            f"a runs the strategy on {symbols} · {self.frame_name}",
            0,
            1,
        )
        self.reload()
        table.focus()

    def on_screen_resume(self) -> None:
        """Show the latest run when runs were made elsewhere (the walker) since last shown."""
        self.reload()

    def shown_view(self) -> tuple[HeatRun, str] | None:
        """Return the shown (run, strategy), or None while the session has no run."""
        return None if self.shown is None else self.runs.views()[self.shown]

    def reload(self) -> None:
        """Compute the shown run's heatmap (the latest run's, when new runs came) and redraw."""
        views = self.runs.views()
        if len(views) > self._views_seen:
            latest = views[-1][0]
            self.shown = next(i for i, (run, _) in enumerate(views) if run is latest)
        self._views_seen = len(views)
        view = self.shown_view()
        self.statistics = view[0].statistics(view[1]) if view is not None else None
        self._fill()

    def _fill(self) -> None:
        view = self.shown_view()
        stats = self.statistics
        rows = list(stats.symbols) if stats is not None else []
        table = self.query_one("#heat", VimTable)
        cursor = table.cursor_coordinate
        table.clear()
        widths = {
            column.key: max([len(column.label), *(len(column.text(column.value(r))) for r in rows)])
            for column in COLUMNS
        }
        for row in sorted_rows(rows, self.sort_key, self.descending):
            table.add_row(*self._cells(row, rows, widths), key=row.symbol)
        if rows:
            table.move_cursor(row=min(cursor.row, len(rows) - 1), column=cursor.column)
        arrow = "▼" if self.descending else "▲"
        order = next((c.label for c in COLUMNS if c.key == self.sort_key), "Symbol")
        title = "Heatmap · no run yet"
        if view is not None:
            run, strategy = view
            title = f"Heatmap · {run.title(strategy)}"
            plural = "" if len(rows) == 1 else "s"
            table.border_title = f"{strategy} · {len(rows)} symbol{plural} · by {order} {arrow}"
        else:
            table.border_title = ""
        self.query_one("#heatmap-title", Label).update(title)
        table.border_subtitle = self._totals(stats) if rows else ""
        hint = self.query_one("#heatmap-hint", Label)
        hint.display = not rows
        hint.update(self._hint(view))

    def _hint(self, view: tuple[HeatRun, str] | None) -> str:
        if view is None:
            return (
                f"No walker or heatmap run yet: press a to run {self.strategy_name} on every "
                "symbol, or run the walker (w on the main screen)."
            )
        run, strategy = view
        if run.outcome is RunOutcome.RUNNING:
            return f"{strategy} runs: its symbols appear as they finish."
        return f"This run has no finished backtest of {strategy}: press a to run it again."

    @staticmethod
    def _totals(stats: HeatmapStatistics | None) -> str:
        if stats is None:
            return ""
        return (
            f"{format_count(stats.portfolio_total_trades)} trades · "
            f"total PnL {format_percent(stats.portfolio_total_pnl)} · "
            f"Sharpe {format_ratio(stats.portfolio_sharpe_ratio)}"
        )

    def _cells(
        self, row: HeatRow, rows: Sequence[HeatRow], widths: dict[str, int]
    ) -> tuple[Text, ...]:
        variables = self.app.theme_variables
        down, up = desk_color(variables, "pnl-down"), desk_color(variables, "pnl-up")
        surface = Color.parse(variables.get("surface", variables["pnl-flat"]))
        cells = [Text(row.symbol, style="bold")]
        for column in COLUMNS:
            value = column.value(row)
            style = ""
            if value is not None and column.higher_is_better is not None:
                values = [v for r in rows if (v := column.value(r)) is not None]
                low, high = (down, up) if column.higher_is_better else (up, down)
                tint = shade(low, high, value, min(values), max(values))
                style = f"on {surface.blend(tint, CELL_TINT).hex}"
            cells.append(
                Text(column.text(value).rjust(widths[column.key]), style=style, no_wrap=True)
            )
        return tuple(cells)

    def action_sort_heatmap(self) -> None:
        """Sort by the column under the cursor; the same column again reverses the order."""
        table = self.query_one("#heat", VimTable)
        keys = [SYMBOL_KEY, *(c.key for c in COLUMNS)]
        key = keys[min(table.cursor_column, len(keys) - 1)]
        if key == self.sort_key:
            self.descending = not self.descending
        else:
            self.sort_key = key
            self.descending = key != SYMBOL_KEY
        self._fill()

    def action_cycle_run(self, step: int) -> None:
        """Show the next (or previous) run's heatmap: one per strategy of each run."""
        views = self.runs.views()
        if not views:
            return
        self.shown = ((self.shown or 0) + step) % len(views)
        self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer `cancel` only while a run goes on, `run` only while none does."""
        if action == "cancel_heatmap":
            return self.running is not None
        if action == "run_heatmap":
            return self.running is None
        return True

    def action_run_heatmap(self) -> None:
        """Backtest the shown strategy on every symbol, as a new run (then shown)."""
        view = self.shown_view()
        strategy_name = view[1] if view is not None else self.strategy_name
        if self.running is not None or not strategy_name:
            return
        request = WalkerRequest((strategy_name,), self.symbols, self.exchange_name, self.frame_name)
        self.running = self.runs.start(request)
        self.refresh_bindings()
        self.reload()
        self._cancel = threading.Event()
        self._run(request, self._cancel)

    @work(thread=True, exclusive=True, group="heatmap", exit_on_error=False, description="Heatmap")
    def _run(self, request: WalkerRequest, cancel: threading.Event) -> None:
        run_heat(request, self.post_message, cancel)

    def action_cancel_heatmap(self) -> None:
        """Stop the run before its next symbol."""
        self._cancel.set()

    def on_unmount(self) -> None:
        """Stop a running run when the screen goes."""
        self._cancel.set()

    def on_walker_started(self, event: WalkerStarted) -> None:
        """Say what runs."""
        request = event.request
        self.query_one(WalkProgress).show(
            f"Running {request.strategies[0]} on {format_noun(len(request.symbols), 'symbol')} …",
            0,
            request.total,
        )

    def on_walker_row_ranked(self, event: WalkerRowRanked) -> None:
        """Keep the symbol's backtest in the run, move the bar, show the symbols done so far."""
        if self.running is not None:
            self.running.add(event.row)
        self.query_one(WalkProgress).show(
            f"{event.processed}/{event.total} · {event.row.symbol} done",
            event.processed,
            event.total,
        )
        self.reload()

    def on_walker_finished(self, event: WalkerFinished) -> None:
        """Show the whole heatmap."""
        self.query_one(WalkProgress).show(
            f"✔ {event.request.strategies[0]} ran on {format_noun(event.rows, 'symbol')}",
            event.rows,
            event.rows,
        )
        self._ended(RunOutcome.FINISHED)

    def on_walker_cancelled(self, event: WalkerCancelled) -> None:
        """Say the run stopped early."""
        self.query_one(WalkProgress).show(f"✖ cancelled after {format_noun(event.rows, 'symbol')}")
        self._ended(RunOutcome.CANCELLED)

    def on_walker_failed(self, event: WalkerFailed) -> None:
        """Show why the run failed."""
        self.query_one(WalkProgress).show(f"✖ {event.title}: {event.msg.splitlines()[0]}")
        self.notify(event.msg, title=f"Heatmap run failed: {event.title}", severity="error")
        self._ended(RunOutcome.FAILED)

    def _ended(self, outcome: RunOutcome) -> None:
        if self.running is not None:
            self.running.outcome = outcome
        self.running = None
        self.refresh_bindings()
        self.reload()
