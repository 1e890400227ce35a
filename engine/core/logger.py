"""The engine's logging: named `logging` loggers by default, or the logger of `set_logger`.

Each module logs through `engine_logger(__name__)`. A message is a topic (what happened)
and context values (a mapping of symbol, strategy, exchange, … where they are known), as
upstream's `ILogger` receives them. By default a message goes to the standard `logging`
logger named after the module (`engine.sim.backtest`, `engine.sim.live`, …), so
`logging.basicConfig(level=logging.DEBUG)` shows every line and
`logging.getLogger("engine.sim.live").setLevel(...)` tunes one part. After
`set_logger(custom)`,
every level reaches `custom.debug/info/log/warn(topic, *context)` instead.

Levels: `debug` for each step (a signal opened or closed, a state write), `info` for a
run's start and end, `log` for general notices (a report saved), `warn` for what went
wrong but did not stop the engine.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

ROOT = "engine"
logging.getLogger(ROOT).addHandler(logging.NullHandler())  # quiet unless configured


class Logger(Protocol):
    """What `set_logger` takes (the upstream `ILogger` shape): four levels."""

    def log(self, topic: str, *context: Any) -> None:
        """Record a general message."""

    def debug(self, topic: str, *context: Any) -> None:
        """Record a debug message."""

    def info(self, topic: str, *context: Any) -> None:
        """Record an informational message."""

    def warn(self, topic: str, *context: Any) -> None:
        """Record a warning."""


_custom: list[Logger | None] = [None]


def _line(topic: str, context: tuple[Any, ...]) -> str:
    parts = [topic]
    for value in context:
        if isinstance(value, Mapping):
            parts.extend(f"{k}={v}" for k, v in value.items())
        else:
            parts.append(str(value))
    return " ".join(parts)


class EngineLogger:
    """The log of one engine module: to its named `logging` logger or to the custom one."""

    __slots__ = ("_log",)

    def __init__(self, name: str) -> None:
        self._log = logging.getLogger(name)

    def debug(self, topic: str, *context: Any) -> None:
        """Record a step (cheap when nobody listens: check `debugging` in hot loops)."""
        self._send(logging.DEBUG, "debug", topic, context)

    def info(self, topic: str, *context: Any) -> None:
        """Record a run's start, end or another informational message."""
        self._send(logging.INFO, "info", topic, context)

    def log(self, topic: str, *context: Any) -> None:
        """Record a general notice."""
        self._send(logging.INFO, "log", topic, context)

    def warn(self, topic: str, *context: Any) -> None:
        """Record what went wrong without stopping the engine."""
        self._send(logging.WARNING, "warn", topic, context)

    @property
    def debugging(self) -> bool:
        """Whether a debug message would reach anyone (a custom logger, or logging's level)."""
        return _custom[0] is not None or self._log.isEnabledFor(logging.DEBUG)

    def _send(self, level: int, method: str, topic: str, context: tuple[Any, ...]) -> None:
        custom = _custom[0]
        if custom is not None:
            getattr(custom, method)(topic, *context)
        elif self._log.isEnabledFor(level):
            self._log.log(level, "%s", _line(topic, context))


def engine_logger(name: str) -> EngineLogger:
    """Return the log of the module `name` (pass `__name__`)."""
    return EngineLogger(name if name.startswith(ROOT) else f"{ROOT}.{name}")


def set_logger(logger: Logger | None) -> None:
    """Send every engine message, all four levels, to `logger`; None goes back to `logging`.

    Raises:
        TypeError: `logger` lacks one of `log`, `debug`, `info`, `warn`.
    """
    if logger is not None:
        for method in ("log", "debug", "info", "warn"):
            if not callable(getattr(logger, method, None)):
                raise TypeError(f"set_logger: the logger has no callable {method}() method")
    _custom[0] = logger
