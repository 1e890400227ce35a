"""An in-memory persistence adapter: for tests and for runs that must leave no files."""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path
from typing import Any, ClassVar

from engine.persist.base import PersistBase, natural_key


class MemoryPersist(PersistBase):
    """Keeps values in a process-wide dict keyed by `(base_dir, entity_name)`.

    Two instances for the same entity share their values, like two handles on one file, so
    a live run restarted in the same process recovers its state. Values are stored as
    copies and must be JSON-compatible, as with the file adapters.
    """

    _stores: ClassVar[dict[tuple[str, str], dict[str, Any]]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, entity_name: str, base_dir: str | Path) -> None:
        super().__init__(entity_name, base_dir)
        with self._lock:
            self._data = self._stores.setdefault((str(self.base_dir), entity_name), {})

    @classmethod
    def forget_all(cls) -> None:
        """Drop every stored entity (between tests)."""
        with cls._lock:
            cls._stores.clear()

    def wait_for_init(self) -> None:
        """Nothing to prepare."""

    def read_value(self, key: str) -> Any:
        """Return a copy of the value under `key` (KeyError when absent)."""
        with self._lock:
            return copy.deepcopy(self._data[key])

    def has_value(self, key: str) -> bool:
        """Return whether `key` is stored."""
        with self._lock:
            return key in self._data

    def write_value(self, key: str, value: Any) -> None:
        """Store a copy of `value` (rejecting what JSON could not hold)."""
        stored = json.loads(json.dumps(value))
        with self._lock:
            self._data[key] = stored

    def remove_value(self, key: str) -> None:
        """Forget `key`."""
        with self._lock:
            self._data.pop(key, None)

    def remove_all(self) -> None:
        """Forget every key."""
        with self._lock:
            self._data.clear()

    def items(self) -> list[tuple[str, Any]]:
        """Return copies of every `(key, value)`, keys in natural order."""
        with self._lock:
            pairs = copy.deepcopy(list(self._data.items()))
        return sorted(pairs, key=lambda pair: natural_key(pair[0]))
