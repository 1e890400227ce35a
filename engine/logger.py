"""The engine's logger: Python logging by default, replaceable with `set_logger`."""

from __future__ import annotations

import logging
from typing import Any, Protocol


class Logger(Protocol):
    """What the engine needs from a logger (the upstream `ILogger` shape)."""

    def log(self, *args: Any) -> None:
        """Record a general message."""

    def debug(self, *args: Any) -> None:
        """Record a debug message."""

    def info(self, *args: Any) -> None:
        """Record an informational message."""

    def warn(self, *args: Any) -> None:
        """Record a warning."""


class StdLogger:
    """Adapter from the `Logger` protocol to the `engine` Python logger."""

    def __init__(self) -> None:
        self._log = logging.getLogger("engine")
        # A library stays quiet unless the application configures logging.
        self._log.addHandler(logging.NullHandler())

    def log(self, *args: Any) -> None:
        """Record a general message at INFO level."""
        self._log.info(" ".join(map(str, args)))

    def debug(self, *args: Any) -> None:
        """Record a debug message."""
        self._log.debug(" ".join(map(str, args)))

    def info(self, *args: Any) -> None:
        """Record an informational message."""
        self._log.info(" ".join(map(str, args)))

    def warn(self, *args: Any) -> None:
        """Record a warning."""
        self._log.warning(" ".join(map(str, args)))


_logger: list[Logger] = [StdLogger()]


def set_logger(logger: Logger) -> None:
    """Send the engine's log messages to `logger` (an object with log/debug/info/warn)."""
    for method in ("log", "debug", "info", "warn"):
        if not callable(getattr(logger, method, None)):
            raise TypeError(f"set_logger: the logger has no callable {method}() method")
    _logger[0] = logger


def get_logger() -> Logger:
    """Return the logger in use."""
    return _logger[0]
