"""The data screen's download form: exchange, symbol, UTC start and end, an optional API URL."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from engine.core.errors import ConfigError
from tui.data_command import minute_text, parse_date

API_URL_ENV = "DESK_CCXT_API_URL"
"""The environment variable whose value the API URL field starts with (a testnet, a mock)."""


@dataclass(frozen=True, slots=True)
class DownloadRequest:
    """One download of one-minute candles: `[start_ms, end_ms)` of a symbol on an exchange."""

    exchange: str
    symbol: str
    start_ms: int
    end_ms: int
    api_url: str | None = None
    timeframe: str = "1m"
    refresh: bool = False

    @property
    def label(self) -> str:
        """Return e.g. `binance BTC/USDT 1m 2024-01-01 00:00 → 2024-01-02 00:00`."""
        return (
            f"{self.exchange} {self.symbol} {self.timeframe} "
            f"{minute_text(self.start_ms)} → {minute_text(self.end_ms)}"
        )


def default_api_url() -> str:
    """Return `$DESK_CCXT_API_URL`, or an empty string (the exchange's own API)."""
    return os.environ.get(API_URL_ENV, "")


FIELDS = (
    ("exchange", "Exchange", "a ccxt id, e.g. binance"),
    ("symbol", "Symbol", "e.g. BTC/USDT or BTCUSDT"),
    ("start", "Start", "UTC date, e.g. 2024-03-01 or 2024-03-01 06:00"),
    ("end", "End", "UTC, exclusive, e.g. 2024-03-02"),
    ("api-url", "API URL", "optional: a testnet or mock base URL"),
)


class DownloadModal(ModalScreen[DownloadRequest | None]):
    """Ask what to download; `enter` starts it, `escape` cancels.

    Args:
        now_ms: The current time (the default range is the last full UTC day).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Cancel", id="data-download-cancel"),
        Binding("enter", "start", "Download", id="data-download-start"),
    ]

    def __init__(self, now_ms: int) -> None:
        super().__init__(classes="modal")
        today = datetime.fromtimestamp(now_ms / 1000, UTC).date()
        self.defaults = {
            "exchange": "binance",
            "symbol": "BTC/USDT",
            "start": (today - timedelta(days=1)).isoformat(),
            "end": today.isoformat(),
            "api-url": default_api_url(),
        }

    def compose(self) -> ComposeResult:
        """The five fields, an error line, the buttons and the keys."""
        with Vertical(id="data-download-box", classes="dialog") as box:
            box.border_title = "Download candles · 1m"
            with Grid(id="data-download-grid"):
                for field, label, placeholder in FIELDS:
                    yield Label(label)
                    yield Input(self.defaults[field], placeholder=placeholder, id=f"dl-{field}")
            yield Label("", id="data-download-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Download", variant="primary", id="dl-start")
                yield Button("Cancel", id="dl-cancel")
            yield Label("enter download · esc cancel · tab next field", classes="hint")

    def on_mount(self) -> None:
        """Focus the symbol, the field most often changed."""
        self.query_one("#dl-symbol", Input).focus()

    def _value(self, field: str) -> str:
        return self.query_one(f"#dl-{field}", Input).value.strip()

    def request(self) -> DownloadRequest:
        """Return the request the form describes.

        Raises:
            ConfigError: A field is empty or not a date, or the end is not after the start.
        """
        for field, label, placeholder in FIELDS[:4]:
            if not self._value(field):
                raise ConfigError(f"{label} is empty; type {placeholder}")
        start = parse_date(self._value("start"), "Start")
        end = parse_date(self._value("end"), "End")
        if end <= start:
            raise ConfigError(
                f"End {self._value('end')} must come after Start {self._value('start')}"
            )
        return DownloadRequest(
            self._value("exchange"),
            self._value("symbol"),
            start,
            end,
            self._value("api-url") or None,
        )

    def action_start(self) -> None:
        """Dismiss with the request, or say which field is wrong."""
        try:
            request = self.request()
        except ConfigError as exc:
            self.query_one("#data-download-error", Label).update(str(exc))
            return
        self.dismiss(request)

    def action_close(self) -> None:
        """Dismiss without downloading."""
        self.dismiss(None)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_start()

    @on(Button.Pressed, "#dl-start")
    def _start_pressed(self) -> None:
        self.action_start()

    @on(Button.Pressed, "#dl-cancel")
    def _cancel_pressed(self) -> None:
        self.action_close()
