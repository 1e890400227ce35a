"""Partial profit/loss events per symbol: `Partial.get_data`, `.get_report`, `.dump`.

See docs/semantics.md#partial-statistics.

The store keeps the last `MAX_EVENTS` levels reached by open signals of each symbol, from
backtests and live runs alike. Runs never clear it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from engine.analytics.reports.markdown import bullets, document, iso, price, save_report, table
from engine.core import events
from engine.core.events import PartialContract

MAX_EVENTS = 250


class PartialAction(StrEnum):
    """Whether a level was reached in profit or in loss."""

    PROFIT = "profit"
    LOSS = "loss"


@dataclass(frozen=True, slots=True)
class PartialEvent:
    """An open signal reached `level` percent of price move in profit or in loss."""

    timestamp: int
    action: PartialAction
    symbol: str
    strategy_name: str
    signal_id: str
    position: str
    current_price: float
    level: int
    backtest: bool


@dataclass(frozen=True, slots=True)
class PartialStatistics:
    """The stored partial events of a symbol and how many were profits or losses."""

    event_list: tuple[PartialEvent, ...]
    total_events: int
    total_profit: int
    total_loss: int


def partial_statistics(event_list: Sequence[PartialEvent]) -> PartialStatistics:
    """Count a list of partial events."""
    profit = sum(1 for e in event_list if e.action is PartialAction.PROFIT)
    return PartialStatistics(tuple(event_list), len(event_list), profit, len(event_list) - profit)


class PartialUtils:
    """Read the partial profit/loss levels reached by open signals (upstream's `Partial`)."""

    def __init__(self) -> None:
        self._events: dict[str, list[PartialEvent]] = {}
        self._lock = threading.Lock()

    def _record(self, action: PartialAction, contract: PartialContract) -> None:
        signal = contract.data
        event = PartialEvent(
            contract.timestamp,
            action,
            contract.symbol,
            signal.strategy_name,
            signal.id,
            signal.position,
            contract.current_price,
            contract.level,
            contract.backtest,
        )
        with self._lock:
            stored = self._events.setdefault(contract.symbol, [])
            stored.append(event)
            if len(stored) > MAX_EVENTS:
                del stored[0]

    def _record_profit(self, contract: PartialContract) -> None:
        self._record(PartialAction.PROFIT, contract)

    def _record_loss(self, contract: PartialContract) -> None:
        self._record(PartialAction.LOSS, contract)

    def get_data(self, symbol: str) -> PartialStatistics:
        """Return the partial events of `symbol` (the last `MAX_EVENTS`)."""
        with self._lock:
            stored = list(self._events.get(symbol, ()))
        return partial_statistics(stored)

    def get_report(self, symbol: str) -> str:
        """Return the markdown report of the partial events of `symbol`."""
        return partial_report(symbol, self.get_data(symbol))

    def dump(self, symbol: str, path: str | Path = "./dump/partial") -> Path:
        """Write the report to `<path>/<symbol>.md` and return the file's path."""
        return save_report(path, symbol, self.get_report(symbol), "Partial profit/loss report")

    def clear(self, symbol: str | None = None) -> None:
        """Forget the events of `symbol` (of every symbol when `None`)."""
        with self._lock:
            if symbol is None:
                self._events.clear()
            else:
                self._events.pop(symbol, None)


Partial = PartialUtils()
events.partial_profit_emitter.subscribe(Partial._record_profit)
events.partial_loss_emitter.subscribe(Partial._record_loss)


# ----- the markdown report ------------------------------------------------------------------

HEADER = (
    "Action",
    "Symbol",
    "Signal ID",
    "Position",
    "Level %",
    "Current Price",
    "Timestamp",
    "Mode",
)


def partial_report(symbol: str, stats: PartialStatistics) -> str:
    """Return the markdown report of a symbol's partial profit/loss events."""
    title = f"# Partial Profit/Loss Report: {symbol}"
    if stats.total_events == 0:
        return document(title, "No partial profit/loss events recorded yet.")
    rows = [
        [
            e.action.upper(),
            e.symbol,
            e.signal_id,
            e.position.upper(),
            f"{'+' if e.action == 'profit' else '-'}{e.level}%",
            price(e.current_price),
            iso(e.timestamp),
            "Backtest" if e.backtest else "Live",
        ]
        for e in stats.event_list
    ]
    summary = [
        f"**Total events:** {stats.total_events}",
        f"**Profit events:** {stats.total_profit}",
        f"**Loss events:** {stats.total_loss}",
    ]
    return document(title, table(HEADER, rows), bullets(summary))
