"""Run history: every finished run, newest first; open one or compare two."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Label

from tui.engine_bridge import EngineBridge
from tui.formatting import format_count, format_percent, format_ratio, format_timestamp
from tui.runs import RunSummary
from tui.screens.compare import CompareScreen
from tui.screens.confirm import ConfirmModal
from tui.screens.run_detail import RunScreen
from tui.state import DeskState
from tui.theming import desk_color
from tui.widgets.key_footer import KeyFooter
from tui.widgets.vim_table import VimTable

MARKS = 2
"""How many runs `space` marks (the two that `c` compares)."""
MARKED, UNMARKED = "[x]", "[ ]"
COLUMNS = (
    ("mark", "Cmp"),
    ("id", "#"),
    ("status", "Status"),
    ("finished", "Finished"),
    ("strategy", "Strategy"),
    ("symbol", "Symbol"),
    ("exchange", "Exchange"),
    ("frame", "Frame"),
    ("profile", "Profile"),
    ("signals", "Signals"),
    ("win", "Win rate"),
    ("pnl", "Return"),
    ("sharpe", "Sharpe"),
)


class HistoryScreen(Screen[None]):
    """Stored runs in a table; `enter` opens one, `space` marks two, `c` compares them, `d` deletes.

    Args:
        state: Where the runs are stored.
        bridge: Fetches candles when a run is opened.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="history-back"),
        Binding(
            "enter", "open_run", "Open", tooltip="Open the run under the cursor", id="open-run"
        ),
        Binding(
            "space",
            "mark_run",
            "Mark",
            tooltip="Mark the run under the cursor for comparison (two at most)",
            id="mark-run",
        ),
        Binding(
            "c",
            "compare_runs",
            "Compare",
            tooltip="Compare the two marked runs (or the marked one with the cursor's)",
            id="compare-runs",
        ),
        Binding(
            "d,delete",
            "delete_run",
            "Delete",
            tooltip="Delete the run under the cursor from the history (asks first)",
            id="delete-run",
        ),
    ]

    def __init__(self, state: DeskState, bridge: EngineBridge) -> None:
        super().__init__()
        self.state = state
        self.bridge = bridge
        self.records: dict[int, RunSummary] = {}
        self.marked: list[int] = []
        """The marked run ids, oldest mark first (two at most)."""

    def compose(self) -> ComposeResult:
        """Title, runs table, footer."""
        yield Label(
            "History · space marks two runs [x], c compares them",
            classes="screen-title",
        )
        table = VimTable(id="runs", cursor_type="row", zebra_stripes=True, classes="pane")
        table.border_title = "Runs"
        yield table
        yield KeyFooter()

    def on_mount(self) -> None:
        """Fill the table."""
        table = self.query_one(VimTable)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        records = self.state.runs()
        self.records = {r.run_id: r for r in records}
        for record in records:
            table.add_row(*self._cells(record), key=str(record.run_id))
        self._title_table()
        table.focus()

    def _title_table(self) -> None:
        self.query_one(VimTable).border_title = f"Runs ({len(self.records)})"

    def _cells(self, record: RunSummary) -> tuple[Text | str, ...]:
        stats = record.statistics
        # The account's return; runs stored before it give backtest-kit's sum, marked Σ.
        account = stats.get("return_percent")
        pnl = account if account is not None else stats.get("total_pnl")
        style = ""
        if pnl:
            style = desk_color(self.app.theme_variables, "pnl-up" if pnl > 0 else "pnl-down").hex
        request = record.request
        return (
            MARKED if record.run_id in self.marked else UNMARKED,
            str(record.run_id),
            self._status(record),
            format_timestamp(record.finished_at),
            request.strategy_name,
            request.symbol,
            request.exchange_name,
            record.frame_label,
            request.profile.value,
            format_count(stats.get("total_signals")),
            format_percent(stats.get("win_rate"), signed=False),
            Text(
                ("" if account is not None else "Σ ") + format_percent(pnl),
                style=style,
                justify="right",
            ),
            format_ratio(stats.get("sharpe_ratio")),
        )

    def _status(self, record: RunSummary) -> Text:
        """`✔` for a clean run, `⚠ 12` (the warning colour) for one with engine errors."""
        variables = self.app.theme_variables
        if record.error_count:
            return Text(f"⚠ {record.error_count}", style=desk_color(variables, "warning").hex)
        return Text("✔", style=desk_color(variables, "success").hex)

    def _cursor_record(self) -> RunSummary | None:
        table = self.query_one(VimTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return self.records.get(int(str(key.value)))

    def action_open_run(self) -> None:
        """Open the run under the cursor: chart, signals, statistics, report."""
        summary = self._cursor_record()
        if summary is None:
            self.notify("No runs yet: finished backtests appear here.", severity="warning")
            return
        record = self.state.run(summary.run_id)
        if record is None:
            self.notify(
                f"Run #{summary.run_id}'s signals file in {self.state.runs_dir} is missing or "
                "unreadable; its summary and statistics are all that is left.",
                severity="error",
            )
            return
        self.app.push_screen(RunScreen(record, self.bridge))

    @on(DataTable.RowSelected, "#runs")
    def _row_selected(self) -> None:
        self.action_open_run()

    def action_mark_run(self) -> None:
        """Mark (or unmark) the run under the cursor; a third mark replaces the oldest."""
        record = self._cursor_record()
        if record is None:
            return
        table = self.query_one(VimTable)
        if record.run_id in self.marked:
            self.marked.remove(record.run_id)
        else:
            self.marked.append(record.run_id)
        for run_id in self.marked[:-MARKS]:
            if str(run_id) in table.rows:
                table.update_cell(str(run_id), "mark", UNMARKED)
        self.marked = self.marked[-MARKS:]
        table.update_cell(
            str(record.run_id), "mark", MARKED if record.run_id in self.marked else UNMARKED
        )

    def action_compare_runs(self) -> None:
        """Compare the two marked runs (older run left), or the marked one with the cursor's."""
        pair = [self.records[run_id] for run_id in self.marked if run_id in self.records]
        if len(pair) == 1:
            record = self._cursor_record()
            if record is not None and record.run_id != pair[0].run_id:
                pair.append(record)
        if len(pair) != MARKS:
            self.notify(
                "Mark two runs with space (or one, then move to another), then press c.",
                severity="warning",
            )
            return
        left, right = sorted(pair, key=lambda r: r.run_id)
        self.app.push_screen(CompareScreen(left, right))

    def action_delete_run(self) -> None:
        """Ask, then delete the run under the cursor (its summary and its signals file)."""
        record = self._cursor_record()
        if record is None:
            self.notify("No runs to delete.", severity="warning")
            return

        def answered(delete: bool | None) -> None:
            if delete:
                self._delete(record)

        self.app.push_screen(
            ConfirmModal(
                "Delete run",
                f"Delete {record.title}?",
                "Its statistics, signals and stored report leave the history. "
                "The markdown report under ./dump stays.",
                "y / enter delete · n / esc keep",
                dialog_id="confirm-delete",
            ),
            answered,
        )

    def _delete(self, record: RunSummary) -> None:
        self.state.delete_run(record.run_id)
        del self.records[record.run_id]
        if record.run_id in self.marked:
            self.marked.remove(record.run_id)
        self.query_one(VimTable).remove_row(str(record.run_id))
        self._title_table()
        self.notify(f"Deleted run #{record.run_id}.")
