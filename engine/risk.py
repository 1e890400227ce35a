"""Risk profiles: user validations over the open positions they share (SPEC §11)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.events import validation_emitter
from engine.logger import get_logger
from engine.schemas import Schema


class RiskCallbacks(Schema):
    """Optional hooks of a risk profile."""

    on_rejected: Callable[..., Any] | None = None
    on_allowed: Callable[..., Any] | None = None


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


class ClientRisk:
    """Runs a risk profile's validations against the positions open under it."""

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

    def check_signal(self, params: RiskParams) -> bool:
        """Return False (and report why) if any validation raises."""
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
                get_logger().warn(f"risk {self.name} rejected {params.strategy_name}: {exc}")
                validation_emitter.emit(exc)
                if self._callbacks is not None and self._callbacks.on_rejected is not None:
                    self._callbacks.on_rejected(params.symbol, params)
                return False
        if self._callbacks is not None and self._callbacks.on_allowed is not None:
            self._callbacks.on_allowed(params.symbol, params)
        return True

    def add_signal(self, symbol: str, strategy_name: str, exchange_name: str, when: int) -> None:
        """Record an opened position."""
        self.positions[f"{strategy_name}:{symbol}"] = ActivePosition(
            strategy_name, symbol, exchange_name, when
        )

    def remove_signal(self, symbol: str, strategy_name: str) -> None:
        """Forget a closed position."""
        self.positions.pop(f"{strategy_name}:{symbol}", None)


Risk = NoRisk | ClientRisk
