"""The theme picker: the highlighted theme applies at once; `enter` keeps it, `esc` reverts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from tui.screens.reports import VimOptionList


class ThemeScreen(ModalScreen[str | None]):
    """Pick a theme; dismisses with the chosen name, or None when cancelled.

    Args:
        names: The themes on offer.
        current: The theme in use (restored on `esc`).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "revert", "Cancel", id="theme-cancel"),
    ]

    def __init__(self, names: Sequence[str], current: str) -> None:
        super().__init__(classes="modal")
        self.names = tuple(names)
        self.original = current

    def compose(self) -> ComposeResult:
        """The list of themes."""
        with Vertical(id="theme-box", classes="dialog") as box:
            box.border_title = "Theme"
            yield VimOptionList(*(Option(name, id=name) for name in self.names), id="theme-list")
            yield Label("↑↓ try · enter keep · esc cancel", classes="hint")

    def on_mount(self) -> None:
        """Highlight the theme in use."""
        options = self.query_one(VimOptionList)
        options.highlighted = self.names.index(self.original) if self.original in self.names else 0
        options.focus()

    @on(OptionList.OptionHighlighted, "#theme-list")
    def _try(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id is not None:
            self.app.theme = event.option.id

    @on(OptionList.OptionSelected, "#theme-list")
    def _keep(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_revert(self) -> None:
        """Restore the original theme and close."""
        self.app.theme = self.original
        self.dismiss(None)
