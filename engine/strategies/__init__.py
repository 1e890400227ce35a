"""Example strategies shipped with the engine; the demo desk registers them."""

from __future__ import annotations

from typing import Any

from engine.core.registration import add_strategy, strategies
from engine.sim.indicators import IndicatorSpec
from engine.strategies import bracket, limit, sma_rsi

BUILTIN = (bracket, limit, sma_rsi)


def register_builtin_strategies() -> list[str]:
    """Register `bracket`, `limit` and `sma_rsi` (skipping names already taken)."""
    added = []
    for module in BUILTIN:
        if not strategies.has(module.NAME):
            add_strategy(known_valid(module.SCHEMA))
            added.append(module.NAME)
    return added


def known_valid(schema: dict[str, Any]) -> dict[str, Any]:
    """Return a built-in schema with its declared indicators as already checked specs.

    The built-ins declare canonical TA-Lib names and valid parameters, so registering them
    need not load TA-Lib to check them (a run loads it when it computes one). A test checks
    that these specs equal the ones the check returns.
    """
    declared = schema.get("indicators")
    if not declared:
        return schema
    specs = [
        IndicatorSpec(item["name"], item["interval"], tuple(sorted(item["params"].items())))
        for item in declared
    ]
    return {**schema, "indicators": specs}
