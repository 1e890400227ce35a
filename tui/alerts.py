"""Partial profit/loss alerts and risk rejections: the bridge's messages and the desk's book.

The bridge turns `listen_partial_profit`/`listen_partial_loss` into `PartialAlerted` and
`listen_validation` into `RiskRejected`; the app keeps the alerts in an `AlertBook` (shown by
the alerts screen) and toasts them, a burst merged into one toast.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from textual.message import Message

from tui.formatting import format_timestamp

MAX_ALERTS = 500
"""The alerts the book keeps (the oldest go first)."""


@dataclass(frozen=True, slots=True)
class PartialAlert:
    """An open signal reached a partial profit or loss level."""

    kind: str
    symbol: str
    strategy_name: str
    signal_id: str
    level: int
    price: float
    timestamp: int
    backtest: bool

    @property
    def text(self) -> str:
        """One line: `partial profit 20 % · bracket BTCUSDT · 1a2b3c4d at 2024-…`."""
        return (
            f"partial {self.kind} {self.level} % · {self.strategy_name} {self.symbol} · "
            f"{self.signal_id[:8]} at {format_timestamp(self.timestamp)}"
        )


def partial_alert(kind: str, payload: Any) -> PartialAlert:
    """Return the desk's alert for an engine `PartialContract`."""
    data = payload.data
    return PartialAlert(
        kind=kind,
        symbol=str(payload.symbol),
        strategy_name=str(getattr(data, "strategy_name", "") or "?"),
        signal_id=str(getattr(data, "id", "") or "?"),
        level=int(payload.level),
        price=float(payload.current_price),
        timestamp=int(payload.timestamp),
        backtest=bool(payload.backtest),
    )


@dataclass
class PartialAlerted(Message):
    """An open signal reached a partial profit or loss level."""

    alert: PartialAlert


@dataclass
class RiskRejected(Message):
    """A risk validation rejected a signal; `msg` is the validation's message."""

    title: str
    msg: str


class AlertBook:
    """The latest partial alerts, newest last, and the ones not yet toasted."""

    def __init__(self, limit: int = MAX_ALERTS) -> None:
        self._alerts: deque[PartialAlert] = deque(maxlen=limit)
        self._unshown: list[PartialAlert] = []
        self.total = 0

    def add(self, alert: PartialAlert) -> None:
        """Keep an alert."""
        self._alerts.append(alert)
        self._unshown.append(alert)
        self.total += 1

    def take_unshown(self) -> list[PartialAlert]:
        """Return the alerts not toasted yet and mark them toasted."""
        unshown, self._unshown = self._unshown, []
        return unshown

    def __iter__(self) -> Iterator[PartialAlert]:
        return iter(self._alerts)

    def __len__(self) -> int:
        return len(self._alerts)
