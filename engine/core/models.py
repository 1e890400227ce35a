"""Immutable data types that cross the engine's boundary: candles, signals, results.

They are named tuples: immutable, typed, cheap to build in the hot loop, `_asdict()` for JSON.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class Candle(NamedTuple):
    """One OHLCV candle; `timestamp` is the open time in epoch milliseconds (UTC)."""

    timestamp: int
    open: float
    high: float
    low: float
    close: float
    volume: float


class Action(StrEnum):
    """What a tick or a fast backtest produced."""

    IDLE = "idle"
    SCHEDULED = "scheduled"
    OPENED = "opened"
    ACTIVE = "active"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class CloseReason(StrEnum):
    """Why a pending signal was closed."""

    TAKE_PROFIT = "take_profit"
    STOP_LOSS = "stop_loss"
    TIME_EXPIRED = "time_expired"


class SignalRow(NamedTuple):
    """A validated signal as the engine tracks, persists and reports it."""

    id: str
    price_open: float
    position: str
    note: str | None
    price_take_profit: float
    price_stop_loss: float
    minute_estimated_time: int
    symbol: str
    exchange_name: str
    strategy_name: str
    scheduled_at: int
    pending_at: int
    is_scheduled: bool


class PnL(NamedTuple):
    """Net profit or loss of a closed signal, in percent, with the raw open and close prices."""

    pnl_percentage: float
    price_open: float
    price_close: float


class TickResult(NamedTuple):
    """Outcome of one tick: `idle`, `scheduled`, `opened` or `active`."""

    action: Action
    signal: SignalRow | None
    current_price: float
    strategy_name: str
    exchange_name: str
    symbol: str


class CancelledResult(NamedTuple):
    """A scheduled signal cancelled before activation (timeout or stop loss first)."""

    action: Action
    signal: SignalRow
    current_price: float
    strategy_name: str
    exchange_name: str
    symbol: str
    close_timestamp: int


class ClosedResult(NamedTuple):
    """A pending signal closed by take profit, stop loss or expiry.

    `ambiguous` is true when take profit and stop loss were both touched inside one candle.
    """

    action: Action
    signal: SignalRow
    current_price: float
    strategy_name: str
    exchange_name: str
    symbol: str
    close_reason: CloseReason
    close_timestamp: int
    pnl: PnL
    ambiguous: bool = False
