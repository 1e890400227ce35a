"""Helpers for strategy code: candles, VWAP, time, mode, formatting (docs/semantics.md#exchange)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, overload

from engine.core import context
from engine.core.models import Candle
from engine.data.store import CandleArrays
from engine.sim.exchange import ms_to_datetime


@overload
def get_candles(
    symbol: str, interval: str, limit: int, as_arrays: Literal[False] = False
) -> list[Candle]: ...


@overload
def get_candles(
    symbol: str, interval: str, limit: int, as_arrays: Literal[True]
) -> CandleArrays: ...


def get_candles(
    symbol: str, interval: str, limit: int, as_arrays: bool = False
) -> list[Candle] | CandleArrays:
    """Return the last `limit` candles of `symbol` before the current execution time.

    With the default profile these are candles that closed by then; with
    `backtest-kit-1.4.10` the window ends with the candle opening at that time.

    Args:
        symbol: The symbol.
        interval: The candle interval (`"1m"`, `"15m"`, `"1h"`, ...).
        limit: How many candles.
        as_arrays: Return the candles as read-only numpy arrays instead of a list of
            `Candle` tuples: an object with `.timestamp .open .high .low .close .volume`
            (views of the loaded data, no copy), for strategies that compute with numpy.
    """
    ctx = context.current()
    if as_arrays:
        return ctx.exchange.candle_arrays(symbol, interval, limit, ctx.when)
    return ctx.exchange.candle_list(symbol, interval, limit, ctx.when)


def get_average_price(symbol: str) -> float:
    """Return the VWAP of the last five one-minute candles at the current execution time."""
    ctx = context.current()
    return ctx.exchange.average_price(symbol, ctx.when)


def get_date() -> datetime:
    """Return the current execution time (frame time in backtests, tick time live)."""
    return ms_to_datetime(context.current().when)


def get_mode() -> str:
    """Return `"backtest"` or `"live"`."""
    return "backtest" if context.current().backtest else "live"


def format_price(symbol: str, price: float) -> str:
    """Format a price with the current exchange's rules."""
    return context.current().exchange.format_price(symbol, price)


def format_quantity(symbol: str, quantity: float) -> str:
    """Format a quantity with the current exchange's rules."""
    return context.current().exchange.format_quantity(symbol, quantity)
