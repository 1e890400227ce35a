"""Which persistence adapter each kind of state uses, and where the state directory is."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from engine.core.errors import ConfigError
from engine.core.models import SignalRow
from engine.persist.base import PersistBase, StateError
from engine.persist.tinydb_store import TinyDBPersist

PersistFactory = Callable[[str, Path], PersistBase]
"""Builds an adapter: `Factory(entity_name, base_dir)` (a `PersistBase` subclass works)."""

DEFAULT_STATE_DIR = Path("./dump")
_state_dir = [DEFAULT_STATE_DIR]
_lock = threading.Lock()


class PersistAdapter:
    """The adapter of one kind of state (signal, schedule, risk, partial, history).

    Files go to `<state_dir>/data/<kind>/` (docs/architecture.md#persistence layout).
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


def _checked(kind: str, key: str, value: Any, where: str) -> Any:
    """Return `value` if it fits a `kind` state value, else raise naming `where`."""
    from engine.sim.live_schema import value_problem  # the schemas build on this module

    problem = value_problem(kind, key, value)  # type: ignore[arg-type]
    if problem:
        raise StateError(f"{where}: {value!r} is not a {kind} value ({problem})")
    return value


def _replace_all(store: PersistBase, values: Mapping[str, Any]) -> None:
    """Make `values` the whole content of `store`."""
    for key in set(store.keys()) - set(values):
        store.remove_value(key)
    for key, value in values.items():
        store.write_value(key, value)


def _signal_value(row: SignalRow | Mapping[str, Any]) -> dict[str, Any]:
    return row._asdict() if isinstance(row, SignalRow) else dict(row)


class SignalStateAdapter(PersistAdapter):
    """The adapter of a strategy's open or scheduled signal on a symbol.

    Its store is `<state_dir>/data/<kind>/<symbol>_<strategy>`, one key: the symbol.
    `PersistSignalAdapter.read_signal_data` / `write_signal_data` and
    `PersistScheduleAdapter.read_schedule_data` / `write_schedule_data` are upstream's
    `readSignalData` / `writeSignalData` and `readScheduleData` / `writeScheduleData`, with
    the symbol first as everywhere in this API.
    """

    def read(
        self, symbol: str, strategy_name: str, state_dir: Path | None = None
    ) -> SignalRow | None:
        """Return the signal a live run of `strategy_name` on `symbol` resumes, or None.

        Raises:
            StateError: the stored value is not a valid signal.
        """
        store = self.create(f"{symbol}_{strategy_name}", state_dir)
        if not store.has_value(symbol):
            return None
        value = store.read_value(symbol)
        if value is None:
            return None
        where = f"the {self.kind} state of {strategy_name} on {symbol}"
        return SignalRow(**_checked(self.kind, symbol, value, where))

    def write(
        self,
        row: SignalRow | Mapping[str, Any] | None,
        symbol: str,
        strategy_name: str,
        state_dir: Path | None = None,
    ) -> None:
        """Store the signal a live run resumes; None clears it.

        Raises:
            StateError: `row` is not a valid signal (checked as a live run checks what it
                resumes); nothing is written.
        """
        store = self.create(f"{symbol}_{strategy_name}", state_dir)
        if row is None:
            store.remove_value(symbol)
            return
        where = f"write_{self.kind}_data({strategy_name}, {symbol})"
        store.write_value(symbol, _checked(self.kind, symbol, _signal_value(row), where))


class _SignalAdapter(SignalStateAdapter):
    read_signal_data = SignalStateAdapter.read
    write_signal_data = SignalStateAdapter.write


class _ScheduleAdapter(SignalStateAdapter):
    read_schedule_data = SignalStateAdapter.read
    write_schedule_data = SignalStateAdapter.write


class _RiskAdapter(PersistAdapter):
    def read_position_data(
        self, risk_name: str, state_dir: Path | None = None
    ) -> dict[str, dict[str, Any]]:
        """Return a risk profile's open positions, keyed `<strategy>:<symbol>` ({} if none).

        Upstream's `PersistRiskAdapter.readPositionData`.
        """
        store = self.create(risk_name, state_dir)
        where = f"the risk state of {risk_name}"
        return {key: _checked("risk", key, value, where) for key, value in store.items()}

    def write_position_data(
        self,
        positions: Mapping[str, Mapping[str, Any]],
        risk_name: str,
        state_dir: Path | None = None,
    ) -> None:
        """Replace a risk profile's open positions (upstream's `writePositionData`).

        Each value holds `strategy_name`, `symbol`, `exchange_name` and `open_timestamp`.

        Raises:
            StateError: a position does not fit that shape (nothing is written).
        """
        where = f"write_position_data({risk_name})"
        checked = {k: _checked("risk", k, dict(v), where) for k, v in positions.items()}
        _replace_all(self.create(risk_name, state_dir), checked)


class _PartialAdapter(PersistAdapter):
    def read_partial_data(
        self, symbol: str, state_dir: Path | None = None
    ) -> dict[str, dict[str, Any]]:
        """Return the partial levels reached on `symbol`, keyed by signal id ({} if none).

        Upstream's `PersistPartialAdapter.readPartialData`. Each value holds
        `strategy_name`, `profit_levels` and `loss_levels`.
        """
        store = self.create(symbol, state_dir)
        where = f"the partial state of {symbol}"
        return {key: _checked("partial", key, value, where) for key, value in store.items()}

    def write_partial_data(
        self, data: Mapping[str, Mapping[str, Any]], symbol: str, state_dir: Path | None = None
    ) -> None:
        """Replace the partial levels reached on `symbol` (upstream's `writePartialData`).

        Raises:
            StateError: a value does not fit the shape `read_partial_data` returns.
        """
        where = f"write_partial_data({symbol})"
        checked = {k: _checked("partial", k, dict(v), where) for k, v in data.items()}
        _replace_all(self.create(symbol, state_dir), checked)


PersistSignalAdapter = _SignalAdapter("signal")
PersistScheduleAdapter = _ScheduleAdapter("schedule")
PersistRiskAdapter = _RiskAdapter("risk")
PersistPartialAdapter = _PartialAdapter("partial")
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
