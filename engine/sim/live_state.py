"""A live session's state on disk: save on every change, commit per tick, recover on start.

Files (under the state directory, docs/live.md#state): `data/signal/<symbol>_<strategy>` (the
open signal), `data/schedule/…` (the scheduled one), `data/history/…` (every opened, closed
and cancelled signal), `data/partial/<symbol>` and `data/risk/<risk>`.

Write order makes every crash recoverable without guessing:
* a new open or scheduled signal is written at once, before user callbacks run;
* a close or cancel is first recorded in the history, then the signal is cleared;
* an `opened` history entry is written after the signal; recovery adds it if missing;
* each lifecycle change goes to the history (opened, closed, cancelled) and then to the
  journal `data/journal/…` before its callback runs (engine/sim/live_journal.py).
Recovery then finishes whatever a crash interrupted (`LiveSession.recover`).

Every store is guarded: a write that fails with an OSError (read-only folder, full disk)
raises `StateWriteError` naming the file, and the change is not made in memory.

A cleared signal is a removed key, never a stored `null`. Recovery trusts nothing it has
not parsed: every value must fit its shape (engine/sim/live_schema.py) and a recovered signal
must pass the rules a new one passes; a file that does not is moved aside and the start
stops with a `StateError`, as it does when the history calls open a position that the
signal file lacks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.core.errors import ConfigError, SignalValidationError
from engine.core.models import Action, CancelledResult, ClosedResult, CloseReason, PnL, SignalRow
from engine.persist import adapters
from engine.persist.base import PersistBase, StateError, StateWriteError
from engine.sim.live_journal import LifecycleJournal
from engine.sim.live_schema import Kind, check_store, signal_problem
from engine.sim.risk import ActivePosition

OPENED, CLOSED, CANCELLED = "opened", "closed", "cancelled"


def row_to_dict(row: SignalRow) -> dict[str, Any]:
    """Return a signal row as a JSON object."""
    return row._asdict()


def row_from_dict(data: Any, where: str) -> SignalRow:
    """Rebuild a signal row, or explain which stored file holds something else.

    The row must pass the rules a new signal passes (`engine.sim.live_schema.signal_problem`).
    """
    problem = signal_problem(data)
    if problem:
        raise StateError(
            f"{where} holds {data!r}, which is not a valid signal ({problem}); move the file "
            "away after checking your positions, and start again"
        )
    return SignalRow(**data)


def result_to_dict(result: Any) -> dict[str, Any]:
    """Return an opened, closed or cancelled result as a JSON object (history entry)."""
    entry: dict[str, Any] = {
        "action": str(result.action),
        "signal": row_to_dict(result.signal),
        "current_price": result.current_price,
        "timestamp": result.signal.pending_at,
    }
    if isinstance(result, ClosedResult | CancelledResult):
        entry["timestamp"] = entry["close_timestamp"] = result.close_timestamp
    if isinstance(result, ClosedResult):
        entry["close_reason"] = str(result.close_reason)
        entry["pnl"] = result.pnl._asdict()
        entry["ambiguous"] = result.ambiguous
    return entry


def closed_from_dict(entry: dict[str, Any]) -> ClosedResult:
    """Rebuild a closed result from its history entry."""
    signal = row_from_dict(entry["signal"], "a history entry")
    return ClosedResult(
        Action.CLOSED,
        signal,
        entry["current_price"],
        signal.strategy_name,
        signal.exchange_name,
        signal.symbol,
        CloseReason(entry["close_reason"]),
        entry["close_timestamp"],
        PnL(**entry["pnl"]),
        entry.get("ambiguous", False),
    )


class GuardedStore(PersistBase):
    """A store whose failed writes raise `StateWriteError` naming the file (fail closed)."""

    def __init__(self, inner: PersistBase) -> None:
        super().__init__(inner.entity_name, inner.base_dir)
        self.inner = inner
        self.path = Path(getattr(inner, "path", inner.base_dir / f"{inner.entity_name}.json"))

    def _guard(self, write: Callable[..., None], *args: Any) -> None:
        try:
            write(*args)
        except OSError as exc:
            raise StateWriteError(
                f"could not write the live state file {self.path}: {exc}. The change was not "
                "made and the run stopped (nothing opened or closed in memory only). Make "
                f"{self.path.parent} writable or free disk space, then start again: the run "
                "resumes from the state on disk."
            ) from exc

    def wait_for_init(self) -> None:
        """Prepare the wrapped store."""
        self.inner.wait_for_init()

    def read_value(self, key: str) -> Any:
        """Return the value under `key` (KeyError when absent)."""
        return self.inner.read_value(key)

    def has_value(self, key: str) -> bool:
        """Return whether `key` is stored."""
        return self.inner.has_value(key)

    def write_value(self, key: str, value: Any) -> None:
        """Store `value` under `key`, or raise `StateWriteError`."""
        self._guard(self.inner.write_value, key, value)

    def remove_value(self, key: str) -> None:
        """Forget `key`, or raise `StateWriteError`."""
        self._guard(self.inner.remove_value, key)

    def remove_all(self) -> None:
        """Forget every key, or raise `StateWriteError`."""
        self._guard(self.inner.remove_all)

    def items(self) -> list[tuple[str, Any]]:
        """Return every `(key, value)`, keys in natural order."""
        return self.inner.items()

    def quarantine(self, why: str) -> StateError:
        """Set the wrapped store aside (its file moved away) and return the error."""
        return self.inner.quarantine(why)


def guarded(adapter: adapters.PersistAdapter, entity: str, state_dir: Path) -> GuardedStore:
    """Return the store of `entity` of an adapter's kind, its writes guarded."""
    return GuardedStore(adapter.create(entity, state_dir))


def _same_signal(saved: dict[str, Any], row: SignalRow) -> bool:
    """Tell whether a history entry's signal is `row` itself, not one that reused its id."""
    return (saved["id"], saved["scheduled_at"], saved["pending_at"]) == (
        row.id,
        row.scheduled_at,
        row.pending_at,
    )


def _where(store: PersistBase) -> str:
    """Name a store as the user finds it: its file, or its adapter's folder and entity."""
    return str(getattr(store, "path", store.base_dir / store.entity_name))


@dataclass(frozen=True, slots=True)
class Recovered:
    """What a live session resumed with after a restart, and what recovery had to finish."""

    pending: SignalRow | None
    scheduled: SignalRow | None
    notes: tuple[str, ...]


class PartialLevels:
    """The partial levels of one strategy's signals, in the per-symbol partial store."""

    def __init__(self, store: PersistBase, strategy_name: str, defer: Callable[..., None]):
        self._store = store
        self._strategy = strategy_name
        self._defer = defer

    def load(self, signal_id: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Return the levels stored for `signal_id`."""
        if not self._store.has_value(signal_id):
            return (), ()
        value = self._store.read_value(signal_id)
        return tuple(value["profit_levels"]), tuple(value["loss_levels"])

    def save(self, signal_id: str, profit: tuple[int, ...], loss: tuple[int, ...]) -> None:
        """Store the levels a signal reached (before they are announced)."""
        value = {"strategy_name": self._strategy, "profit_levels": profit, "loss_levels": loss}
        self._store.write_value(signal_id, value)

    def remove(self, signal_id: str) -> None:
        """Forget a closed signal's levels once the close is committed."""
        self._defer(self._store.remove_value, signal_id)

    def forget_others(self, keep: str | None) -> None:
        """Drop this strategy's levels of signals other than `keep` (left by a crash)."""
        for key, value in self._store.items():
            if value.get("strategy_name") == self._strategy and key != keep:
                self._store.remove_value(key)


class RiskPositions:
    """A risk profile's open positions in the risk store, one key per `strategy:symbol`."""

    def __init__(self, store: PersistBase) -> None:
        self._store = store

    def load(self) -> dict[str, ActivePosition]:
        """Return every stored position."""
        return {key: ActivePosition(**value) for key, value in self._store.items()}

    def save(self, key: str, position: ActivePosition | None) -> None:
        """Store or forget one position."""
        if position is None:
            self._store.remove_value(key)
        else:
            self._store.write_value(
                key,
                {
                    "strategy_name": position.strategy_name,
                    "symbol": position.symbol,
                    "exchange_name": position.exchange_name,
                    "open_timestamp": position.open_timestamp,
                },
            )


class LiveSession:
    """The persisted state of one strategy on one symbol (the strategy's `SignalState`)."""

    def __init__(
        self, symbol: str, strategy_name: str, exchange_name: str, state_dir: Path
    ) -> None:
        self.symbol, self.strategy_name, self.exchange_name = symbol, strategy_name, exchange_name
        self.state_dir = state_dir
        entity = f"{symbol}_{strategy_name}"
        self.signals = guarded(adapters.PersistSignalAdapter, entity, state_dir)
        self.schedules = guarded(adapters.PersistScheduleAdapter, entity, state_dir)
        self.history = guarded(adapters.PersistHistoryAdapter, entity, state_dir)
        partial = guarded(adapters.PersistPartialAdapter, symbol, state_dir)
        self.partial = PartialLevels(partial, strategy_name, self._later)
        self.journal = LifecycleJournal(
            guarded(adapters.PersistJournalAdapter, entity, state_dir), self._record
        )
        self._checked: tuple[tuple[PersistBase, Kind], ...] = (
            (self.signals, "signal"),
            (self.schedules, "schedule"),
            (self.history, "history"),
            (partial, "partial"),
        )
        self._sound = False
        self._written: tuple[SignalRow | None, SignalRow | None] = (None, None)
        self._wanted: tuple[SignalRow | None, SignalRow | None] = (None, None)
        self._deferred: list[tuple[Callable[..., None], tuple[Any, ...]]] = []
        self._recorded: set[str] = set()

    def risk_positions(self, risk_name: str) -> RiskPositions:
        """Return the store of a risk profile's positions, once every position in it parses.

        Raises:
            StateError: a stored position does not fit its shape (the file was moved aside).
        """
        store = guarded(adapters.PersistRiskAdapter, risk_name, self.state_dir)
        check_store(store, "risk")
        return RiskPositions(store)

    def check_new_id(self, signal_id: Any) -> None:
        """Refuse an id that an earlier signal of this session used.

        A signal id is how callbacks tell real orders apart, and the history is keyed by it:
        a reused id would make `on_close` of one position look like another's, and after a
        restart the new position would read as already closed.

        Raises:
            SignalValidationError: the id is in the history; the message says the fix.
        """
        keys = self.history.keys()
        used = [key for key in keys if key.rpartition(":")[0] == signal_id]
        if used:
            raise SignalValidationError(
                f"get_signal returned id {signal_id!r}, which an earlier signal of "
                f"{self.strategy_name} on {self.symbol} already used (history entry "
                f"{used[-1]!r}); signal ids must be unique, they are how your callbacks tell "
                "real orders apart: return a new id for every signal, or leave id out and "
                "the engine draws one"
            )

    def _later(self, fn: Callable[..., None], *args: Any) -> None:
        self._deferred.append((fn, args))

    # ----- saving --------------------------------------------------------------------------

    def save(
        self,
        symbol: str,
        strategy_name: str,
        pending: SignalRow | None,
        scheduled: SignalRow | None,
    ) -> None:
        """Write a new signal at once; keep a clear for `commit` (after the history)."""
        written_pending, written_scheduled = self._written
        if pending is not None and pending != written_pending:
            self._write(self.signals, pending)
            written_pending = pending
        if scheduled is not None and scheduled != written_scheduled:
            self._write(self.schedules, scheduled)
            written_scheduled = scheduled
        self._written = (written_pending, written_scheduled)
        self._wanted = (pending, scheduled)

    def _write(self, store: PersistBase, row: SignalRow | None) -> None:
        """Store `row`, or clear the signal by removing its key (never by writing null)."""
        if row is None:
            store.remove_value(self.symbol)
        else:
            store.write_value(self.symbol, row_to_dict(row))

    def commit(self, result: Any) -> None:
        """Finish a tick: history first for closes, then clears, then history of opens."""
        action = getattr(result, "action", None)
        if action is Action.CLOSED or action is Action.CANCELLED:
            self._record(result)
        pending, scheduled = self._wanted
        written_pending, written_scheduled = self._written
        if pending is None and written_pending is not None:
            self._write(self.signals, None)
        if scheduled is None and written_scheduled is not None:
            self._write(self.schedules, None)
        self._written = self._wanted
        for fn, args in self._deferred:
            fn(*args)
        self._deferred.clear()
        if action is Action.OPENED:
            self._record(result)

    def _record(self, result: Any) -> None:
        key = f"{result.signal.id}:{result.action}"
        if key not in self._recorded:  # the journal may have written it before a callback
            self.history.write_value(key, result_to_dict(result))
            self._recorded.add(key)

    # ----- recovery ------------------------------------------------------------------------

    def _read(self, store: PersistBase, notes: list[str]) -> SignalRow | None:
        if not store.has_value(self.symbol):
            return None
        value = store.read_value(self.symbol)
        if value is None:  # how an earlier version cleared a signal; recover() cross-checks
            notes.append(f"removed the cleared {store.base_dir.name} entry of an earlier version")
            store.remove_value(self.symbol)
            return None
        row = row_from_dict(value, f"the {store.base_dir.name} state of {store.entity_name}")
        if row.exchange_name != self.exchange_name or row.strategy_name != self.strategy_name:
            raise ConfigError(
                f"the saved {store.base_dir.name} signal {row.id} of {self.symbol} belongs to "
                f"strategy {row.strategy_name} on exchange {row.exchange_name}, not "
                f"{self.strategy_name} on {self.exchange_name}: start with "
                f"--exchange {row.exchange_name}, or use another state directory"
            )
        return row

    def check(self) -> None:
        """Parse every value of the session's signal, schedule, history and partial files.

        Runs once per session, before anything is read from them (`recover`,
        `closed_history`). A value that does not fit sets its file aside.

        Raises:
            StateError: a file does not parse or fit its shape; it was moved aside.
        """
        if self._sound:
            return
        for store, kind in self._checked:
            check_store(store, kind)
        self._sound = True

    def recover(self) -> Recovered:
        """Check every state file, read the saved signals and finish what a crash interrupted.

        Raises:
            StateError: a file does not parse or fit its shape (it was moved aside), or the
                files contradict each other (a position the history calls open is missing).
        """
        self.check()
        notes: list[str] = []
        pending, scheduled = self._read(self.signals, notes), self._read(self.schedules, notes)
        history = dict(self.history.items())
        closed = history.get(f"{pending.id}:{CLOSED}") if pending is not None else None
        if pending is not None and closed is not None:
            if not _same_signal(closed["signal"], pending):
                raise self._contradiction(
                    f"signal {pending.id} is open in {_where(self.signals)}, but a different "
                    f"signal with the same id closed at {closed['close_timestamp']} (an "
                    "earlier version let a strategy reuse an id)"
                )
            notes.append(f"signal {pending.id} had closed before the stop; cleared it")
            self._write(self.signals, None)
            pending = None
        if scheduled is not None and (
            f"{scheduled.id}:{CANCELLED}" in history
            or f"{scheduled.id}:{OPENED}" in history
            or (pending is not None and pending.id == scheduled.id)
        ):
            notes.append(f"scheduled signal {scheduled.id} had been resolved; cleared it")
            self._write(self.schedules, None)
            scheduled = None
        self._check_open_positions(history, pending)
        if pending is not None and f"{pending.id}:{OPENED}" not in history:
            notes.append(f"recorded the opening of signal {pending.id} in the history")
            entry = {
                "action": OPENED,
                "signal": row_to_dict(pending),
                "current_price": pending.price_open,
                "timestamp": pending.pending_at,
            }
            self.history.write_value(f"{pending.id}:{OPENED}", entry)
        self.partial.forget_others(pending.id if pending is not None else None)
        self._written = self._wanted = (pending, scheduled)
        return Recovered(pending, scheduled, tuple(notes))

    def _check_open_positions(self, history: dict[str, Any], pending: SignalRow | None) -> None:
        """Refuse to start when the history has an open position the signal file lacks."""
        suffix = f":{OPENED}"
        open_ids = [
            key[: -len(suffix)]
            for key in history
            if key.endswith(suffix) and f"{key[: -len(suffix)]}:{CLOSED}" not in history
        ]
        lost = [sid for sid in open_ids if pending is None or sid != pending.id]
        if lost:
            holds = f"open signal {pending.id}" if pending is not None else "no open signal"
            raise self._contradiction(
                f"the history records signal {', '.join(lost)} as opened and never closed, "
                f"but {_where(self.signals)} holds {holds}"
            )

    def _contradiction(self, what: str) -> StateError:
        return StateError(
            f"the live state of {self.strategy_name} on {self.symbol} contradicts itself: "
            f"{what}. The run stopped instead of guessing which positions are open: check your "
            f"positions on the exchange, then restore a good copy of {_where(self.signals)} "
            f"or move {_where(self.history)} aside, and start again."
        )

    def closed_history(self) -> list[ClosedResult]:
        """Return the closed signals of earlier runs, in the order they closed.

        Raises:
            StateError: a state file is corrupt (see `check`).
        """
        self.check()
        entries = [v for k, v in self.history.items() if k.endswith(f":{CLOSED}")]
        return [closed_from_dict(e) for e in sorted(entries, key=lambda e: e["timestamp"])]
