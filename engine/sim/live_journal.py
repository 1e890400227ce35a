"""The lifecycle journal of a live session: each change written before its callback runs.

A live session's lifecycle changes (scheduled, opened, a partial level reached, closed,
cancelled) are entries of the journal store `data/journal/<symbol>_<strategy>`, one key per
change: `<signal id>:<event>` (`<signal id>:partial_profit:<level>` for a level). An entry
holds what its callback is given (the signal and the prices) and whether the callback
acknowledged it (returned without raising). The journal is a store of its own rather than
more fields in the history because the history is the record of results (reports, recovery
and other tools read it) while the journal changes at every delivery; keeping them apart
leaves the history's format and meaning as they were.

Delivery is at least once, in the order the changes happened: `undelivered()` lists what
is not acknowledged yet, oldest first, and the engine calls each callback in turn, stopping
at the first that raises (it is tried again at the next tick and after a restart). A
callback learns which change it is given from `current_delivery()`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from engine.core.models import SignalRow
from engine.persist.base import PersistBase

SCHEDULED, OPENED, CLOSED, CANCELLED = "scheduled", "opened", "closed", "cancelled"
PARTIAL_PROFIT, PARTIAL_LOSS = "partial_profit", "partial_loss"
CALLBACKS = {
    SCHEDULED: "on_schedule",
    OPENED: "on_open",
    PARTIAL_PROFIT: "on_partial_profit",
    PARTIAL_LOSS: "on_partial_loss",
    CLOSED: "on_close",
    CANCELLED: "on_cancel",
}
"""The callback each lifecycle event is delivered to."""
_HISTORY_ORDER = {OPENED: 0, CLOSED: 1, CANCELLED: 1}


def delivery_key(signal_id: str, event: str, level: int | None = None) -> str:
    """Return the idempotency key of a lifecycle change (`<id>:<event>[:<level>]`)."""
    return f"{signal_id}:{event}" if level is None else f"{signal_id}:{event}:{level}"


@dataclass(frozen=True, slots=True)
class Delivery:
    """The lifecycle change a callback is being given (see `current_delivery`).

    Attributes:
        key: the idempotency key, the same at every delivery of this change, for example
            `"5f0c…:opened"`; use it as the client order id of the order you place.
        event: `scheduled`, `opened`, `partial_profit`, `partial_loss`, `closed` or
            `cancelled`.
        signal_id: the signal the change belongs to.
        redelivery: True when this change may have reached the callback before (an earlier
            attempt raised, or the process stopped before the acknowledgement was written).
    """

    key: str
    event: str
    signal_id: str
    redelivery: bool


_current: ContextVar[Delivery | None] = ContextVar("engine_delivery", default=None)


def current_delivery() -> Delivery | None:
    """Return the lifecycle change the running callback is given; None outside one.

    None in backtests and in the per-tick callbacks (`on_tick`, `on_active`, `on_idle`).
    """
    return _current.get()


@contextmanager
def delivering(delivery: Delivery) -> Iterator[None]:
    """Make `delivery` what `current_delivery()` returns for the duration of a callback."""
    token = _current.set(delivery)
    try:
        yield
    finally:
        _current.reset(token)


@dataclass(frozen=True, slots=True)
class Entry:
    """One journaled lifecycle change, and what its callback is given after the symbol."""

    delivery: Delivery
    signal: SignalRow
    price: float
    extra: tuple[float, ...]

    @property
    def callback(self) -> str:
        """The name of the callback this change is delivered to."""
        return CALLBACKS[self.delivery.event]

    @property
    def args(self) -> tuple[Any, ...]:
        """The callback's arguments between the symbol and the `backtest` flag."""
        return (self.signal, self.price, *self.extra)


class LifecycleJournal:
    """The journal of one live session, over its store (see the module docstring).

    Args:
        store: the journal store (writes that fail raise `StateWriteError`).
        record_result: writes an opened, closed or cancelled result to the history; called
            before the journal entry of that change, so the history never lags the journal.
    """

    def __init__(self, store: PersistBase, record_result: Callable[[Any], None]) -> None:
        self._store = store
        self._record_result = record_result
        self._entries: dict[str, dict[str, Any]] = {}
        self._waiting: set[str] = set()
        self._retried: set[str] = set()
        for key, value in store.items():
            self._entries[key] = _checked(value, key, store)
            if not value["delivered"]:
                self._waiting.add(key)
                self._retried.add(key)  # a previous process may have run its callback
        self._seq = 1 + max((v["seq"] for v in self._entries.values()), default=0)

    def knows(self, signal_id: str) -> bool:
        """Return whether any change of `signal_id` is journaled."""
        prefix = f"{signal_id}:"
        return any(key.startswith(prefix) for key in self._entries)

    def record(
        self,
        event: str,
        signal: SignalRow,
        price: float,
        extra: tuple[float, ...] = (),
        level: int | None = None,
        result: Any = None,
        delivered: bool = False,
    ) -> str:
        """Write a lifecycle change durably (history first for a result); return its key.

        A change already journaled keeps its first prices, so every delivery is the same.
        `delivered=True` records a change no callback listens to (nothing to deliver).
        """
        key = delivery_key(signal.id, event, level)
        if key in self._entries:
            return key
        if result is not None:
            self._record_result(result)
        value = {
            "seq": self._seq,
            "event": event,
            "signal": signal._asdict(),
            "price": price,
            "extra": list(extra),
            "delivered": delivered,
        }
        self._store.write_value(key, value)
        self._entries[key] = value
        if not delivered:
            self._waiting.add(key)
        self._seq += 1
        return key

    def undelivered(self) -> list[Entry]:
        """Return the changes not acknowledged yet, oldest first."""
        waiting = sorted(self._waiting, key=lambda key: self._entries[key]["seq"])
        return [self._entry(key, self._entries[key]) for key in waiting]

    def _entry(self, key: str, value: dict[str, Any]) -> Entry:
        signal = SignalRow(**value["signal"])
        delivery = Delivery(key, value["event"], signal.id, key in self._retried)
        return Entry(delivery, signal, value["price"], tuple(value["extra"]))

    def failed(self, key: str) -> None:
        """Note that a delivery raised: the next one of `key` is a redelivery."""
        self._retried.add(key)

    def acknowledge(self, key: str) -> None:
        """Write durably that the callback of `key` returned; it is not delivered again."""
        value = {**self._entries[key], "delivered": True}
        self._store.write_value(key, value)
        self._entries[key] = value
        self._waiting.discard(key)
        self._retried.discard(key)

    def reconcile(
        self,
        history: Iterable[tuple[str, Any]],
        pending: SignalRow | None,
        scheduled: SignalRow | None,
        listened: Callable[[str], bool],
    ) -> None:
        """Journal the changes a crash left only in the history or the signal files.

        A process killed after writing a change to the history or to the signal file, and
        before its journal entry, would otherwise never deliver it: an opened or closed
        entry of a signal the journal knows, the open signal and the scheduled one are
        journaled now (at the prices the history or the signal holds). `listened(event)`
        tells whether a callback takes the event.
        """
        found = []
        for key, entry in history:
            signal_id, _, event = key.rpartition(":")
            if event in _HISTORY_ORDER and key not in self._entries and self.knows(signal_id):
                found.append((_HISTORY_ORDER[event], key, event, entry))
        for _, _, event, entry in sorted(found, key=lambda item: item[:2]):
            signal = SignalRow(**entry["signal"])
            self.record(event, signal, entry["current_price"], delivered=not listened(event))
        if pending is not None:
            self.record(OPENED, pending, pending.price_open, delivered=not listened(OPENED))
        if scheduled is not None:
            delivered = not listened(SCHEDULED)
            self.record(SCHEDULED, scheduled, scheduled.price_open, delivered=delivered)


def _checked(value: Any, key: str, store: PersistBase) -> dict[str, Any]:
    """Return a journal entry read back; set the journal aside if it holds something else."""
    from engine.sim.live_schema import value_problem  # pydantic: loaded for live runs only

    problem = value_problem("journal", key, value)
    if problem:
        raise store.quarantine(
            f"entry {key!r} is not a lifecycle change ({problem}); its undelivered callbacks "
            "are in the file moved aside"
        )
    return dict(value)
