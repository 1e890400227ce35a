"""Ambient execution context, so helpers like `get_average_price` work inside user code."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, NamedTuple

from engine.core.errors import ConfigError

if TYPE_CHECKING:
    from engine.sim.exchange import ClientExchange


class ExecutionContext(NamedTuple):
    """Where user code is running: symbol, simulated time, mode and the names in use."""

    symbol: str
    when: int
    backtest: bool
    strategy_name: str
    exchange: ClientExchange
    frame_name: str = ""


_current: ContextVar[ExecutionContext | None] = ContextVar("engine_execution", default=None)


def current() -> ExecutionContext:
    """Return the active execution context or explain where the helper may be called."""
    ctx = _current.get()
    if ctx is None:
        raise ConfigError(
            "this helper only works inside strategy code (get_signal or a callback) "
            "while a backtest or live run is executing it"
        )
    return ctx


def enter(ctx: ExecutionContext) -> object:
    """Activate `ctx`; pass the returned token to `leave`."""
    return _current.set(ctx)


def leave(token: object) -> None:
    """Restore the context that was active before `enter`."""
    _current.reset(token)  # type: ignore[arg-type]  # token comes from enter()
