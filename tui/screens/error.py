"""A modal that shows an error's title and message (never a traceback)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static


class ErrorModal(ModalScreen[None]):
    """An error the user should read; `esc` or `enter` closes it and the desk goes on.

    Args:
        title: What failed, e.g. "Could not load my_strategies.py".
        msg: Why, in words (the exception's type and message).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss_error", "Close", id="close-error"),
        Binding("enter", "dismiss_error", "Close", show=False, id="close-error-enter"),
    ]

    def __init__(self, title: str, msg: str) -> None:
        super().__init__(classes="modal")
        self.error_title = title
        self.msg = msg

    def compose(self) -> ComposeResult:
        """The message in a scrollable box."""
        with Vertical(id="error-box", classes="dialog") as box:
            box.border_title = self.error_title
            with VerticalScroll():
                yield Static(self.msg, id="error-message", markup=False)
            yield Label("esc / enter close", classes="hint")

    def action_dismiss_error(self) -> None:
        """Close the modal."""
        self.dismiss(None)
