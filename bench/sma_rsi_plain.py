"""`sma_rsi_plain`: the hand-written `sma_rsi` of before the indicator API, kept to measure
`get_candles` with user maths (bench/backtest_speed.py).

It reads closed candles with `get_candles` and computes its SMAs and a simple-average RSI on
every call, in two forms a user would write: with numpy (`SCHEMA`), and with plain-Python
sums over the closes (`LISTS_SCHEMA`, strategy `sma_rsi_lists`). On windows of 9 to 27
numbers numpy's per-call overhead costs more than the sums themselves.
"""

from __future__ import annotations

import itertools
import math
from datetime import datetime
from typing import Any

import numpy as np

from engine.sim.api import get_average_price, get_candles

NAME = "sma_rsi_plain"
LISTS_NAME = "sma_rsi_lists"
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


def rsi_of_list(closes: list[float], period: int = RSI_PERIOD) -> float:
    """Return `rsi` of the last `period` moves, summed in plain Python."""
    window = closes[-(period + 1) :]
    gains = losses = 0.0
    for before, after in itertools.pairwise(window):
        if after > before:
            gains += after - before
        elif after < before:
            losses += before - after
    if losses == 0:
        return 100.0
    return 100 - 100 / (1 + gains / losses)


def get_signal(symbol: str, when: datetime) -> dict[str, Any] | None:
    """Go with a fresh SMA crossover unless RSI says the move is already stretched."""
    candles = get_candles(symbol, "15m", SLOW + 2)
    if len(candles) < SLOW + 1:
        return None
    closes = np.array([c.close for c in candles[-(SLOW + 1) :]])
    fast_now, slow_now = closes[-FAST:].mean(), closes[-SLOW:].mean()
    fast_before, slow_before = closes[-FAST - 1 : -1].mean(), closes[-SLOW - 1 : -1].mean()
    return decide(symbol, (fast_before, fast_now), (slow_before, slow_now), rsi(closes))


def get_signal_lists(symbol: str, when: datetime) -> dict[str, Any] | None:
    """`get_signal` with plain-Python sums over the closes instead of numpy."""
    candles = get_candles(symbol, "15m", SLOW + 2)
    if len(candles) < SLOW + 1:
        return None
    closes = [c.close for c in candles[-(SLOW + 1) :]]
    fast_now, slow_now = sum(closes[-FAST:]) / FAST, sum(closes[-SLOW:]) / SLOW
    fast_before = sum(closes[-FAST - 1 : -1]) / FAST
    slow_before = sum(closes[-SLOW - 1 : -1]) / SLOW
    return decide(symbol, (fast_before, fast_now), (slow_before, slow_now), rsi_of_list(closes))


def decide(
    symbol: str, fast: tuple[float, float], slow: tuple[float, float], strength: float
) -> dict[str, Any] | None:
    """Return the signal of a crossover of the (before, now) SMAs that RSI lets through."""
    (fast_before, fast_now), (slow_before, slow_now) = fast, slow
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
LISTS_SCHEMA = {**SCHEMA, "strategy_name": LISTS_NAME, "get_signal": get_signal_lists}


def baseline(candles: Any, days: int) -> tuple[int, int]:
    """The `sma_rsi` rules (default profile) as a tuned plain-Python loop over lists.

    15-minute candles, SMA9/SMA26 and Wilder's RSI14 (TA-Lib's definition) are computed once
    in plain Python; then each decision reads them, enters at the VWAP of the last five
    closed minutes and scans the minutes for the stop loss (first), the take profit or the
    480-minute limit. Returns the closed trades and the minutes covered.
    """
    step = 15 * 60_000
    candles = candles.slice(0, days * 1440)
    ts = candles.timestamp.tolist()
    high, low, close, vol = (
        candles.high.tolist(),
        candles.low.tolist(),
        candles.close.tolist(),
        candles.volume.tolist(),
    )
    n = min(len(ts), days * 1440)
    opens: list[int] = []
    closes: list[float] = []
    for t, c in zip(ts[:n], close[:n], strict=True):
        bucket = t - t % step
        if opens and opens[-1] == bucket:
            closes[-1] = c
        else:
            opens.append(bucket)
            closes.append(c)
    fast, slow, rsi = _sma(closes, FAST), _sma(closes, SLOW), _wilder_rsi(closes, RSI_PERIOD)
    typical = [(h + lo + c) / 3 * v for h, lo, c, v in zip(high, low, close, vol, strict=True)]
    i, seen, closed, last_call = 5, 0, 0, -step
    while i < n:
        t = ts[i]
        if t - last_call < step:
            i += 1
            continue
        last_call = t
        while seen < len(opens) and opens[seen] <= t - step:
            seen += 1
        k = seen - 1
        if k < SLOW or rsi[k] != rsi[k]:
            i += 1
            continue
        up = fast[k - 1] <= slow[k - 1] and fast[k] > slow[k] and rsi[k] < RSI_OVERBOUGHT
        down = fast[k - 1] >= slow[k - 1] and fast[k] < slow[k] and rsi[k] > RSI_OVERSOLD
        if not (up or down):
            i += 1
            continue
        volume = sum(vol[i - 5 : i])
        price = sum(typical[i - 5 : i]) / volume if volume else sum(close[i - 5 : i]) / 5
        if up:
            tp, sl = price * (1 + TAKE_PROFIT), price * (1 - STOP_LOSS)
        else:
            tp, sl = price * (1 - TAKE_PROFIT), price * (1 + STOP_LOSS)
        end = min(i + 480, n)
        exit_at = end - 1
        for j in range(i, end):
            if (low[j] <= sl or high[j] >= tp) if up else (high[j] >= sl or low[j] <= tp):
                exit_at = j
                break
        closed += 1
        i = exit_at + 1
    return closed, n


def _sma(values: list[float], period: int) -> list[float]:
    out = [math.nan] * len(values)
    total = 0.0
    for i, v in enumerate(values):
        total += v
        if i >= period:
            total -= values[i - period]
        if i >= period - 1:
            out[i] = total / period
    return out


def _wilder_rsi(values: list[float], period: int) -> list[float]:
    out = [math.nan] * len(values)
    gain = loss = 0.0
    for i in range(1, len(values)):
        move = values[i] - values[i - 1]
        up, down = (move, 0.0) if move > 0 else (0.0, -move)
        if i <= period:
            gain, loss = gain + up / period, loss + down / period
        else:
            gain = (gain * (period - 1) + up) / period
            loss = (loss * (period - 1) + down) / period
        if i >= period:
            out[i] = 100.0 if loss == 0 else 100 - 100 / (1 + gain / loss)
    return out
