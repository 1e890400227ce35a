"""Global configuration (upstream's `CC_*` keys) and the profiles (docs/semantics.md#profiles)."""

from __future__ import annotations

import difflib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.core.errors import ConfigError

DEFAULT_PROFILE = "default"
LEGACY_PROFILE = "backtest-kit-1.4.10"
PROFILES = (DEFAULT_PROFILE, LEGACY_PROFILE)

DEFAULTS: dict[str, float] = {
    "CC_SCHEDULE_AWAIT_MINUTES": 120,
    "CC_AVG_PRICE_CANDLES_COUNT": 5,
    "CC_MIN_TAKEPROFIT_DISTANCE_PERCENT": 0.1,
    "CC_MAX_STOPLOSS_DISTANCE_PERCENT": 20,
    "CC_MAX_SIGNAL_LIFETIME_MINUTES": 1440,
    "CC_GET_CANDLES_RETRY_COUNT": 3,
    "CC_GET_CANDLES_RETRY_DELAY_MS": 5000,
    "CC_GET_CANDLES_PRICE_ANOMALY_THRESHOLD_FACTOR": 1000,
    "CC_GET_CANDLES_MIN_CANDLES_FOR_MEDIAN": 5,
    "CC_STRATEGY_TIMEOUT_SECONDS": 30,
}
"""`CC_STRATEGY_TIMEOUT_SECONDS` is the time budget of the strategy code one live tick runs
(`get_signal`, callbacks, the exchange's `get_candles`; 0: no budget); backtests do not use it."""

_lock = threading.Lock()
_values: dict[str, Any] = dict(DEFAULTS)
_profile = [DEFAULT_PROFILE]


@dataclass(frozen=True, slots=True)
class Settings:
    """A snapshot of the configuration taken when a run starts.

    Attributes:
        profile: the execution profile name.
        legacy: true for `backtest-kit-1.4.10` (reproduce upstream exactly, look-ahead included).
        schedule_await_minutes .. min_candles_for_median: the `CC_*` values.
        strategy_timeout_seconds: the budget of a live tick's strategy code (0: none).
    """

    profile: str
    legacy: bool
    schedule_await_minutes: float
    avg_price_candles: int
    min_take_profit_distance: float
    max_stop_loss_distance: float
    max_signal_lifetime_minutes: float
    candles_retry_count: int
    candles_retry_delay_ms: float
    anomaly_threshold_factor: float
    min_candles_for_median: int
    strategy_timeout_seconds: float


def _check_profile(name: str) -> str:
    if name not in PROFILES:
        hint = difflib.get_close_matches(name, PROFILES, n=1)
        suggestion = f" Did you mean {hint[0]!r}?" if hint else ""
        raise ConfigError(
            f"profile {name!r} is unknown; use one of {', '.join(map(repr, PROFILES))}.{suggestion}"
        )
    return name


def set_config(config: Mapping[str, Any] | None = None, /, **values: Any) -> None:
    """Update global settings: `CC_*` keys by their upstream names, and `profile`.

    Takes effect for every run started afterwards. Unknown keys raise `ConfigError`.
    """
    updates = {**(config or {}), **values}
    for key, value in updates.items():
        if key == "profile":
            continue
        if key not in DEFAULTS:
            hint = difflib.get_close_matches(key, DEFAULTS, n=1)
            suggestion = f" Did you mean {hint[0]!r}?" if hint else ""
            raise ConfigError(f"set_config: unknown key {key!r}.{suggestion}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"set_config: {key} must be a number, was {value!r}")
    with _lock:
        if "profile" in updates:
            _profile[0] = _check_profile(str(updates["profile"]))
        _values.update({k: v for k, v in updates.items() if k != "profile"})


def use_profile(name: str) -> None:
    """Select the execution profile: `"default"` or `"backtest-kit-1.4.10"`."""
    set_config(profile=name)


def get_profile() -> str:
    """Return the current execution profile name."""
    return _profile[0]


def get_config() -> dict[str, Any]:
    """Return a copy of the current `CC_*` values and the profile."""
    with _lock:
        return {**_values, "profile": _profile[0]}


def reset_config() -> None:
    """Restore every default (profile `default`, upstream `CC_*` values)."""
    with _lock:
        _values.clear()
        _values.update(DEFAULTS)
        _profile[0] = DEFAULT_PROFILE


def snapshot(profile: str | None = None) -> Settings:
    """Return the settings a run uses; `profile` overrides the global profile for that run."""
    with _lock:
        name = _check_profile(profile) if profile is not None else _profile[0]
        v = dict(_values)
    return Settings(
        profile=name,
        legacy=name == LEGACY_PROFILE,
        schedule_await_minutes=v["CC_SCHEDULE_AWAIT_MINUTES"],
        avg_price_candles=int(v["CC_AVG_PRICE_CANDLES_COUNT"]),
        min_take_profit_distance=v["CC_MIN_TAKEPROFIT_DISTANCE_PERCENT"],
        max_stop_loss_distance=v["CC_MAX_STOPLOSS_DISTANCE_PERCENT"],
        max_signal_lifetime_minutes=v["CC_MAX_SIGNAL_LIFETIME_MINUTES"],
        candles_retry_count=int(v["CC_GET_CANDLES_RETRY_COUNT"]),
        candles_retry_delay_ms=v["CC_GET_CANDLES_RETRY_DELAY_MS"],
        anomaly_threshold_factor=v["CC_GET_CANDLES_PRICE_ANOMALY_THRESHOLD_FACTOR"],
        min_candles_for_median=int(v["CC_GET_CANDLES_MIN_CANDLES_FOR_MEDIAN"]),
        strategy_timeout_seconds=v["CC_STRATEGY_TIMEOUT_SECONDS"],
    )
