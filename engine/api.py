"""Helpers for strategy code: candles, VWAP, time, mode, formatting (docs/semantics.md#exchange)."""

from __future__ import annotations

from datetime import datetime

from engine import context
from engine.exchange import ms_to_datetime
from engine.models import Candle


def get_candles(symbol: str, interval: str, limit: int) -> list[Candle]:
    """Return the last `limit` candles of `symbol` before the current execution time.

    With the default profile these are candles that closed by then; with
    `backtest-kit-1.4.10` the window ends with the candle opening at that time.
    """
    ctx = context.current()
    return ctx.exchange.get_candles(symbol, interval, limit, ctx.when).to_candles()


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
