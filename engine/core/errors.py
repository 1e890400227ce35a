"""The engine's exceptions, grouped by what the user must do about them."""

from __future__ import annotations


class EngineError(Exception):
    """Root of every error the engine raises on purpose."""


class ConfigError(EngineError, ValueError):
    """A schema, a name or a setting is wrong: fix the call or the registration."""


class DataError(EngineError, ValueError):
    """Candle data is missing or malformed: fix or replace the data."""


class StrategyError(EngineError):
    """User strategy code raised; the run goes on and the error is reported."""


class SignalValidationError(EngineError, ValueError):
    """A signal returned by `get_signal` breaks a rule of docs/semantics.md#validation."""


class TemporaryError(EngineError):
    """A transient failure (network, rate limit): retrying may succeed."""
