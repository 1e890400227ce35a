"""Partial profit/loss levels of open signals (docs/semantics.md#partial)."""

from __future__ import annotations

from typing import Protocol

from engine.core.events import PartialContract, partial_loss_emitter, partial_profit_emitter
from engine.core.models import SignalRow

LEVELS = (10, 20, 30, 40, 50, 60, 70, 80, 90, 100)


def revenue_percent(signal: SignalRow, price: float) -> float:
    """Return the price move in percent in the signal's favour (negative against it)."""
    if signal.position == "long":
        return (price - signal.price_open) / signal.price_open * 100
    return (signal.price_open - price) / signal.price_open * 100


class PartialStore(Protocol):
    """Where live runs keep the levels each open signal reached (crash safety)."""

    def load(self, signal_id: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Return the stored `(profit_levels, loss_levels)` of a signal (empty when none)."""
        ...

    def save(self, signal_id: str, profit: tuple[int, ...], loss: tuple[int, ...]) -> None:
        """Store the levels a signal reached."""
        ...

    def remove(self, signal_id: str) -> None:
        """Forget a closed signal's levels."""
        ...


class ClientPartial:
    """Remembers which levels each open signal reached, and emits each level once.

    With a `store` (live runs) new levels are saved before they are emitted, so a level
    is never announced twice across a restart.
    """

    def __init__(self) -> None:
        self._profit: dict[str, set[int]] = {}
        self._loss: dict[str, set[int]] = {}
        self.store: PartialStore | None = None

    def restore(self, signal_id: str) -> None:
        """Reload the levels a recovered signal had reached before a restart."""
        if self.store is not None:
            profit, loss = self.store.load(signal_id)
            self._profit[signal_id], self._loss[signal_id] = set(profit), set(loss)

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
        reached = [level for level in LEVELS if amount >= level and level not in seen]
        if not reached:
            return
        seen.update(reached)
        if self.store is not None:
            self.store.save(
                signal.id,
                tuple(sorted(self._profit.get(signal.id, ()))),
                tuple(sorted(self._loss.get(signal.id, ()))),
            )
        for level in reached:
            emitter.emit(PartialContract(signal.symbol, signal, price, level, backtest, timestamp))

    def clear(self, signal_id: str) -> None:
        """Forget the levels of a closed signal."""
        self._profit.pop(signal_id, None)
        self._loss.pop(signal_id, None)
        if self.store is not None:
            self.store.remove(signal_id)
