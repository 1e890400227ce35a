"""The backtest launcher: strategy, symbol, exchange, frame or date range, and profile.

Its defaults are the last choices, and the Run button has the focus, so `b` `enter` repeats
the last run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Select

from tui.engine_bridge import EngineBridge, RegistrySnapshot
from tui.formatting import format_date, parse_date, to_ms
from tui.runs import Profile, RunRequest

DATE_RANGE = "__range__"
PROFILE_LABELS = {Profile.DEFAULT: "default", Profile.BACKTEST_KIT_1_4_10: "backtest-kit 1.4.10"}


def _pick(wanted: str | None, available: Sequence[str], fallback: str | None = None) -> str | None:
    if wanted in available:
        return wanted
    if fallback in available:
        return fallback
    return available[0] if available else None


class LauncherModal(ModalScreen[RunRequest | None]):
    """Choose and start a backtest; dismisses with the request, or None on `esc`.

    Args:
        bridge: Lists what is registered and the symbols of each exchange.
        defaults: The last choices (None the first time).
        preset: Choices that override the defaults, e.g. from the registry tree.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Cancel", id="launcher-cancel"),
        Binding("enter", "run", "Run", tooltip="Start the backtest", id="launcher-run"),
    ]

    def __init__(
        self,
        bridge: EngineBridge,
        defaults: RunRequest | None,
        preset: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(classes="modal")
        self.bridge = bridge
        self.registry: RegistrySnapshot = bridge.registry()
        base = defaults or bridge.default_request()
        self.defaults = base.model_copy(update=dict(preset or {})) if base else None

    def compose(self) -> ComposeResult:
        """The form."""
        strategies = [e.name for e in self.registry.strategies]
        exchanges = [e.name for e in self.registry.exchanges]
        frames = [e.name for e in self.registry.frames if not e.name.startswith("desk-")]
        d = self.defaults
        exchange = _pick(d.exchange_name if d else None, exchanges, "demo")
        strategy = _pick(d.strategy_name if d else None, strategies)
        frame = (
            DATE_RANGE
            if d and d.is_custom_range
            else _pick(d.frame_name if d else None, frames, "demo-7d")
        )
        with Vertical(id="launcher-box", classes="dialog") as box:
            box.border_title = "New backtest"
            with Grid(id="launcher-grid"):
                yield Label("Strategy")
                yield Select(
                    [(s, s) for s in strategies],
                    value=strategy or Select.BLANK,
                    allow_blank=not strategies,
                    id="strategy",
                )
                yield Label("Symbol")
                yield Select([], id="symbol", allow_blank=True)
                yield Label("Exchange")
                yield Select(
                    [(e, e) for e in exchanges],
                    value=exchange or Select.BLANK,
                    allow_blank=not exchanges,
                    id="exchange",
                )
                yield Label("Frame")
                yield Select(
                    [*((f, f) for f in frames), ("date range…", DATE_RANGE)],
                    value=frame or DATE_RANGE,
                    allow_blank=False,
                    id="frame",
                )
            with Horizontal(id="symbol-row"):
                yield Label("Symbol", classes="field-label")
                yield Input(d.symbol if d else "", placeholder="e.g. BTCUSDT", id="symbol-input")
            with Horizontal(id="range-row"):
                yield Label("From", classes="field-label")
                yield Input(self._range_default(0), placeholder="YYYY-MM-DD", id="start")
                yield Label("to", classes="field-label")
                yield Input(self._range_default(1), placeholder="YYYY-MM-DD", id="end")
            with Horizontal(id="profile-row"):
                yield Label("Profile", classes="field-label")
                with RadioSet(id="profile"):
                    for profile, label in PROFILE_LABELS.items():
                        yield RadioButton(
                            label,
                            value=(d.profile if d else Profile.DEFAULT) is profile,
                            id=f"profile-{profile.value.replace('.', '-')}",
                        )
            yield Label("", id="launcher-error")
            with Horizontal(id="launcher-buttons"):
                yield Button("Run", variant="primary", id="run")
                yield Button("Cancel", id="cancel")
            yield Label("enter run · esc cancel · tab next field", classes="hint")

    def _range_default(self, index: int) -> str:
        d = self.defaults
        if d is not None and d.start_ms is not None and d.end_ms is not None:
            return format_date((d.start_ms, d.end_ms)[index])
        if d is not None and d.frame_name is not None:
            try:
                window = self.bridge.frame_window(d)
            except Exception:  # an unknown frame leaves the range empty to fill in
                return ""
            return format_date((window.start_ms, window.end_ms)[index])
        return ""

    def on_mount(self) -> None:
        """Fill the symbols of the chosen exchange; focus Run so `enter` starts at once."""
        self._fill_symbols(self.defaults.symbol if self.defaults else None)
        self._show_range()
        self.query_one("#run", Button).focus()

    def _fill_symbols(self, wanted: str | None) -> None:
        exchange = self.query_one("#exchange", Select).value
        symbols = list(self.bridge.symbols(str(exchange))) if exchange is not Select.BLANK else []
        select = self.query_one("#symbol", Select)
        select.set_options([(s, s) for s in symbols])
        choice = _pick(wanted, symbols)
        if choice is not None:
            select.value = choice
        has_list = bool(symbols)
        self.query_one("#launcher-grid").set_class(not has_list, "-free-symbol")
        self.query_one("#symbol-row").display = not has_list

    def _show_range(self) -> None:
        self.query_one("#range-row").display = self.query_one("#frame", Select).value == DATE_RANGE

    @on(Select.Changed, "#exchange")
    def _exchange_changed(self) -> None:
        current = self.query_one("#symbol", Select).value
        self._fill_symbols(None if current is Select.BLANK else str(current))

    @on(Select.Changed, "#frame")
    def _frame_changed(self) -> None:
        self._show_range()

    @on(Button.Pressed, "#run")
    @on(Input.Submitted)
    def _run_pressed(self) -> None:
        self.action_run()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_close()

    def action_close(self) -> None:
        """Close without running."""
        self.dismiss(None)

    def action_run(self) -> None:
        """Validate the form and start the run."""
        try:
            request = self._request()
        except ValueError as exc:
            self.query_one("#launcher-error", Label).update(str(exc))
            return
        self.dismiss(request)

    def _request(self) -> RunRequest:
        strategy = self.query_one("#strategy", Select).value
        exchange = self.query_one("#exchange", Select).value
        if strategy is Select.BLANK:
            raise ValueError("no strategy is registered: load a module with --module")
        if exchange is Select.BLANK:
            raise ValueError("no exchange is registered")
        symbol_select = self.query_one("#symbol", Select)
        if self.query_one("#symbol-row").display:
            symbol = self.query_one("#symbol-input", Input).value.strip()
        else:
            symbol = "" if symbol_select.value is Select.BLANK else str(symbol_select.value)
        if not symbol:
            raise ValueError("choose a symbol, e.g. BTCUSDT")
        pressed = self.query_one(RadioSet).pressed_index
        profile = list(PROFILE_LABELS)[max(pressed, 0)]
        frame = str(self.query_one("#frame", Select).value)
        if frame != DATE_RANGE:
            return RunRequest(
                strategy_name=str(strategy),
                symbol=symbol,
                exchange_name=str(exchange),
                frame_name=frame,
                profile=profile,
            )
        start = parse_date(self.query_one("#start", Input).value)
        end = parse_date(self.query_one("#end", Input).value, end_of_day=True)
        if end <= start:
            raise ValueError(
                f"the range ends ({format_date(to_ms(end))}) "
                f"before it starts ({format_date(to_ms(start))})"
            )
        return RunRequest(
            strategy_name=str(strategy),
            symbol=symbol,
            exchange_name=str(exchange),
            start_ms=to_ms(start),
            end_ms=to_ms(end),
            profile=profile,
        )
