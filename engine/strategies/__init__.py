"""Example strategies shipped with the engine; the demo desk registers them."""

from __future__ import annotations

from engine.core.registration import add_strategy, strategies
from engine.strategies import bracket, limit, sma_rsi

BUILTIN = (bracket, limit, sma_rsi)


def register_builtin_strategies() -> list[str]:
    """Register `bracket`, `limit` and `sma_rsi` (skipping names already taken)."""
    added = []
    for module in BUILTIN:
        if not strategies.has(module.NAME):
            add_strategy(module.SCHEMA)
            added.append(module.NAME)
    return added
