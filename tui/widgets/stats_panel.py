"""The statistics panel: the run's figures, coloured by sign where the sign matters."""

from __future__ import annotations

from collections.abc import Mapping

from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.theme import Theme
from textual.widgets import Static

from tui.formatting import STATISTICS, StatKind, format_stat
from tui.theming import desk_color


class StatsPanel(Static):
    """Label/value rows of a run's statistics; empty values show `—`."""

    statistics: reactive[Mapping[str, float | None]] = reactive(dict, always_update=True)

    def on_mount(self) -> None:
        """Follow theme changes."""
        self.app.theme_changed_signal.subscribe(self, self._restyle)

    def _restyle(self, _theme: Theme) -> None:
        self.mutate_reactive(StatsPanel.statistics)

    def watch_statistics(self, statistics: Mapping[str, float | None]) -> None:
        """Redraw the table."""
        variables = self.app.theme_variables
        table = Table.grid(expand=True, padding=(0, 1))
        table.add_column("label", ratio=1, no_wrap=True)
        table.add_column("value", justify="right", no_wrap=True)
        for name, label, kind, _ in STATISTICS:
            value = statistics.get(name)
            style = ""
            if kind is StatKind.SIGNED_PERCENT and value:
                style = desk_color(variables, "pnl-up" if value > 0 else "pnl-down").hex
            table.add_row(
                Text(label, style=desk_color(variables, "muted").hex),
                Text(format_stat(kind, value), style=style),
            )
        self.update(table)
