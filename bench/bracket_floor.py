"""The least any Python engine does per `bracket` trade, without the engine (a bench row).

Per trade it calls a `get_signal` written as a user writes the bracket strategy (it asks a
VWAP through a function, here a lookup in VWAPs computed once, and returns a dict), finds
the exit with one numpy scan of the candles that follow, and records a named tuple with the
trade's PnL. It leaves out all the
engine does beyond that: validating the signal, ids, fees and slippage, the frame loop and
its throttle, measurements, events and statistics. Its trades are the 1.4.10 bracket trades
of bench/backtest_speed.py's plain-Python baseline, so the two count the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

AVERAGE_OVER = 5
"""Candles in the VWAP (CC_AVG_PRICE_CANDLES_COUNT)."""
UNCHECKED = AVERAGE_OVER - 1
"""Candles after the entry that backtest-kit 1.4.10 does not check for TP/SL."""
MINUTES = 120


class Trade(NamedTuple):
    """One closed trade."""

    position: str
    price_open: float
    price_close: float
    close_timestamp: int
    pnl_percent: float


def bracket_signal(average_price: Callable[[], float], when: int) -> dict[str, Any]:
    """The bracket strategy: long in even UTC hours, TP 1 %, SL 0.7 %, two hours at most."""
    price = average_price()
    if when // 3_600_000 % 2 == 0:
        return {
            "position": "long",
            "price_take_profit": price * 1.01,
            "price_stop_loss": price * 0.993,
            "minute_estimated_time": MINUTES,
        }
    return {
        "position": "short",
        "price_take_profit": price * 0.99,
        "price_stop_loss": price * 1.007,
        "minute_estimated_time": MINUTES,
    }


def floor(candles: Any, days: int) -> tuple[int, int]:
    """Run the bracket trades of `days` of `candles`; return (trades, frames).

    The VWAPs are computed for the whole series at once (numpy), so that asking one costs a
    list lookup: less than any engine's `get_average_price`.
    """
    high, low, close, volume = candles.high, candles.low, candles.close, candles.volume
    weights = np.convolve(volume, np.ones(AVERAGE_OVER))[: len(volume)]
    typical = np.convolve((high + low + close) / 3 * volume, np.ones(AVERAGE_OVER))[: len(volume)]
    counts = np.minimum(np.arange(1, len(close) + 1), AVERAGE_OVER)
    plain = np.convolve(close, np.ones(AVERAGE_OVER))[: len(close)] / counts
    with np.errstate(invalid="ignore", divide="ignore"):
        vwaps = np.where(weights > 0, typical / weights, plain).tolist()
    ts, closes = candles.timestamp.tolist(), close.tolist()
    now = 0

    def average_price() -> float:
        return vwaps[now]

    frames = min(len(ts), days * 1440)
    trades: list[Trade] = []
    while now < frames:
        signal = bracket_signal(average_price, ts[now])
        price = average_price()
        long = signal["position"] == "long"
        take, stop = signal["price_take_profit"], signal["price_stop_loss"]
        end = min(now + signal["minute_estimated_time"], len(ts))
        checked = slice(now + UNCHECKED, end)
        if long:
            take_hit, stop_hit = high[checked] >= take, low[checked] <= stop
        else:
            take_hit, stop_hit = low[checked] <= take, high[checked] >= stop
        hit = take_hit | stop_hit
        first_hit = int(hit.argmax())
        if hit[first_hit]:
            exit_at = now + UNCHECKED + first_hit
            exit_price = take if take_hit[first_hit] else stop
        else:
            exit_at, exit_price = end - 1, closes[end - 1]
        move = (exit_price - price) if long else (price - exit_price)
        trades.append(Trade(signal["position"], price, exit_price, ts[exit_at], move / price * 100))
        now = exit_at + 1
    return len(trades), frames
