"""Two runs side by side: their setup and statistics, with the difference of each figure."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Label

from tui.formatting import STATISTICS, format_stat, format_stat_delta
from tui.runs import RunSummary
from tui.theming import desk_color
from tui.widgets.key_footer import KeyFooter
from tui.widgets.vim_table import VimTable

FIRST_ERROR_CHARS = 40
"""How much of a run's first engine error the comparison shows."""


class CompareScreen(Screen[None]):
    """Setup and statistics of two runs, and `B − A` per statistic coloured better or worse.

    Args:
        left: Run A (the marked one).
        right: Run B.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="compare-back"),
    ]

    def __init__(self, left: RunSummary, right: RunSummary) -> None:
        super().__init__()
        self.left = left
        self.right = right

    def compose(self) -> ComposeResult:
        """Title, comparison table, footer."""
        yield Label(
            f"Compare · A = {self.left.title} · B = {self.right.title}", classes="screen-title"
        )
        table = VimTable(id="comparison", cursor_type="row", classes="pane")
        table.border_title = "A versus B"
        yield table
        yield KeyFooter()

    def on_mount(self) -> None:
        """Fill the table."""
        table = self.query_one(VimTable)
        table.add_column("", key="label")
        table.add_column(f"A #{self.left.run_id}", key="a")
        table.add_column(f"B #{self.right.run_id}", key="b")
        table.add_column("B − A", key="delta")
        for label, a, b in self._setup_rows():
            table.add_row(label, a, b, "" if a == b else "≠", key=f"setup-{label}")
        variables = self.app.theme_variables
        for name, label, kind, higher_is_better in STATISTICS:
            a_value, b_value = self.left.statistics.get(name), self.right.statistics.get(name)
            delta = format_stat_delta(kind, a_value, b_value)
            style = ""
            if a_value is not None and b_value is not None and a_value != b_value:
                better = (b_value > a_value) == higher_is_better
                style = desk_color(variables, "pnl-up" if better else "pnl-down").hex
            table.add_row(
                label,
                Text(format_stat(kind, a_value), justify="right"),
                Text(format_stat(kind, b_value), justify="right"),
                Text(delta, style=style, justify="right"),
                key=name,
            )
        table.focus()

    def _setup_rows(self) -> list[tuple[str, str, str]]:
        a, b = self.left.request, self.right.request
        return [
            ("Strategy", a.strategy_name, b.strategy_name),
            ("Symbol", a.symbol, b.symbol),
            ("Exchange", a.exchange_name, b.exchange_name),
            ("Frame", self.left.frame_label, self.right.frame_label),
            ("Profile", a.profile.value, b.profile.value),
            ("Engine errors", _errors(self.left), _errors(self.right)),
        ]


def _errors(run: RunSummary) -> str:
    """`none`, or the error count and the first error of a run."""
    return run.error_summary(FIRST_ERROR_CHARS) or "none"
