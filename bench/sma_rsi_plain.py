"""`sma_rsi_plain`: the hand-written `sma_rsi` of before the indicator API, kept to measure
`get_candles` with user maths (bench/backtest_speed.py).

It reads closed candles with `get_candles` and computes its SMAs and a simple-average RSI
with numpy on every call.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from engine.api import get_average_price, get_candles

NAME = "sma_rsi_plain"
FAST = 9
SLOW = 26
RSI_PERIOD = 14
RSI_OVERBOUGHT = 70.0
RSI_OVERSOLD = 30.0
TAKE_PROFIT = 0.015
STOP_LOSS = 0.008


def rsi(closes: np.ndarray, period: int = RSI_PERIOD) -> float:
    """Return the relative strength index (simple averages) of the last `period` moves."""
    moves = np.diff(closes[-(period + 1) :])
    gains = moves[moves > 0].sum()
    losses = -moves[moves < 0].sum()
    if losses == 0:
        return 100.0
    return float(100 - 100 / (1 + gains / losses))


def get_signal(symbol: str, when: datetime) -> dict[str, Any] | None:
    """Go with a fresh SMA crossover unless RSI says the move is already stretched."""
    candles = get_candles(symbol, "15m", SLOW + 2)
    if len(candles) < SLOW + 1:
        return None
    closes = np.array([c.close for c in candles[-(SLOW + 1) :]])
    fast_now, slow_now = closes[-FAST:].mean(), closes[-SLOW:].mean()
    fast_before, slow_before = closes[-FAST - 1 : -1].mean(), closes[-SLOW - 1 : -1].mean()
    strength = rsi(closes)
    price = get_average_price(symbol)
    if fast_before <= slow_before and fast_now > slow_now and strength < RSI_OVERBOUGHT:
        return {
            "position": "long",
            "price_take_profit": price * (1 + TAKE_PROFIT),
            "price_stop_loss": price * (1 - STOP_LOSS),
            "minute_estimated_time": 480,
            "note": f"SMA{FAST} crossed above SMA{SLOW}, RSI {strength:.0f}",
        }
    if fast_before >= slow_before and fast_now < slow_now and strength > RSI_OVERSOLD:
        return {
            "position": "short",
            "price_take_profit": price * (1 - TAKE_PROFIT),
            "price_stop_loss": price * (1 + STOP_LOSS),
            "minute_estimated_time": 480,
            "note": f"SMA{FAST} crossed below SMA{SLOW}, RSI {strength:.0f}",
        }
    return None


SCHEMA = {
    "strategy_name": NAME,
    "interval": "15m",
    "get_signal": get_signal,
    "note": f"SMA{FAST}/SMA{SLOW} crossover on 15m candles, RSI{RSI_PERIOD} filter",
}
