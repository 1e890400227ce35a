"""The shapes of a live session's state files, checked before recovery trusts any of them.

Each kind of store (signal, schedule, history, partial, risk, clock) holds JSON values of
one shape, written by engine/sim/live_state.py and engine/data/demo_live.py. `check_store`
parses every value of a store against its model; the first one that does not fit sets the
whole store aside (`PersistBase.quarantine`) and stops the run with a `StateError` naming
the file, the entry and what was wrong: recovery never guesses which positions are open.

A signal that fits its model must also pass the rules a new signal passes
(engine/core/validation.py `signal_errors`), so a stored `"position": "sideways"` is refused
instead of being taken for a short. The profile's distance and lifetime limits are left
out: a position that is open on the exchange must be watched even if the limits changed.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from engine.core.config import Settings, snapshot
from engine.core.errors import ConfigError
from engine.core.models import SignalRow
from engine.core.validation import signal_errors
from engine.persist.base import PersistBase

Kind = Literal["signal", "schedule", "history", "partial", "risk", "clock", "journal"]
_Name = Annotated[str, Field(min_length=1)]
_Time = Annotated[int, Field(gt=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SignalDoc(_Strict):
    """A signal row as `row_to_dict` writes it (the open or the scheduled signal)."""

    id: _Name
    price_open: float
    position: Literal["long", "short"]
    note: str | None
    price_take_profit: float
    price_stop_loss: float
    minute_estimated_time: float
    symbol: _Name
    exchange_name: _Name
    strategy_name: _Name
    scheduled_at: _Time
    pending_at: _Time
    is_scheduled: bool


class PnLDoc(_Strict):
    """The profit or loss of a closed signal."""

    pnl_percentage: float
    price_open: float
    price_close: float


class HistoryDoc(_Strict):
    """An opened, closed or cancelled signal as `result_to_dict` writes it."""

    action: Literal["opened", "closed", "cancelled"]
    signal: SignalDoc
    current_price: float
    timestamp: int
    close_timestamp: int | None = None
    close_reason: Literal["take_profit", "stop_loss", "time_expired"] | None = None
    pnl: PnLDoc | None = None
    ambiguous: bool | None = None

    @model_validator(mode="after")
    def _complete(self) -> HistoryDoc:
        needed = {
            "opened": (),
            "cancelled": ("close_timestamp",),
            "closed": ("close_timestamp", "close_reason", "pnl"),
        }[self.action]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.action} entry needs {', '.join(missing)}")
        return self


class PartialDoc(_Strict):
    """The partial profit and loss levels a signal reached (`PartialLevels.save`)."""

    strategy_name: _Name
    profit_levels: list[int]
    loss_levels: list[int]


class RiskDoc(_Strict):
    """One open position of a risk profile (`RiskPositions.save`)."""

    strategy_name: _Name
    symbol: _Name
    exchange_name: _Name
    open_timestamp: int


class ClockDoc(_Strict):
    """Where a session's fast demo clock is anchored (demo_live's `ClockAnchor`)."""

    wall_ms: _Time
    sim_ms: _Time
    speed: Annotated[float, Field(gt=0, allow_inf_nan=False)]


class JournalDoc(_Strict):
    """One lifecycle change of the journal (`engine.sim.live_journal.LifecycleJournal.record`)."""

    seq: _Time
    event: Literal["scheduled", "opened", "partial_profit", "partial_loss", "closed", "cancelled"]
    signal: SignalDoc
    price: float
    extra: list[float]
    delivered: bool


_MODELS: dict[str, type[_Strict]] = {
    "signal": SignalDoc,
    "schedule": SignalDoc,
    "history": HistoryDoc,
    "partial": PartialDoc,
    "risk": RiskDoc,
    "clock": ClockDoc,
    "journal": JournalDoc,
}


def _rules() -> Settings:
    """Return settings that check every rule of a stored signal but the profile's limits."""
    return dataclasses.replace(
        snapshot(None),
        min_take_profit_distance=0,
        max_stop_loss_distance=0,
        max_signal_lifetime_minutes=0,
    )


def _explain(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error["loc"]) or "the value"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def signal_problem(value: Any) -> str:
    """Return why `value` is not a valid stored signal ("" when it is one)."""
    try:
        SignalDoc.model_validate(value)
    except ValidationError as exc:
        return _explain(exc)
    row = SignalRow(**value)
    errors = signal_errors(row, row.price_open, True, _rules())
    return "; ".join(errors)


def value_problem(kind: Kind, key: str, value: Any) -> str:
    """Return why `value` stored under `key` does not fit a store of `kind` ("" if it fits)."""
    if kind in ("signal", "schedule"):
        return "" if value is None else signal_problem(value)
    try:
        doc = _MODELS[kind].model_validate(value)
    except ValidationError as exc:
        return _explain(exc)
    if isinstance(doc, HistoryDoc):
        if not key.endswith(f":{doc.action}"):
            return f"the key does not end with the entry's action {doc.action!r}"
        return signal_problem(value["signal"])
    if isinstance(doc, JournalDoc):
        if not key.startswith(f"{doc.signal.id}:{doc.event}"):
            return f"the key does not start with the entry's signal and event {doc.event!r}"
        return signal_problem(value["signal"])
    return ""


def check_store(store: PersistBase, kind: Kind) -> None:
    """Parse every value of `store` as a `kind` value; set the store aside at the first misfit.

    A `null` signal or schedule value is the mark an earlier version left when it cleared
    a signal; recovery checks it against the history (`LiveSession.recover`).

    Raises:
        StateError: a value does not fit; the store was quarantined and the error names the
            file (or adapter), the entry and the fix.
    """
    for key, value in store.items():
        problem = value_problem(kind, key, value)
        if problem:
            shown = repr(value)
            shown = shown if len(shown) <= 160 else shown[:157] + "..."
            raise store.quarantine(f"entry {key!r} is not a {kind} value ({problem}): {shown}")


def finite_speed(speed: float) -> float:
    """Return `speed` if it is a finite number above 0.

    Raises:
        ConfigError: it is not; the message names the option and a value that works.
    """
    if isinstance(speed, int | float) and math.isfinite(speed) and speed > 0:
        return float(speed)
    raise ConfigError(
        f"--speed must be a finite number above 0 (how many times faster than real time the "
        f"demo market runs), was {speed!r}: give for example --speed 60, or leave it out for "
        "real time"
    )
