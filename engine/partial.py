"""Partial profit/loss levels of open signals (SPEC §9)."""

from __future__ import annotations

from engine.events import PartialContract, partial_loss_emitter, partial_profit_emitter
from engine.models import SignalRow

LEVELS = (10, 20, 30, 40, 50, 60, 70, 80, 90, 100)


def revenue_percent(signal: SignalRow, price: float) -> float:
    """Return the price move in percent in the signal's favour (negative against it)."""
    if signal.position == "long":
        return (price - signal.price_open) / signal.price_open * 100
    return (signal.price_open - price) / signal.price_open * 100


class ClientPartial:
    """Remembers which levels each open signal reached, and emits each level once."""

    def __init__(self) -> None:
        self._profit: dict[str, set[int]] = {}
        self._loss: dict[str, set[int]] = {}

    def check(
        self, signal: SignalRow, price: float, revenue: float, timestamp: int, backtest: bool
    ) -> None:
        """Emit every not-yet-seen level that `revenue` reaches, in ascending order."""
        if revenue > 0:
            seen = self._profit.setdefault(signal.id, set())
            emitter, amount = partial_profit_emitter, revenue
        elif revenue < 0:
            seen = self._loss.setdefault(signal.id, set())
            emitter, amount = partial_loss_emitter, -revenue
        else:
            return
        for level in LEVELS:
            if amount >= level and level not in seen:
                seen.add(level)
                emitter.emit(
                    PartialContract(signal.symbol, signal, price, level, backtest, timestamp)
                )

    def clear(self, signal_id: str) -> None:
        """Forget the levels of a closed signal."""
        self._profit.pop(signal_id, None)
        self._loss.pop(signal_id, None)
