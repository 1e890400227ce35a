"""The crash test's strategy (`desk live --module`): bracket, logging every callback it gets.

Registers `journaled`, the built-in bracket's signals with a callback for every lifecycle
event. Each call appends one JSON line (callback, signal id, key, redelivery flag, prices)
to the file named by `CRASH_CALLBACK_LOG`, in one `write` and fsynced before the callback
returns, so a SIGKILL can cut no line and loses none that a callback has returned from.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import engine
from engine.strategies import bracket

NAME = "journaled"
LOG_VARIABLE = "CRASH_CALLBACK_LOG"
LIFECYCLE = (
    "on_schedule",
    "on_open",
    "on_partial_profit",
    "on_partial_loss",
    "on_close",
    "on_cancel",
)


def _append(line: dict[str, Any]) -> None:
    fd = os.open(os.environ[LOG_VARIABLE], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(line) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _logging(callback: str) -> Callable[..., None]:
    def log(symbol: str, signal: Any, *prices_and_flag: Any) -> None:
        delivery = engine.current_delivery()
        _append(
            {
                "callback": callback,
                "signal_id": signal.id,
                "key": None if delivery is None else delivery.key,
                "redelivery": None if delivery is None else delivery.redelivery,
                "prices": list(prices_and_flag[:-1]),
            }
        )

    return log


engine.add_strategy(
    {**bracket.SCHEMA, "strategy_name": NAME},
    callbacks={name: _logging(name) for name in LIFECYCLE},
)
