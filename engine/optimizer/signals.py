"""Turning an LLM's answer into a signal for the engine (docs/optimizer.md#signals).

Upstream returns the parsed answer as is, so `position: "wait"` becomes a scheduled signal
that can never open (BUG) and a malformed answer fails later in validation. With the
default profile, "wait" is no signal and an answer that breaks the signal schema raises
`SignalValidationError` (the engine reports it through `listen_error`: no signal);
`backtest-kit-1.4.10` keeps upstream's behaviour.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from engine.core import context
from engine.core.config import LEGACY_PROFILE, get_profile
from engine.core.errors import ConfigError, SignalValidationError


class LlmSignal(BaseModel):
    """The answer the signal schema asks for (`priceOpen` … in camelCase)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    position: Literal["wait", "long", "short"]
    note: str
    price_open: float
    price_take_profit: float
    price_stop_loss: float
    minute_estimated_time: float


def _legacy() -> bool:
    try:
        return context.current().exchange.settings.legacy
    except ConfigError:  # outside a run: the global profile decides
        return get_profile() == LEGACY_PROFILE


def trading_signal(answer: Any) -> Any:
    """Return the signal the LLM's `answer` asks for, or None for "wait".

    With `backtest-kit-1.4.10` the answer itself is returned, as upstream does.

    Raises:
        SignalValidationError: (default profile) the answer breaks the signal schema.
    """
    if _legacy():
        return answer
    try:
        signal = LlmSignal.model_validate(answer)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'answer'}: {e['msg']}" for e in exc.errors()
        )
        raise SignalValidationError(
            f"the LLM answer breaks the signal schema ({problems}): no signal"
        ) from None
    if signal.position == "wait":
        return None
    return {
        "position": signal.position,
        "note": signal.note,
        "price_open": signal.price_open,
        "price_take_profit": signal.price_take_profit,
        "price_stop_loss": signal.price_stop_loss,
        "minute_estimated_time": round(signal.minute_estimated_time),
    }
