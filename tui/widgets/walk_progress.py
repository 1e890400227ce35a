"""A one-line progress strip: what runs (or ran) and a bar of backtests done."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, ProgressBar


class WalkProgress(Horizontal):
    """A label and a progress bar of finished backtests out of the total."""

    DEFAULT_CSS = """
    WalkProgress { height: 1; }
    WalkProgress > Label { width: auto; max-width: 70%; padding: 0 1; }
    WalkProgress > ProgressBar { width: 1fr; }
    WalkProgress > ProgressBar > Bar { width: 1fr; }
    """

    def compose(self) -> ComposeResult:
        """The label and the bar."""
        yield Label("", id="walk-label")
        yield ProgressBar(total=1, show_eta=False, show_percentage=True, id="walk-bar")

    def show(self, text: str, processed: int | None = None, total: int | None = None) -> None:
        """Say `text`; move the bar when `processed` and `total` are given."""
        self.query_one("#walk-label", Label).update(text)
        if processed is not None and total is not None:
            self.query_one(ProgressBar).update(total=max(total, 1), progress=processed)
