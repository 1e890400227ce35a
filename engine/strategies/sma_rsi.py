"""`sma_rsi`: a moving-average crossover on 15-minute candles, filtered by RSI.

Written the way we want users to write theirs: declare the indicators, read them with
`indicator()` (TA-Lib functions, computed once per run over the candles) and return a
signal dict or None. With the default profile an indicator only sees candles that closed
before the decision, so there is no look-ahead to worry about.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from engine.sim.api import get_average_price
from engine.sim.indicators import indicator

NAME = "sma_rsi"
INTERVAL = "15m"
FAST = 9
SLOW = 26
RSI_PERIOD = 14
RSI_OVERBOUGHT = 70.0
RSI_OVERSOLD = 30.0
TAKE_PROFIT = 0.015
STOP_LOSS = 0.008


def get_signal(symbol: str, when: datetime) -> dict[str, Any] | None:
    """Go with a fresh SMA crossover unless RSI says the move is already stretched."""
    fast = indicator("SMA", symbol, INTERVAL, window=2, timeperiod=FAST)
    slow = indicator("SMA", symbol, INTERVAL, window=2, timeperiod=SLOW)
    strength = indicator("RSI", symbol, INTERVAL, timeperiod=RSI_PERIOD)
    if len(slow) < 2 or math.isnan(slow[0]) or math.isnan(strength):
        return None  # not enough closed candles yet
    fast_before, fast_now = fast.tolist()  # plain floats: cheaper to unpack and compare
    slow_before, slow_now = slow.tolist()
    if fast_before <= slow_before and fast_now > slow_now and strength < RSI_OVERBOUGHT:
        position, side, crossed = "long", 1, "above"
    elif fast_before >= slow_before and fast_now < slow_now and strength > RSI_OVERSOLD:
        position, side, crossed = "short", -1, "below"
    else:
        return None
    price = get_average_price(symbol)  # read only when there is a signal to price
    return {
        "position": position,
        "price_take_profit": price * (1 + side * TAKE_PROFIT),
        "price_stop_loss": price * (1 - side * STOP_LOSS),
        "minute_estimated_time": 480,
        "note": f"SMA{FAST} crossed {crossed} SMA{SLOW}, RSI {strength:.0f}",
    }

SCHEMA = {
    "strategy_name": NAME,
    "interval": INTERVAL,
    "get_signal": get_signal,
    "indicators": [
        {"name": "SMA", "interval": INTERVAL, "params": {"timeperiod": FAST}},
        {"name": "SMA", "interval": INTERVAL, "params": {"timeperiod": SLOW}},
        {"name": "RSI", "interval": INTERVAL, "params": {"timeperiod": RSI_PERIOD}},
    ],
    "note": f"SMA{FAST}/SMA{SLOW} crossover on 15m candles, RSI{RSI_PERIOD} filter",
}
