"""Named schema registries with upstream error texts and "did you mean" hints."""

from __future__ import annotations

import difflib
import threading
from typing import Generic, TypeVar

from engine.core.errors import ConfigError

S = TypeVar("S")

ALL: list[Registry[object]] = []
"""Every registry made, so a failed module load can take back what it registered."""


class Registry(Generic[S]):
    """Schemas of one kind (strategy, exchange, frame …) by name, in registration order."""

    def __init__(self, kind: str, name_field: str) -> None:
        self.kind = kind
        self.name_field = name_field
        self._items: dict[str, S] = {}
        self._lock = threading.Lock()
        ALL.append(self)  # type: ignore[arg-type]  # stored for names only

    def add(self, schema: S) -> None:
        """Register `schema`; a name already taken raises `<kind> <name> already exist`."""
        name = getattr(schema, self.name_field)
        with self._lock:
            if name in self._items:
                raise ConfigError(f"{self.kind} {name} already exist")
            self._items[name] = schema

    def has(self, name: str) -> bool:
        """Return whether `name` is registered."""
        return name in self._items

    def get(self, name: str, source: str) -> S:
        """Return the schema called `name`, or raise naming the caller and close matches."""
        found = self._items.get(name)
        if found is None:
            raise ConfigError(self.not_found(name, source))
        return found

    def not_found(self, name: str, source: str) -> str:
        """Return the upstream "not found" text with a hint of the nearest names."""
        hint = difflib.get_close_matches(str(name), list(self._items), n=3)
        text = f"{self.kind} {name} not found source={source}"
        if hint:
            return text + f". Did you mean {' or '.join(map(repr, hint))}?"
        known = ", ".join(map(repr, self._items)) or "none"
        kinds = "strategies" if self.kind == "strategy" else f"{self.kind}s"
        return text + f". Registered {kinds}: {known}"

    def names(self) -> list[str]:
        """Return the registered names in registration order."""
        return list(self._items)

    def list(self) -> list[S]:
        """Return every registered schema in registration order."""
        return list(self._items.values())

    def remove(self, name: str) -> None:
        """Forget `name` (no error if absent)."""
        with self._lock:
            self._items.pop(name, None)

    def clear(self) -> None:
        """Forget every schema."""
        with self._lock:
            self._items.clear()
