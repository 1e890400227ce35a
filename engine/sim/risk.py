"""Risk profiles: user validations over the open positions they share (docs/semantics.md#risk)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from engine.core.events import validation_emitter
from engine.core.logger import engine_logger
from engine.core.schemas import RiskCallbacks

_log = engine_logger(__name__)


@dataclass(frozen=True, slots=True)
class RiskParams:
    """What a risk check is asked about, with the positions open at that moment."""

    symbol: str
    strategy_name: str
    exchange_name: str
    current_price: float
    timestamp: int
    active_position_count: int = 0
    active_positions: tuple[ActivePosition, ...] = ()


@dataclass(frozen=True, slots=True)
class ActivePosition:
    """An open position as risk validations see it."""

    strategy_name: str
    symbol: str
    exchange_name: str
    open_timestamp: int


class NoRisk:
    """The risk of a strategy without a risk profile: allows everything."""

    name = ""

    def check_signal(self, params: RiskParams) -> bool:
        """Allow the signal."""
        return True

    def add_signal(self, symbol: str, strategy_name: str, exchange_name: str, when: int) -> None:
        """Nothing to track."""

    def remove_signal(self, symbol: str, strategy_name: str) -> None:
        """Nothing to track."""


class RiskStore(Protocol):
    """Where live runs keep a risk profile's open positions (crash safety, shared by processes)."""

    def load(self) -> dict[str, ActivePosition]:
        """Return the stored positions by `strategy:symbol` key."""
        ...

    def save(self, key: str, position: ActivePosition | None) -> None:
        """Store (or, with None, forget) the position under `key`."""
        ...


class ClientRisk:
    """Runs a risk profile's validations against the positions open under it.

    With a `store` (live runs) positions are saved on every change and re-read before each
    check, so processes sharing a state directory see each other's positions.
    """

    def __init__(
        self,
        name: str,
        validations: list[Callable[[RiskParams], Any]],
        callbacks: RiskCallbacks | None = None,
    ) -> None:
        self.name = name
        self._validations = validations
        self._callbacks = callbacks
        self.positions: dict[str, ActivePosition] = {}
        self.store: RiskStore | None = None

    def check_signal(self, params: RiskParams) -> bool:
        """Return False (and report why) if any validation raises."""
        if self.store is not None:
            self.positions = self.store.load()
        payload = RiskParams(
            params.symbol,
            params.strategy_name,
            params.exchange_name,
            params.current_price,
            params.timestamp,
            len(self.positions),
            tuple(self.positions.values()),
        )
        for validate in self._validations:
            try:
                validate(payload)
            except Exception as exc:
                _log.warn(f"risk {self.name} rejected {params.strategy_name}: {exc}")
                validation_emitter.emit(exc)
                if self._callbacks is not None and self._callbacks.on_rejected is not None:
                    self._callbacks.on_rejected(params.symbol, params)
                return False
        if self._callbacks is not None and self._callbacks.on_allowed is not None:
            self._callbacks.on_allowed(params.symbol, params)
        return True

    def add_signal(self, symbol: str, strategy_name: str, exchange_name: str, when: int) -> None:
        """Record an opened position."""
        key = f"{strategy_name}:{symbol}"
        self.positions[key] = ActivePosition(strategy_name, symbol, exchange_name, when)
        if self.store is not None:
            self.store.save(key, self.positions[key])

    def remove_signal(self, symbol: str, strategy_name: str) -> None:
        """Forget a closed position."""
        key = f"{strategy_name}:{symbol}"
        self.positions.pop(key, None)
        if self.store is not None:
            self.store.save(key, None)


class Risk(Protocol):
    """What a strategy asks of its risk profile (`NoRisk`, `ClientRisk`, or a view of one)."""

    @property
    def name(self) -> str:
        """The risk profile's name; empty when the strategy has none."""
        ...

    def check_signal(self, params: RiskParams) -> bool:
        """Return whether a signal may open now."""
        ...

    def add_signal(self, symbol: str, strategy_name: str, exchange_name: str, when: int) -> None:
        """Record an opened position."""
        ...

    def remove_signal(self, symbol: str, strategy_name: str) -> None:
        """Forget a closed position."""
        ...
