"""The help screen, generated from the bindings of every screen and widget of the desk."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Label, Static

from tui.screens.report import ReportScroll
from tui.theming import desk_color
from tui.widgets.key_footer import KeyFooter


class HelpScreen(Screen[None]):
    """Every key of the desk, grouped by where it works, with its binding id (for keymaps).

    Args:
        sections: Section titles with the bindings that work there.
        keymap: The user's keys by binding id (shown instead of the default keys).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="help-back"),
    ]

    def __init__(
        self,
        sections: Sequence[tuple[str, Sequence[BindingType]]],
        keymap: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.sections = sections
        self.keymap = dict(keymap or {})

    def compose(self) -> ComposeResult:
        """Title, the keys, footer."""
        yield Label(
            "Help · this screen's keys first, then every key and its id for your keymap",
            classes="screen-title",
        )
        with ReportScroll(id="help-scroll", classes="pane"):
            yield Static(id="help-keys")
        yield KeyFooter()

    def _rows(self, bindings: Sequence[BindingType]) -> list[tuple[str, Binding]]:
        """One row per binding id (or action): all its keys, e.g. `/ ctrl+p` for Commands."""
        rows: dict[str, tuple[list[str], Binding]] = {}
        for binding in Binding.make_bindings(bindings):
            if binding.id in self.keymap:
                binding = replace(binding, key=self.keymap[binding.id], key_display=None)
            shown = self.app.get_key_display(binding)
            keys, _ = rows.setdefault(binding.id or binding.action, ([], binding))
            if shown in keys:  # a second key under the first's display: show the key itself
                shown = binding.key
            if shown not in keys:
                keys.append(shown)
        return [(" ".join(keys), binding) for keys, binding in rows.values()]

    def on_mount(self) -> None:
        """Build the table from the bindings."""
        muted = desk_color(self.app.theme_variables, "muted").hex
        table = Table.grid(padding=(0, 2))
        table.add_column("key", justify="right", no_wrap=True)
        table.add_column("action")
        table.add_column("id", style=muted)
        for section, bindings in self.sections:
            table.add_row(Text(section, style="bold"), "", "")
            for keys, binding in self._rows(bindings):
                table.add_row(
                    Text(keys, style="bold"),
                    binding.tooltip or binding.description,
                    binding.id or "",
                )
            table.add_row("", "", "")
        self.query_one("#help-keys", Static).update(table)
        self.query_one(ReportScroll).focus()
