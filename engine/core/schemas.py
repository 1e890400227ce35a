"""Registration schemas: pydantic models with snake_case fields that accept camelCase too."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from engine.core.asyncs import syncify
from engine.core.errors import ConfigError
from engine.core.intervals import FRAME_INTERVALS

M = TypeVar("M", bound="Schema")


class Schema(BaseModel):
    """Base of every schema: frozen, camelCase aliases, unknown fields rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        arbitrary_types_allowed=True,
        extra="forbid",
        frozen=True,
    )

    @classmethod
    def build(cls: type[M], kind: str, schema: Any, fields: Mapping[str, Any]) -> M:
        """Build from a model, a mapping or keyword fields; explain any bad field."""
        if isinstance(schema, cls) and not fields:
            return schema
        data: dict[str, Any] = {}
        if isinstance(schema, BaseModel):
            data.update(schema.model_dump(exclude_unset=True))
        elif isinstance(schema, Mapping):
            data.update(schema)
        elif schema is not None:
            raise ConfigError(
                f"add_{kind} takes a schema, a mapping or keyword fields, "
                f"was {type(schema).__name__}"
            )
        data.update(fields)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(_explain(kind, cls, exc)) from None


def _explain(kind: str, cls: type[Schema], exc: ValidationError) -> str:
    known = [*cls.model_fields, *(f.alias for f in cls.model_fields.values() if f.alias)]
    lines = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(schema)"
        if err["type"] == "extra_forbidden":
            hint = difflib.get_close_matches(field, known, n=1)
            fix = (
                f"did you mean {hint[0]!r}?"
                if hint
                else f"known fields: {', '.join(cls.model_fields)}"
            )
            lines.append(f"unknown field {field!r} ({fix})")
        else:
            lines.append(f"field {field!r} was {err.get('input')!r}: {err['msg']}")
    return f"{kind} schema validation failed: " + "; ".join(lines)


Fn = Annotated[Callable[..., Any], AfterValidator(syncify)]
"""A user function; an `async def` one is wrapped to run to completion (engine.core.asyncs)."""


class StrategyCallbacks(Schema):
    """Optional hooks of a strategy: each receives `(symbol, ..., backtest)` like upstream.

    In a backtest every hook is called at once, as upstream does. In a live run the
    lifecycle hooks (`on_schedule`, `on_open`, `on_partial_profit`, `on_partial_loss`,
    `on_close`, `on_cancel`) are where you place real orders, and the engine promises:

    * **Written first.** The change is saved (signal file, history, then the journal
      `data/journal/<symbol>_<strategy>`) before the hook runs. If it cannot be saved
      (read-only folder, full disk) the hook does not run, nothing changes in memory and
      the run stops with a `StateWriteError` naming the file.
    * **At least once, with a key.** `engine.current_delivery()` inside the hook returns a
      `Delivery` whose `key` (`"<signal id>:opened"`, `"<id>:closed"`,
      `"<id>:partial_profit:20"`, …) is the same at every delivery of that change, and so
      are the signal and the prices the hook is given. Use the key as your order's client
      id: a repeated delivery (`delivery.redelivery` is True) must not place a second order.
    * **Acknowledged when it returns.** A hook that returns is never called again for that
      change. One that raises is reported (`listen_error`) and called again, with the same
      key and prices, at the next tick and after a restart, until it returns; a process
      killed during a hook calls it again on the next start.
    * **In order.** Changes are delivered in the order they happened, each only after the
      one before it returned: `on_close` of a signal never comes before its `on_open`.
    * `on_partial_profit` / `on_partial_loss` are called once per level reached (10 %,
      20 %, … of the price move; live only, a backtest calls them on every candle).
    * `on_tick`, `on_active` and `on_idle` are per-tick notices, not journaled: a stop can
      skip or repeat one, and `current_delivery()` is None in them. After a restart
      `on_active` is called once for the resumed open signal.

    Attributes:
        on_tick: `(symbol, result, backtest)` after every tick.
        on_open: `(symbol, signal, price_open, backtest)` when a position opens.
        on_active: `(symbol, signal, price, backtest)` on each tick of an open position.
        on_idle: `(symbol, price, backtest)` on each tick with no signal.
        on_close: `(symbol, signal, close_price, backtest)` when a position closes.
        on_schedule: `(symbol, signal, price, backtest)` when a limit entry is scheduled
            (`price` is the market price then).
        on_cancel: `(symbol, signal, price, backtest)` when a scheduled entry is cancelled.
        on_partial_profit: `(symbol, signal, price, revenue_percent, backtest)`.
        on_partial_loss: `(symbol, signal, price, loss_percent, backtest)`.
        on_write: `(symbol, signal_or_none, backtest)` in live runs, each time the open
            signal is saved to the state directory (a new one is on disk when it is
            called; `None` is the close, cleared from disk by the end of that tick).
            Never in backtests, which write no state (upstream's `onWrite`, there mostly a
            testing aid).
    """

    on_tick: Fn | None = None
    on_open: Fn | None = None
    on_active: Fn | None = None
    on_idle: Fn | None = None
    on_close: Fn | None = None
    on_schedule: Fn | None = None
    on_cancel: Fn | None = None
    on_partial_profit: Fn | None = None
    on_partial_loss: Fn | None = None
    on_write: Fn | None = None


def _check_indicators(declared: list[Any] | None) -> list[Any] | None:
    """Check each declared indicator (`{"name", "interval", "params"}`) and normalise it.

    See docs/indicators.md; the values are computed at their first `indicator()` lookup.
    """
    if declared is None:
        return None
    from engine.sim.indicators import check

    specs = []
    for i, item in enumerate(declared):
        if not isinstance(item, Mapping) or set(item) - {"name", "interval", "params"}:
            raise ConfigError(
                f"strategy schema: indicators[{i}]={item!r} must be a dict with keys name, "
                "interval and params, e.g. {'name': 'RSI', 'interval': '15m', "
                "'params': {'timeperiod': 14}}"
            )
        specs.append(check(item.get("name", ""), item.get("interval", ""), item.get("params", {})))
    return specs


class StrategySchema(Schema):
    """A strategy: `get_signal(symbol, when)` called at most once per `interval`.

    `sizing_name` names a sizing (`add_sizing`) that sizes its positions in the account
    (`Backtest.get_account`); without one a position takes the whole equity.
    """

    strategy_name: str | None = None
    interval: str | None = None
    get_signal: Fn | None = None
    note: str | None = None
    callbacks: StrategyCallbacks | None = None
    risk_name: str | None = None
    sizing_name: str | None = None
    indicators: Annotated[list[Any] | None, AfterValidator(_check_indicators)] = None

    def check(self) -> None:
        """Raise the upstream text for a missing required field."""
        prefix = "strategy schema validation failed:"
        if not self.strategy_name:
            raise ConfigError(f"{prefix} missing strategyName")
        if not self.interval:
            raise ConfigError(f"{prefix} missing interval for strategyName={self.strategy_name}")
        if not callable(self.get_signal):
            raise ConfigError(f"{prefix} missing getSignal for strategyName={self.strategy_name}")


class ExchangeCallbacks(Schema):
    """Optional hooks of an exchange."""

    on_candle_data: Fn | None = None


class ExchangeSchema(Schema):
    """A candle source: `get_candles(symbol, interval, since, limit)` plus formatting."""

    exchange_name: str | None = None
    get_candles: Fn | None = None
    format_price: Fn | None = None
    format_quantity: Fn | None = None
    note: str | None = None
    callbacks: ExchangeCallbacks | None = None

    def check(self) -> None:
        """Raise the upstream text for a missing required field."""
        prefix = "exchange schema validation failed:"
        name = self.exchange_name
        if not name:
            raise ConfigError(f"{prefix} missing exchangeName")
        for field, label in (
            ("get_candles", "getCandles"),
            ("format_price", "formatPrice"),
            ("format_quantity", "formatQuantity"),
        ):
            if not callable(getattr(self, field)):
                raise ConfigError(f"{prefix} missing {label} for exchangeName={name}")


class FrameCallbacks(Schema):
    """Optional hooks of a frame."""

    on_timeframe: Fn | None = None


class FrameSchema(Schema):
    """A backtest period: times from `start_date` to `end_date` (inclusive) every `interval`."""

    frame_name: str | None = None
    interval: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    note: str | None = None
    callbacks: FrameCallbacks | None = None

    def check(self) -> None:
        """Raise the upstream text for a missing field, or a clear one for a bad value."""
        prefix = "frame schema validation failed:"
        name = self.frame_name
        if not name:
            raise ConfigError(f"{prefix} missing frameName")
        if not self.interval:
            raise ConfigError(f"{prefix} missing interval for frameName={name}")
        if self.start_date is None:
            raise ConfigError(f"{prefix} missing startDate for frameName={name}")
        if self.end_date is None:
            raise ConfigError(f"{prefix} missing endDate for frameName={name}")
        if self.interval not in FRAME_INTERVALS:
            raise ConfigError(
                f"{prefix} interval {self.interval!r} for frameName={name} is not supported; "
                f"use one of {', '.join(FRAME_INTERVALS)}"
            )
        for field in ("start_date", "end_date"):
            value = getattr(self, field)
            if value.tzinfo is None:
                raise ConfigError(
                    f"{prefix} {field} {value.isoformat()} for frameName={name} has no timezone; "
                    "pass an aware datetime such as datetime(2024, 1, 1, tzinfo=timezone.utc)"
                )
        if self.end_date < self.start_date:
            raise ConfigError(
                f"{prefix} end_date {self.end_date.isoformat()} is before start_date "
                f"{self.start_date.isoformat()} for frameName={name}"
            )


class SignalDto(Schema):
    """What `get_signal` may return (a mapping with these keys works as well)."""

    position: str
    price_take_profit: float
    price_stop_loss: float
    minute_estimated_time: int
    price_open: float | None = None
    note: str | None = None
    id: str | None = None
