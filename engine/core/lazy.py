"""Public names whose modules load on first use (PEP 562), so an import stays cheap."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(
    module: str, sources: Mapping[str, str], namespace: dict[str, Any]
) -> Callable[[str], Any]:
    """Return a module `__getattr__` that imports each name of `sources` on first use.

    Args:
        module: The name of the module that lends the names (for the error).
        sources: Each lazily loaded name and the module that defines it.
        namespace: The lending module's `globals()`, which keeps each name once loaded.
    """

    def __getattr__(name: str) -> Any:
        source = sources.get(name)
        if source is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source), name)
        namespace[name] = value
        return value

    return __getattr__
