"""The live screen's modals: start a paper loop, and confirm a graceful stop (here or of pid N)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Select

from tui.live_bridge import LoopSpec
from tui.screens.confirm import ConfirmModal

SPEEDS: tuple[tuple[str, float], ...] = (
    ("real time", 1.0),
    ("60× (a minute a second)", 60.0),
    ("600×", 600.0),
    ("3600× (an hour a second)", 3600.0),
)


class LiveLauncherModal(ModalScreen[LoopSpec | None]):
    """Choose a strategy, a symbol and a clock speed for a paper loop on the demo market.

    Args:
        strategies: Registered strategy names.
        symbols: The demo market's symbols.
        defaults: The choices shown first.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Cancel", id="live-launcher-cancel"),
        Binding(
            "enter", "start", "Start", tooltip="Start the paper loop", id="live-launcher-start"
        ),
    ]

    def __init__(self, strategies: Sequence[str], symbols: Sequence[str], defaults: LoopSpec):
        super().__init__(classes="modal")
        self.strategies = list(strategies)
        self.symbols = list(symbols)
        self.defaults = defaults

    def compose(self) -> ComposeResult:
        """The form."""
        d = self.defaults
        with Vertical(id="live-launcher-box", classes="dialog") as box:
            box.border_title = "New paper loop · demo market"
            with Grid(id="live-launcher-grid"):
                yield Label("Strategy")
                yield Select(
                    [(s, s) for s in self.strategies],
                    value=d.strategy_name if d.strategy_name in self.strategies else Select.NULL,
                    id="live-strategy",
                )
                yield Label("Symbol")
                yield Select(
                    [(s, s) for s in self.symbols],
                    value=d.symbol if d.symbol in self.symbols else Select.NULL,
                    id="live-symbol",
                )
                yield Label("Clock")
                yield Select(
                    [(label, speed) for label, speed in SPEEDS],
                    value=d.speed if d.speed in dict(SPEEDS).values() else 1.0,
                    allow_blank=False,
                    id="live-speed",
                )
            yield Label("", id="live-launcher-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Start", variant="primary", id="live-start")
                yield Button("Cancel", id="live-cancel")
            yield Label("enter start · esc cancel · tab next field", classes="hint")

    def on_mount(self) -> None:
        """Focus Start so `enter` starts at once."""
        self.query_one("#live-start", Button).focus()

    def action_start(self) -> None:
        """Dismiss with the chosen loop, or explain what is missing."""
        strategy = self.query_one("#live-strategy", Select).value
        symbol = self.query_one("#live-symbol", Select).value
        speed = self.query_one("#live-speed", Select).value
        if not isinstance(strategy, str) or not isinstance(symbol, str):
            self.query_one("#live-launcher-error", Label).update("Choose a strategy and a symbol.")
            return
        self.dismiss(LoopSpec(strategy, symbol, "demo", float(str(speed))))

    def action_close(self) -> None:
        """Dismiss without starting anything."""
        self.dismiss(None)

    @on(Button.Pressed, "#live-start")
    def _start_pressed(self) -> None:
        self.action_start()

    @on(Button.Pressed, "#live-cancel")
    def _cancel_pressed(self) -> None:
        self.action_close()


class ConfirmStopModal(ConfirmModal):
    """Ask before a graceful stop; names the strategy and the symbol.

    Args:
        spec: The loop to stop.
        has_position: Whether the loop holds an open position (it is watched until it closes).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "confirm", "Yes, stop", id="confirm-stop"),
        Binding("n,escape", "cancel", "No, keep running", id="cancel-stop"),
    ]

    def __init__(self, spec: LoopSpec, has_position: bool) -> None:
        then = (
            "The open position is watched until it closes, then the loop ends."
            if has_position
            else "No position is open: the loop ends at the next tick."
        )
        super().__init__(
            "Stop live loop",
            f"Stop {spec.strategy_name} on {spec.symbol}?",
            f"No new signals will open. {then}",
            "y / enter stop · n / esc keep running",
            dialog_id="confirm-stop",
        )
        self.spec = spec
        self.has_position = has_position


class ConfirmAttachedStopModal(ConfirmModal):
    """Ask before asking a headless `desk live` (attached read-only) to stop gracefully.

    Args:
        spec: The loop that process runs.
        pid: The process id that gets SIGINT.
    """

    BINDINGS: ClassVar[list[BindingType]] = ConfirmStopModal.BINDINGS

    def __init__(self, spec: LoopSpec, pid: int) -> None:
        super().__init__(
            "Stop headless live loop",
            f"Ask pid {pid} to stop {spec.strategy_name} on {spec.symbol}?",
            "The desk sends it SIGINT, desk live's graceful stop: no new signals; an open "
            "position is watched until it closes, then the process ends.",
            "y / enter ask it to stop · n / esc keep running",
            dialog_id="confirm-stop",
        )
        self.spec = spec
        self.pid = pid
