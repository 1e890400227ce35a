"""Candle, frame and strategy interval tables."""

from __future__ import annotations

from engine.core.errors import ConfigError

MINUTES = {
    "1m": 1,
    "3m": 3,
    "5m": 5,
    "15m": 15,
    "30m": 30,
    "1h": 60,
    "2h": 120,
    "4h": 240,
    "6h": 360,
    "8h": 480,
    "12h": 720,
    "1d": 1440,
    "3d": 4320,
}
FRAME_INTERVALS = tuple(MINUTES)
STRATEGY_INTERVALS = ("1m", "3m", "5m", "15m", "30m", "1h")


_MS = {interval: minutes * 60_000 for interval, minutes in MINUTES.items()}


def interval_ms(interval: str) -> int:
    """Return the length of `interval` in milliseconds, or raise with the accepted values."""
    try:
        return _MS[interval]
    except KeyError:
        raise ConfigError(
            f"interval {interval!r} is not supported; use one of {', '.join(MINUTES)}"
        ) from None
