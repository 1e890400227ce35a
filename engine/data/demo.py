"""The embedded demo market: deterministic, realistic one-minute candles for a few symbols.

Prices follow a slow daily "anchor" series generated once per symbol from 2020-01-01 to
2035-01-01 UTC: a mean-reverting random walk with volatility and trend regimes lasting days
to weeks, fat-tailed daily moves and quieter weekends. Each UTC day's minutes are drawn
independently from a per-(symbol, day) seed as a bridge from that day's anchor price to the
next day's, so any minute range can be generated on its own and a given minute always gets
the same candle. Inside a day, regimes of a few hours switch volatility and drift, rare
jumps leave a decaying burst of volatility and volume, volume follows the UTC trading day,
and isolated minutes trade nothing.
"""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass

import numpy as np

from engine.core.errors import DataError
from engine.data.store import MINUTE_MS, CandleArrays, CandleStore

DAY_MS = 86_400_000
MINUTES_PER_DAY = 1440
EPOCH_MS = 1_577_836_800_000  # 2020-01-01T00:00:00Z, first day of the anchor series
HORIZON_MS = 2_051_222_400_000  # 2035-01-01T00:00:00Z, end of the generated market
DEMO_START_MS = 1_704_067_200_000
"""2024-01-01T00:00:00Z: first minute of the default backtest year."""
DEMO_END_MS = 1_735_689_600_000
"""2025-01-01T00:00:00Z: end (exclusive) of the default backtest year."""


@dataclass(frozen=True)
class _Profile:
    """How one demo symbol trades: level on 2024-01-01, volatility, size and precision."""

    start_price: float
    daily_vol: float
    minute_volume: float
    price_decimals: int
    volume_decimals: int


_PROFILES = {
    "BTCUSDT": _Profile(42_000.0, 0.030, 9.0, 2, 5),
    "ETHUSDT": _Profile(2_300.0, 0.036, 140.0, 2, 4),
    "SOLUSDT": _Profile(100.0, 0.045, 2_500.0, 2, 3),
    "BNBUSDT": _Profile(300.0, 0.032, 250.0, 2, 3),
    "XRPUSDT": _Profile(0.62, 0.040, 180_000.0, 4, 1),
}
DEMO_SYMBOLS: tuple[str, ...] = tuple(_PROFILES)
"""Symbols the demo market trades."""

_REVERSION = 1 / 250  # daily pull of the log price towards its long-run level
_REGIME_SLOTS = 64  # intraday regimes drawn per day; later switches stay in the last one
_REGIME_SWITCH = 1 / 180  # chance per minute that a new intraday regime starts
_JUMP_CHANCE = 1 / 2500  # chance per minute of a price jump
_JUMP_DECAY = float(np.exp(-1 / 25))  # per-minute decay of the burst after a jump
_ZERO_VOLUME_CHANCE = 0.003  # chance per minute of a minute with no trade
_WICK = 0.6  # mean wick beyond the body, in units of the minute's volatility


def _season(amplitude: float) -> np.ndarray:
    """Return a UTC time-of-day profile peaking at the US open, trough in the Asian night."""
    hour = np.arange(MINUTES_PER_DAY) / 60
    profile = (
        1
        + amplitude * np.cos(2 * np.pi * (hour - 15) / 24)
        + amplitude / 3 * np.cos(2 * np.pi * (hour - 9) / 12)
    )
    return profile / np.sqrt(np.mean(profile**2))


_VOL_SEASON = _season(0.3)
_VOLUME_SEASON = _season(0.45) * np.where(np.arange(MINUTES_PER_DAY) % 60 == 0, 1.4, 1.0)
_DECAY_UP = _JUMP_DECAY ** -np.arange(MINUTES_PER_DAY, dtype=np.float64)
_DECAY_DOWN = _JUMP_DECAY ** np.arange(MINUTES_PER_DAY, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class _Anchor:
    """Daily series of one symbol: price at each UTC midnight, each day's volatility and volume.

    `log_price` and `price` have one more entry than `vol` and `activity`: the midnight
    ending the last day.
    """

    log_price: np.ndarray
    price: np.ndarray
    vol: np.ndarray
    activity: np.ndarray


def _seed(symbol: str) -> int:
    """Return a seed derived from the symbol's name, stable across runs and machines."""
    return zlib.crc32(symbol.encode())


def _regime_per_day(rng: np.random.Generator, days: int, mean_days: float) -> np.ndarray:
    """Return, for each day, the index of the regime it belongs to (regimes of random length)."""
    lengths = 1 + rng.geometric(1 / mean_days, size=days)
    return np.searchsorted(np.cumsum(lengths), np.arange(days), side="right")


@functools.cache
def _anchor(symbol: str) -> _Anchor:
    """Generate the daily anchor series of `symbol` (once per process)."""
    profile = _PROFILES[symbol]
    days = (HORIZON_MS - EPOCH_MS) // DAY_MS
    rng = np.random.default_rng([_seed(symbol), 0])
    vol_regime = _regime_per_day(rng, days, 10)
    trend_regime = _regime_per_day(rng, days, 30)
    vol_level = profile.daily_vol * np.exp(0.3 * rng.standard_normal(days) - 0.045)
    trend = 0.1 * profile.daily_vol * rng.standard_normal(days)
    weekend = (np.arange(days) + 2) % 7 >= 5  # 2020-01-01 was a Wednesday
    vol = vol_level[vol_regime] * np.where(weekend, 0.7, 1.0)
    shocks = np.clip(rng.standard_t(5, size=days) * np.sqrt(3 / 5), -5, 5)
    returns = trend[trend_regime] + vol * shocks
    keep = 1 - _REVERSION
    powers = keep ** np.arange(days + 1, dtype=np.float64)
    level = powers * np.cumsum(np.concatenate(([0.0], returns)) / powers)
    start_day = (DEMO_START_MS - EPOCH_MS) // DAY_MS
    fade = np.exp(-np.abs(np.arange(days + 1) - start_day) / 365)
    level -= level[start_day] * fade  # 2024 opens at start_price; far away, the walk is intact
    log_price = np.log(profile.start_price) + level
    activity = (vol / profile.daily_vol) ** 0.9 * np.exp(0.2 * rng.standard_normal(days))
    return _Anchor(log_price, np.exp(log_price), vol, activity)


@dataclass(frozen=True, eq=False)
class _Draws:
    """Random numbers of a block of days, each day's rows drawn from its own seed."""

    normal: np.ndarray
    uniform: np.ndarray
    exponential: np.ndarray
    regime: np.ndarray


def _draw(symbol: str, first_day: int, days: int) -> _Draws:
    """Draw the random numbers of `days` days from `first_day` (days since the epoch)."""
    normal = np.empty((days, 3, MINUTES_PER_DAY))
    uniform = np.empty((days, 3, MINUTES_PER_DAY))
    exponential = np.empty((days, 2, MINUTES_PER_DAY))
    regime = np.empty((days, 2, _REGIME_SLOTS))
    seed = _seed(symbol)
    for row in range(days):
        rng = np.random.default_rng([seed, 1, first_day + row])
        rng.standard_normal(out=normal[row])
        rng.random(out=uniform[row])
        rng.standard_exponential(out=exponential[row])
        rng.standard_normal(out=regime[row])
    return _Draws(normal, uniform, exponential, regime)


def _days(symbol: str, first_day: int, days: int) -> CandleArrays:
    """Generate every minute of `days` consecutive UTC days from `first_day`."""
    profile = _PROFILES[symbol]
    anchor = _anchor(symbol)
    span = slice(first_day, first_day + days)
    draws = _draw(symbol, first_day, days)
    shock, volume_noise, jump_size = draws.normal.transpose(1, 0, 2)
    switch, jump_draw, zero_draw = draws.uniform.transpose(1, 0, 2)
    upper_wick, lower_wick = draws.exponential.transpose(1, 0, 2)

    regime = np.minimum(np.cumsum(switch < _REGIME_SWITCH, axis=1), _REGIME_SLOTS - 1)
    regime_vol = np.take_along_axis(np.exp(0.45 * draws.regime[:, 0] - 0.2025), regime, axis=1)
    regime_drift = np.take_along_axis(0.06 * draws.regime[:, 1], regime, axis=1)

    jumps = jump_draw < _JUMP_CHANCE
    burst = _DECAY_DOWN * np.cumsum(jumps * _DECAY_UP, axis=1)
    zero = zero_draw < _ZERO_VOLUME_CHANCE
    zero[:, 1:] &= ~zero[:, :-1]  # isolated minutes only: never two in a row
    zero[:, -1] = False  # the day's last close is pinned to the next day's anchor

    day_vol = anchor.vol[span, None]
    sigma = day_vol / np.sqrt(MINUTES_PER_DAY) * _VOL_SEASON * regime_vol * (1 + 2 * burst)
    step = sigma * (shock + regime_drift) + jumps * 0.25 * day_vol * jump_size
    step[zero] = 0.0
    weight = np.where(zero, 0.0, sigma**2)

    walk = np.cumsum(step, axis=1)
    elapsed = np.cumsum(weight, axis=1)
    start = anchor.log_price[span, None]
    target = anchor.log_price[first_day + 1 : first_day + days + 1, None] - start
    log_close = start + walk - elapsed / elapsed[:, -1:] * (walk[:, -1:] - target)
    close = np.exp(log_close)
    close[:, -1] = anchor.price[first_day + 1 : first_day + days + 1]
    price = np.round(np.column_stack((anchor.price[span], close)), profile.price_decimals)
    price[:, 1:] = np.where(zero, price[:, :-1], price[:, 1:])  # no trade: price unchanged
    open_, close = price[:, :-1], price[:, 1:]

    wick = _WICK * sigma * ~zero
    tick = 10.0**-profile.price_decimals
    high = np.round(np.maximum(open_, close) * np.exp(wick * upper_wick), profile.price_decimals)
    low = np.round(np.minimum(open_, close) * np.exp(-wick * lower_wick), profile.price_decimals)

    lot = 10.0**-profile.volume_decimals
    volume = (
        profile.minute_volume
        * anchor.activity[span, None]
        * _VOLUME_SEASON
        * regime_vol**0.8
        * (1 + 4 * burst)
        * (1 + 0.6 * np.abs(shock))
        * np.exp(0.55 * volume_noise - 0.15)
    )
    volume = np.where(zero, 0.0, np.maximum(np.round(volume, profile.volume_decimals), lot))

    minute = np.arange(MINUTES_PER_DAY, dtype=np.int64) * MINUTE_MS
    day_start = EPOCH_MS + np.arange(first_day, first_day + days, dtype=np.int64) * DAY_MS
    return CandleArrays.from_columns(
        (day_start[:, None] + minute).ravel(),
        open_.ravel(),
        high.ravel(),
        np.maximum(low, tick).ravel(),
        close.ravel(),
        volume.ravel(),
    )


def generate(symbol: str, start_ms: int, end_ms: int) -> CandleArrays:
    """Generate the demo market's one-minute candles of `symbol` opening in `[start_ms, end_ms)`.

    A given minute always gets the same candle, whatever range is requested, so ranges can
    be generated piecemeal (for example minute by minute on the wall clock).

    Args:
        symbol: One of `DEMO_SYMBOLS`.
        start_ms: First open time, epoch milliseconds (floored to the minute).
        end_ms: End of the range (exclusive), epoch milliseconds (floored to the minute).

    Returns:
        The candles, one per minute; empty when `end_ms <= start_ms`.

    Raises:
        DataError: The symbol is not a demo symbol, or the range leaves 2020-2034.
    """
    if symbol not in _PROFILES:
        raise DataError(
            f"the demo market has no symbol {symbol!r}; use one of {', '.join(DEMO_SYMBOLS)}"
        )
    start = start_ms - start_ms % MINUTE_MS
    end = end_ms - end_ms % MINUTE_MS
    if end <= start:
        return CandleArrays.from_columns([], [], [], [], [], [])
    if start < EPOCH_MS or end > HORIZON_MS:
        raise DataError(
            f"the demo market covers 2020-01-01 to 2035-01-01 UTC (epoch ms {EPOCH_MS} to "
            f"{HORIZON_MS}); requested {start} to {end}: pick a range inside it"
        )
    first_day = (start - EPOCH_MS) // DAY_MS
    last_day = (end - 1 - EPOCH_MS) // DAY_MS
    candles = _days(symbol, first_day, last_day - first_day + 1)
    offset = (start - EPOCH_MS) // MINUTE_MS - first_day * MINUTES_PER_DAY
    return candles.slice(offset, offset + (end - start) // MINUTE_MS)


def _load_year(symbol: str) -> CandleArrays:
    """Generate the default backtest year of `symbol` (the demo store's loader)."""
    return generate(symbol, DEMO_START_MS, DEMO_END_MS)


def demo_store() -> CandleStore:
    """Return a store serving the demo year 2024 of `DEMO_SYMBOLS`, generated on first use.

    Returns:
        A `CandleStore` whose symbols are `DEMO_SYMBOLS`; each symbol's candles
        `[DEMO_START_MS, DEMO_END_MS)` are generated when first requested.
    """
    return CandleStore(
        loader=_load_year,
        symbols=DEMO_SYMBOLS,
        span_hint=lambda symbol: (DEMO_START_MS, DEMO_END_MS - MINUTE_MS),
    )
