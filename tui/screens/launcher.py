"""The backtest launcher: strategy, symbol, exchange, frame or date range, balance, profile.

Its defaults are the last choices, and the Run button has the focus, so `b` `enter` repeats
the last run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Select

from engine.core.errors import EngineError
from engine.data.coverage import Span, frame_span
from tui.engine_bridge import EngineBridge, span_text
from tui.formatting import format_date, parse_date, to_ms
from tui.runs import DEFAULT_BALANCE, Profile, RunRequest
from tui.widgets.marked_radio import MarkedRadioButton

DATE_RANGE = "__range__"
PROFILE_LABELS = {Profile.DEFAULT: "default", Profile.BACKTEST_KIT_1_4_10: "backtest-kit 1.4.10"}


def _radio_id(profile: Profile) -> str:
    return f"profile-{profile.value.replace('.', '-')}"


def _choose(
    select: Select[str], options: Sequence[str], value: str | None, labels: Mapping[str, str]
) -> None:
    """Offer `options` (shown with their labels) and select `value` (blank when there is none)."""
    select.set_options([(labels.get(o, o), o) for o in options])
    if value is None:
        select.clear()
    else:
        select.value = value


def chosen(select: Select[str]) -> str | None:
    """Return a Select's value, None when it is blank (whatever Textual calls blank)."""
    value = select.value
    return value if isinstance(value, str) and not select.is_blank() else None


def _span_label(span: Span | None) -> str:
    return "" if span is None else span_text(span.first_ms, span.last_ms)


def _pick(wanted: str | None, available: Sequence[str], fallback: str | None = None) -> str | None:
    if wanted in available:
        return wanted
    if fallback in available:
        return fallback
    return available[0] if available else None


def _balance_text(balance: float) -> str:
    return f"{balance:.0f}" if balance == int(balance) else f"{balance:.2f}"


def parse_balance(text: str) -> float:
    """Read the Balance field: a positive amount (`10000`, `2 500`, `1,250.50`); blank: 10,000.

    Raises:
        ValueError: The text is not a positive number; the message names field, value and fix.
    """
    cleaned = text.strip().replace(" ", "").replace(",", "").replace("_", "")
    if not cleaned:
        return DEFAULT_BALANCE
    try:
        balance = float(cleaned)
    except ValueError:
        balance = math.nan
    if not math.isfinite(balance) or balance <= 0:
        raise ValueError(
            f"Balance {text.strip()!r} is not a positive amount; type the starting balance in "
            "the quote currency, e.g. 10000"
        )
    return balance


class LauncherModal(ModalScreen[RunRequest | None]):
    """Choose and start a backtest; dismisses with the request, or None on `esc`.

    The desk builds one launcher and keeps it installed: each opening refills it (`prepare`)
    instead of building a new form, and closing it removes nothing, so the keys pressed right
    after `enter` reach the desk at once.

    Args:
        bridge: Lists what is registered and the symbols of each exchange.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Cancel", id="launcher-cancel"),
        Binding(
            "enter",
            "run",
            "Run",
            tooltip="Start the backtest (from any field)",
            priority=True,
            id="launcher-run",
        ),
    ]

    def __init__(self, bridge: EngineBridge) -> None:
        super().__init__(classes="modal")
        self.bridge = bridge
        self.defaults: RunRequest | None = None
        self._spans: dict[str, Span | None] = {}

    def prepare(self, defaults: RunRequest | None, preset: Mapping[str, str] | None = None) -> None:
        """Fill the form for the next opening.

        Args:
            defaults: The last choices (None the first time).
            preset: Choices that override the defaults, e.g. from the registry tree.
        """
        base = defaults or self.bridge.default_request()
        self.defaults = base.model_copy(update=dict(preset or {})) if base else None
        if self.is_mounted:
            self._fill()

    def compose(self) -> ComposeResult:
        """The form (`prepare` fills it)."""
        with Vertical(id="launcher-box", classes="dialog") as box:
            box.border_title = "New backtest"
            with Grid(id="launcher-grid"):
                yield Label("Strategy")
                yield Select([], id="strategy")
                yield Label("Symbol")
                yield Select([], id="symbol")
                yield Label("Exchange")
                yield Select([], id="exchange")
                yield Label("Frame")
                yield Select(
                    [("date range…", DATE_RANGE)], value=DATE_RANGE, allow_blank=False, id="frame"
                )
            with Horizontal(id="symbol-row"):
                yield Label("Symbol", classes="field-label")
                yield Input(placeholder="e.g. BTCUSDT", id="symbol-input")
            with Horizontal(id="range-row"):
                yield Label("From", classes="field-label")
                yield Input(placeholder="YYYY-MM-DD", id="start")
                yield Label("to", classes="field-label")
                yield Input(placeholder="YYYY-MM-DD", id="end")
            with Horizontal(id="balance-row"):
                yield Label("Balance", classes="field-label")
                yield Input(placeholder=f"{DEFAULT_BALANCE:.0f}", id="balance")
                yield Label(
                    "quote currency · whole equity per trade",
                    classes="field-hint",
                )
            with Horizontal(id="profile-row"):
                yield Label("Profile", classes="field-label")
                with RadioSet(id="profile"):
                    for profile, label in PROFILE_LABELS.items():
                        yield MarkedRadioButton(label, id=_radio_id(profile))
            yield Label("", id="launcher-error")
            with Horizontal(id="launcher-buttons"):
                yield Button("Run", variant="primary", id="run")
                yield Button("Cancel", id="cancel")
            yield Label("enter run · esc cancel · tab next field", classes="hint")

    def on_mount(self) -> None:
        """Fill the form the first time."""
        self._fill()

    def _fill(self) -> None:
        """Show what is registered now with the defaults chosen; focus Run, so `enter` runs."""
        self.bridge.refresh_sources()
        registry = self.bridge.registry()
        strategies = [e.name for e in registry.strategies]
        exchanges = [e.name for e in registry.exchanges]
        frame_entries = [e for e in registry.frames if not e.name.startswith("desk-")]
        frames = [e.name for e in frame_entries]
        d = self.defaults
        _choose(
            self.query_one("#strategy", Select),
            strategies,
            _pick(d.strategy_name if d else None, strategies),
            {},
        )
        _choose(
            self.query_one("#exchange", Select),
            exchanges,
            _pick(d.exchange_name if d else None, exchanges, "demo"),
            {e.name: f"{e.name} · {self.bridge.exchange_kind(e.name)}" for e in registry.exchanges},
        )
        frame_select = self.query_one("#frame", Select)
        frame_select.set_options(
            [
                *((f"{f.name} {f.detail}", f.name) for f in frame_entries),
                ("date range…", DATE_RANGE),
            ]
        )
        frame_select.value = (
            DATE_RANGE
            if d is None or d.is_custom_range
            else _pick(d.frame_name, frames, "demo-7d") or DATE_RANGE
        )
        self.query_one("#symbol-input", Input).value = d.symbol if d else ""
        self.query_one("#start", Input).value = self._range_default(0)
        self.query_one("#end", Input).value = self._range_default(1)
        self.query_one("#balance", Input).value = _balance_text(d.balance if d else DEFAULT_BALANCE)
        profile = d.profile if d else Profile.DEFAULT
        self.query_one(f"#{_radio_id(profile)}", RadioButton).value = True
        self.query_one("#launcher-error", Label).update("")
        self._fill_symbols(d.symbol if d else None)
        self._show_range()
        run = self.query_one("#run", Button)
        # The press that closed the launcher last time may still look active (its timer
        # stops while the screen is away), and an active button ignores `enter`.
        run.remove_class("-active")
        self.set_focus(run)

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

    def _fill_symbols(self, wanted: str | None) -> None:
        exchange = chosen(self.query_one("#exchange", Select))
        self._spans = self.bridge.symbol_spans(exchange) if exchange is not None else {}
        symbols = list(self._spans)
        select = self.query_one("#symbol", Select)
        select.set_options([(f"{s} {_span_label(self._spans[s])}".strip(), s) for s in symbols])
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
        self._fill_symbols(chosen(self.query_one("#symbol", Select)))

    @on(Select.Changed, "#symbol")
    def _symbol_changed(self) -> None:
        """Offer the symbol's data as the range when the frame or range chosen misses it."""
        symbol = chosen(self.query_one("#symbol", Select))
        span = self._spans.get(symbol) if symbol is not None else None
        if span is None:
            return
        frame_select = self.query_one("#frame", Select)
        frame = chosen(frame_select)
        if frame is not None and frame != DATE_RANGE:
            window = frame_span(frame)
            if window is None or (
                window.first_ms <= span.last_ms and span.first_ms <= window.last_ms
            ):
                return
            frame_select.value = DATE_RANGE
        start, end = self.query_one("#start", Input), self.query_one("#end", Input)
        try:
            overlaps = to_ms(parse_date(start.value)) <= span.last_ms and span.first_ms <= to_ms(
                parse_date(end.value, end_of_day=True)
            )
        except ValueError:  # empty or unreadable: offer the data's range
            overlaps = False
        if not overlaps:
            start.value, end.value = format_date(span.first_ms), format_date(span.last_ms)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Let `enter` pick in an open drop-down list; everywhere else it runs."""
        if action == "run":
            return not any(select.expanded for select in self.query(Select))
        return True

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
        """Validate the form against the data and start the run (or say what is wrong)."""
        try:
            request, warnings = self.bridge.fit_request(self._request())
        except (ValueError, EngineError) as exc:
            self.query_one("#launcher-error", Label).update(str(exc))
            return
        for warning in warnings:
            self.app.notify(warning, title="Range trimmed to the data", severity="warning")
        self.dismiss(request)

    def _request(self) -> RunRequest:
        strategy = chosen(self.query_one("#strategy", Select))
        exchange = chosen(self.query_one("#exchange", Select))
        if strategy is None:
            raise ValueError("choose a strategy (none registered? load a module with --module)")
        if exchange is None:
            raise ValueError("choose an exchange")
        if self.query_one("#symbol-row").display:
            symbol = self.query_one("#symbol-input", Input).value.strip()
        else:
            symbol = chosen(self.query_one("#symbol", Select)) or ""
        if not symbol:
            raise ValueError("choose a symbol, e.g. BTCUSDT")
        pressed = self.query_one(RadioSet).pressed_index
        profile = list(PROFILE_LABELS)[max(pressed, 0)]
        balance = parse_balance(self.query_one("#balance", Input).value)
        frame = chosen(self.query_one("#frame", Select)) or DATE_RANGE
        if frame != DATE_RANGE:
            return RunRequest(
                strategy_name=str(strategy),
                symbol=symbol,
                exchange_name=str(exchange),
                frame_name=frame,
                profile=profile,
                balance=balance,
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
            balance=balance,
        )
