"""Ambient execution context, so helpers like `get_average_price` work inside user code."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

from engine.core.errors import ConfigError

if TYPE_CHECKING:
    from engine.sim.exchange import ClientExchange


class ExecutionContext:
    """Where user code is running: symbol, simulated time, mode and the names in use.

    A backtest's quiet stretch (frames where only `get_signal` runs) enters one context for
    all its frames: it moves `when` frame by frame and sets `inside` only while strategy
    code runs, so that a helper called from engine code between two frames still refuses.

    Attributes:
        symbol: the symbol the strategy runs on.
        when: the execution time, epoch milliseconds.
        backtest: True in backtests, False live.
        strategy_name: the strategy's name.
        exchange: the run's exchange client.
        frame_name: the backtest frame's name ("" live).
        inside: whether strategy code is running under this context now.
    """

    __slots__ = ("backtest", "exchange", "frame_name", "inside", "strategy_name", "symbol", "when")

    def __init__(
        self,
        symbol: str,
        when: int,
        backtest: bool,
        strategy_name: str,
        exchange: ClientExchange,
        frame_name: str = "",
        inside: bool = True,
    ) -> None:
        self.symbol = symbol
        self.when = when
        self.backtest = backtest
        self.strategy_name = strategy_name
        self.exchange = exchange
        self.frame_name = frame_name
        self.inside = inside


_current: ContextVar[ExecutionContext | None] = ContextVar("engine_execution", default=None)


def current() -> ExecutionContext:
    """Return the active execution context or explain where the helper may be called."""
    ctx = _current.get()
    if ctx is None or not ctx.inside:
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
