"""The desk's one-line header: title, market, profile and the (injected) clock."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label

from tui.formatting import Clock, format_clock

CLOCK_SECONDS = 30.0


class DeskHeader(Horizontal):
    """`backtest-desk · demo market · profile default          2024-12-31 18:00 UTC`."""

    DEFAULT_CSS = """
    DeskHeader { height: 1; }
    DeskHeader > #header-title { width: 1fr; padding: 0 1; }
    DeskHeader > #header-clock { width: auto; padding: 0 1; }
    """

    def __init__(self, clock: Clock, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._clock = clock

    def compose(self) -> ComposeResult:
        """Title and clock labels."""
        yield Label("backtest-desk", id="header-title")
        yield Label(format_clock(self._clock()), id="header-clock")

    def on_mount(self) -> None:
        """Tick the clock."""
        self.set_interval(CLOCK_SECONDS, self._tick)

    def _tick(self) -> None:
        self.query_one("#header-clock", Label).update(format_clock(self._clock()))

    def describe(self, text: str) -> None:
        """Set the context shown after the title."""
        self.query_one("#header-title", Label).update(f"backtest-desk · {text}")
