"""`bracket`: a market entry every 5 minutes with a fixed take profit and stop loss.

The reference strategy of backtest-kit's golden runs: long in even UTC hours, short in odd
ones; take profit 1 %, stop loss 0.7 %, two hours at most.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.sim.api import get_average_price

NAME = "bracket"


def is_even_hour(when: datetime) -> bool:
    """Return True in even UTC hours (the reference strategies go long then)."""
    return int(when.timestamp() * 1000) // 3_600_000 % 2 == 0


def get_signal(symbol: str, when: datetime) -> dict[str, Any]:
    """Enter at the current VWAP with a 1 % target and a 0.7 % stop."""
    price = get_average_price(symbol)
    if is_even_hour(when):
        return {
            "position": "long",
            "price_take_profit": price * 1.01,
            "price_stop_loss": price * 0.993,
            "minute_estimated_time": 120,
            "note": NAME,
        }
    return {
        "position": "short",
        "price_take_profit": price * 0.99,
        "price_stop_loss": price * 1.007,
        "minute_estimated_time": 120,
        "note": NAME,
    }


SCHEMA = {
    "strategy_name": NAME,
    "interval": "5m",
    "get_signal": get_signal,
    "note": "market entry, TP 1 %, SL 0.7 %, 2 h (the reference bracket)",
}
