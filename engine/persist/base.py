"""`PersistBase`: the storage contract of live state, and its errors (docs/architecture.md)."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.core.errors import ConfigError, DataError

_DIGITS = re.compile(r"(\d+)")


class StateError(DataError):
    """A state file is unreadable; it was moved aside and the run refuses to guess."""


class StateWriteError(StateError):
    """A live state change could not be written (read-only folder, full disk): the run stops.

    The change it belonged to was not acted on in memory (fail closed): what is on disk is
    still the whole truth, and the next start resumes from it.
    """


class StateLockedError(ConfigError):
    """Another process already runs on the same state (same directory, strategy and symbol)."""


def natural_key(text: str) -> tuple[Any, ...]:
    """Sort key comparing digit runs as numbers (upstream's `localeCompare(numeric)`)."""
    return tuple(int(p) if p.isdigit() else p.lower() for p in _DIGITS.split(text))


class PersistBase(ABC):
    """A keyed store of JSON values for one entity (upstream's `PersistBase`).

    Subclasses are built as `Adapter(entity_name, base_dir)`. Values are JSON-compatible
    (dicts, lists, strings, numbers, booleans, None); a stored None reads back as None.
    `write_value` is atomic: after a crash a reader sees the old value or the new one.

    Attributes:
        entity_name: what is stored (for example `BTCUSDT_bracket`).
        base_dir: the folder of this kind of entity (for example `./dump/data/signal`).
    """

    def __init__(self, entity_name: str, base_dir: str | Path) -> None:
        self.entity_name = entity_name
        self.base_dir = Path(base_dir)

    @abstractmethod
    def wait_for_init(self) -> None:
        """Prepare the storage and validate what is stored.

        Raises:
            StateError: stored data is corrupt (it is moved aside, never dropped).
        """

    @abstractmethod
    def read_value(self, key: str) -> Any:
        """Return the value stored under `key`.

        Raises:
            KeyError: nothing is stored under `key`.
        """

    @abstractmethod
    def has_value(self, key: str) -> bool:
        """Return whether a value is stored under `key`."""

    @abstractmethod
    def write_value(self, key: str, value: Any) -> None:
        """Store `value` under `key`, atomically."""

    @abstractmethod
    def remove_value(self, key: str) -> None:
        """Forget `key` (no error when absent)."""

    @abstractmethod
    def remove_all(self) -> None:
        """Forget every key of this entity."""

    @abstractmethod
    def items(self) -> list[tuple[str, Any]]:
        """Return every `(key, value)` pair, keys in natural order."""

    def quarantine(self, why: str) -> StateError:
        """Set aside what this store holds and return the error that says what to do.

        The default adapter moves its file aside; this default, for adapters with no file,
        only explains, so that a run refuses to start rather than guess.
        """
        return StateError(
            f"the {self.base_dir.name} state of {self.entity_name} ({type(self).__name__}) is "
            f"corrupt: {why}. The run stopped instead of guessing which positions are open: "
            "check your positions on the exchange, fix or clear that entry in the adapter's "
            "storage, and start again."
        )

    def keys(self) -> list[str]:
        """Return every key, in natural order (digit runs compared as numbers)."""
        return [key for key, _ in self.items()]

    def values(self) -> list[Any]:
        """Return every value, ordered by key."""
        return [value for _, value in self.items()]

    def filter(self, predicate: Callable[[Any], bool]) -> list[Any]:
        """Return the values for which `predicate` is true, ordered by key."""
        return [value for value in self.values() if predicate(value)]

    def take(self, total: int, predicate: Callable[[Any], bool] | None = None) -> list[Any]:
        """Return at most `total` values (those passing `predicate`), ordered by key."""
        chosen = self.values() if predicate is None else self.filter(predicate)
        return chosen[: max(total, 0)]
