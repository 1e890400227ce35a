"""A yes/no question before something the user cannot take back."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static


class ConfirmModal(ModalScreen[bool]):
    """Ask a question; `y`/`enter` dismisses with True, `n`/`escape` with False.

    Args:
        title: The dialog's border title.
        question: One line, in bold.
        detail: What happens, in a sentence or two.
        hint: The keys, e.g. `y / enter delete · n / esc keep`.
        dialog_id: Prefix of the dialog's ids (`<id>-box`, `<id>-question`, `<id>-detail`).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "confirm", "Yes", id="confirm-yes"),
        Binding("n,escape", "cancel", "No", id="confirm-no"),
    ]

    def __init__(self, title: str, question: str, detail: str, hint: str, dialog_id: str) -> None:
        super().__init__(classes="modal")
        self.title_text = title
        self.question = question
        self.detail = detail
        self.hint = hint
        self.dialog_id = dialog_id

    def compose(self) -> ComposeResult:
        """The question, what it does, and the keys."""
        prefix = self.dialog_id
        with Vertical(id=f"{prefix}-box", classes="dialog confirm-box") as box:
            box.border_title = self.title_text
            yield Label(self.question, id=f"{prefix}-question", classes="confirm-question")
            yield Static(self.detail, id=f"{prefix}-detail", classes="confirm-detail")
            yield Label(self.hint, classes="hint")

    def action_confirm(self) -> None:
        """Answer yes."""
        self.dismiss(True)

    def action_cancel(self) -> None:
        """Answer no."""
        self.dismiss(False)
