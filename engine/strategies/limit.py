"""`limit`: a limit entry 0.3 % away from the price, then a bracket around the entry.

The reference strategy of backtest-kit's golden runs for scheduled signals: the entry
waits up to `CC_SCHEDULE_AWAIT_MINUTES` for the price to reach it, or is cancelled.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.sim.api import get_average_price
from engine.strategies.bracket import is_even_hour

NAME = "limit"


def get_signal(symbol: str, when: datetime) -> dict[str, Any]:
    """Place a limit entry below (long) or above (short) the current VWAP."""
    price = get_average_price(symbol)
    if is_even_hour(when):
        entry = price * 0.997
        return {
            "position": "long",
            "price_open": entry,
            "price_take_profit": entry * 1.01,
            "price_stop_loss": entry * 0.993,
            "minute_estimated_time": 120,
            "note": NAME,
        }
    entry = price * 1.003
    return {
        "position": "short",
        "price_open": entry,
        "price_take_profit": entry * 0.99,
        "price_stop_loss": entry * 1.007,
        "minute_estimated_time": 120,
        "note": NAME,
    }


SCHEMA = {
    "strategy_name": NAME,
    "interval": "5m",
    "get_signal": get_signal,
    "note": "limit entry 0.3 % away, TP 1 %, SL 0.7 %, 2 h (the reference limit)",
}
