"""Which persistence adapter each kind of state uses, and where the state directory is."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from engine.errors import ConfigError
from engine.persist.base import PersistBase
from engine.persist.tinydb_store import TinyDBPersist

PersistFactory = Callable[[str, Path], PersistBase]
"""Builds an adapter: `Factory(entity_name, base_dir)` (a `PersistBase` subclass works)."""

DEFAULT_STATE_DIR = Path("./dump")
_state_dir = [DEFAULT_STATE_DIR]
_lock = threading.Lock()


class PersistAdapter:
    """The adapter of one kind of state (signal, schedule, risk, partial, history).

    Files go to `<state_dir>/data/<kind>/` (SPEC §15 layout).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factory: PersistFactory = TinyDBPersist

    def use(self, factory: PersistFactory) -> None:
        """Build this kind's stores with `factory(entity_name, base_dir)` from now on."""
        if not callable(factory):
            raise ConfigError(
                f"use_persist_{self.kind}_adapter takes a PersistBase subclass or a callable "
                f"(entity_name, base_dir), was {type(factory).__name__}"
            )
        self._factory = factory

    def reset(self) -> None:
        """Go back to the default adapter (TinyDB)."""
        self._factory = TinyDBPersist

    def create(self, entity_name: str, state_dir: Path | None = None) -> PersistBase:
        """Return an initialised store of `entity_name` under `state_dir` (or the default)."""
        base = (state_dir or get_state_dir()) / "data" / self.kind
        store = self._factory(entity_name, base)
        store.wait_for_init()
        return store


PersistSignalAdapter = PersistAdapter("signal")
PersistScheduleAdapter = PersistAdapter("schedule")
PersistRiskAdapter = PersistAdapter("risk")
PersistPartialAdapter = PersistAdapter("partial")
PersistHistoryAdapter = PersistAdapter("history")
PersistJournalAdapter = PersistAdapter("journal")
ALL_ADAPTERS = (
    PersistSignalAdapter,
    PersistScheduleAdapter,
    PersistRiskAdapter,
    PersistPartialAdapter,
    PersistHistoryAdapter,
    PersistJournalAdapter,
)


def use_persist_signal_adapter(factory: PersistFactory) -> None:
    """Store open (pending) live signals with `factory` (upstream `usePersistSignalAdapter`)."""
    PersistSignalAdapter.use(factory)


def use_persist_schedule_adapter(factory: PersistFactory) -> None:
    """Store scheduled live signals with `factory`."""
    PersistScheduleAdapter.use(factory)


def use_persist_risk_adapter(factory: PersistFactory) -> None:
    """Store the open positions of risk profiles with `factory`."""
    PersistRiskAdapter.use(factory)


def use_persist_partial_adapter(factory: PersistFactory) -> None:
    """Store the partial profit/loss levels reached by open signals with `factory`."""
    PersistPartialAdapter.use(factory)


def use_persist_history_adapter(factory: PersistFactory) -> None:
    """Store the history of live signals (opened, closed, cancelled) with `factory`."""
    PersistHistoryAdapter.use(factory)


def use_persist_journal_adapter(factory: PersistFactory) -> None:
    """Store the lifecycle journal of live callbacks (what was delivered) with `factory`."""
    PersistJournalAdapter.use(factory)


def set_state_dir(path: str | Path) -> None:
    """Keep live state under `path` from now on (default `./dump`, as upstream)."""
    with _lock:
        _state_dir[0] = Path(path)


def get_state_dir() -> Path:
    """Return the state directory."""
    with _lock:
        return _state_dir[0]
