"""Registration schemas: frozen dataclasses with snake_case fields that accept camelCase too.

Registering one (`build`) takes plainly valid fields as they are: snake_case keys whose values
have their field's type (the built-in strategies, exchanges and frames). Anything else (a
camelCase key, a value to convert such as an ISO date string, a wrong value) is validated by
pydantic, which converts it or explains each bad field (engine.core.pydantic_models), so a
headless backtest of the built-ins never imports pydantic.

`Schema`, `Fn` and `SignalDto`, the pydantic side, load from engine.core.pydantic_models on
first use.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Self, TypeVar, Union, get_args, get_origin, get_type_hints

from engine.core.asyncs import syncify
from engine.core.errors import ConfigError
from engine.core.intervals import FRAME_INTERVALS
from engine.core.lazy import lazy_names

T = TypeVar("T")

__getattr__ = lazy_names(
    __name__, dict.fromkeys(("Schema", "Fn", "SignalDto"), "engine.core.pydantic_models"), globals()
)
"""`Schema`, `Fn` and `SignalDto` load from engine.core.pydantic_models on first use."""


@dataclass(frozen=True)
class Check:
    """Field metadata (`Annotated[type, Check(fn)]`): `fn` checks and normalises the value."""

    fn: Callable[[Any], Any]


UserFunction = Annotated[Callable[..., Any] | None, Check(syncify)]
"""A user function; an `async def` one is wrapped to run to completion (engine.core.asyncs)."""


class _Checked:
    """Runs each field's `Check` at construction, however the schema is built."""

    def __post_init__(self) -> None:
        for name, check in _checks(type(self)).items():
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, check(value))

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> Self:
        """Return a copy with the fields of `update` changed (and checked), as pydantic's.

        Kept for code written when the schemas were pydantic models.
        """
        return dataclasses.replace(self, **(update or {}))  # type: ignore[type-var]  # subclasses are dataclasses


def hints(cls: type) -> dict[str, Any]:
    """Return the field types of the schema `cls`, `Annotated` checks included."""
    found = _HINTS.get(cls)
    if found is None:
        found = _HINTS[cls] = get_type_hints(cls, include_extras=True)
    return found


_HINTS: dict[type, dict[str, Any]] = {}


def _checks(cls: type) -> dict[str, Callable[[Any], Any]]:
    return {
        name: extra.fn
        for name, hint in hints(cls).items()
        if get_origin(hint) is Annotated
        for extra in hint.__metadata__
        if isinstance(extra, Check)
    }


def build(cls: type[T], kind: str, schema: Any, fields: Mapping[str, Any]) -> T:
    """Build the schema `cls` from a schema, a mapping or keyword fields; explain any bad field.

    Raises:
        ConfigError: `schema` is of the wrong kind, or a field is unknown or invalid (the text
            names each one).
    """
    if isinstance(schema, cls) and not fields:
        return schema
    data = given_fields(cls, kind, schema, fields)
    if _plainly_valid(cls, data):
        try:
            return cls(**data)
        except ConfigError:
            pass  # a field check refused it: pydantic words the error as for any other field
    from engine.core.pydantic_models import validate_plain

    return validate_plain(cls, kind, data)


def given_fields(cls: type, kind: str, schema: Any, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Return the fields of `schema` (a `cls`, a pydantic model or a mapping) updated by `fields`.

    Raises:
        ConfigError: `schema` is none of those (nor None).
    """
    data: dict[str, Any] = {}
    if hasattr(schema, "model_dump"):  # a pydantic model: the fields it was given
        data.update(schema.model_dump(exclude_unset=True))
    elif isinstance(schema, cls):
        data.update(vars(schema))  # a plain schema's fields
    elif isinstance(schema, Mapping):
        data.update(schema)
    elif schema is not None:
        raise ConfigError(
            f"add_{kind} takes a schema, a mapping or keyword fields, was {type(schema).__name__}"
        )
    data.update(fields)
    return data


def _plainly_valid(cls: type, data: Mapping[str, Any]) -> bool:
    """Tell whether pydantic would take every field of `data` unchanged (no alias, no cast)."""
    types_of = hints(cls)
    return all(name in types_of and _plain(value, types_of[name]) for name, value in data.items())


def _plain(value: Any, hint: Any) -> bool:
    """Tell whether `value` is already of type `hint`, as pydantic would leave it."""
    if get_origin(hint) is Annotated:
        return _plain(value, hint.__origin__)
    if hint is Any:
        return True
    if get_origin(hint) in (Union, types.UnionType):
        return any(_plain(value, arg) for arg in get_args(hint))
    if hint is type(None):
        return value is None
    if get_origin(hint) is Callable:
        return callable(value)
    if get_origin(hint) is list:
        return type(value) is list
    if dataclasses.is_dataclass(hint):
        return isinstance(value, hint)  # type: ignore[arg-type]  # a class here
    return type(value) is hint  # str, datetime: exactly, not a subclass pydantic would convert


@dataclass(frozen=True)
class StrategyCallbacks(_Checked):
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

    on_tick: UserFunction = None
    on_open: UserFunction = None
    on_active: UserFunction = None
    on_idle: UserFunction = None
    on_close: UserFunction = None
    on_schedule: UserFunction = None
    on_cancel: UserFunction = None
    on_partial_profit: UserFunction = None
    on_partial_loss: UserFunction = None
    on_write: UserFunction = None


def _check_indicators(declared: list[Any]) -> list[Any]:
    """Check each declared indicator (`{"name", "interval", "params"}`) and normalise it.

    Specs already normalised (a schema built again) are kept. See docs/indicators.md; the
    values are computed at their first `indicator()` lookup.
    """
    from engine.sim.indicators import IndicatorSpec, check

    specs = []
    for i, item in enumerate(declared):
        if isinstance(item, IndicatorSpec):
            specs.append(item)
            continue
        if not isinstance(item, Mapping) or set(item) - {"name", "interval", "params"}:
            raise ConfigError(
                f"strategy schema: indicators[{i}]={item!r} must be a dict with keys name, "
                "interval and params, e.g. {'name': 'RSI', 'interval': '15m', "
                "'params': {'timeperiod': 14}}"
            )
        specs.append(check(item.get("name", ""), item.get("interval", ""), item.get("params", {})))
    return specs


@dataclass(frozen=True)
class StrategySchema(_Checked):
    """A strategy: `get_signal(symbol, when)` called at most once per `interval`.

    `sizing_name` names a sizing (`add_sizing`) that sizes its positions in the account
    (`Backtest.get_account`); without one a position takes the whole equity.
    """

    strategy_name: str | None = None
    interval: str | None = None
    get_signal: UserFunction = None
    note: str | None = None
    callbacks: StrategyCallbacks | None = None
    risk_name: str | None = None
    sizing_name: str | None = None
    indicators: Annotated[list[Any] | None, Check(_check_indicators)] = None

    def check(self) -> None:
        """Raise the upstream text for a missing required field."""
        prefix = "strategy schema validation failed:"
        if not self.strategy_name:
            raise ConfigError(f"{prefix} missing strategyName")
        if not self.interval:
            raise ConfigError(f"{prefix} missing interval for strategyName={self.strategy_name}")
        if not callable(self.get_signal):
            raise ConfigError(f"{prefix} missing getSignal for strategyName={self.strategy_name}")


@dataclass(frozen=True)
class ExchangeCallbacks(_Checked):
    """Optional hooks of an exchange."""

    on_candle_data: UserFunction = None


@dataclass(frozen=True)
class ExchangeSchema(_Checked):
    """A candle source: `get_candles(symbol, interval, since, limit)` plus formatting."""

    exchange_name: str | None = None
    get_candles: UserFunction = None
    format_price: UserFunction = None
    format_quantity: UserFunction = None
    note: str | None = None
    callbacks: ExchangeCallbacks | None = None

    def check(self) -> None:
        """Raise the upstream text for a missing required field."""
        prefix = "exchange schema validation failed:"
        name = self.exchange_name
        if not name:
            raise ConfigError(f"{prefix} missing exchangeName")
        for item, label in (
            ("get_candles", "getCandles"),
            ("format_price", "formatPrice"),
            ("format_quantity", "formatQuantity"),
        ):
            if not callable(getattr(self, item)):
                raise ConfigError(f"{prefix} missing {label} for exchangeName={name}")


@dataclass(frozen=True)
class FrameCallbacks(_Checked):
    """Optional hooks of a frame."""

    on_timeframe: UserFunction = None


@dataclass(frozen=True)
class FrameSchema(_Checked):
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
        for date_field in ("start_date", "end_date"):
            value = getattr(self, date_field)
            if value.tzinfo is None:
                raise ConfigError(
                    f"{prefix} {date_field} {value.isoformat()} for frameName={name} has no "
                    "timezone; pass an aware datetime such as "
                    "datetime(2024, 1, 1, tzinfo=timezone.utc)"
                )
        if self.end_date < self.start_date:
            raise ConfigError(
                f"{prefix} end_date {self.end_date.isoformat()} is before start_date "
                f"{self.start_date.isoformat()} for frameName={name}"
            )


@dataclass(frozen=True)
class RiskCallbacks(_Checked):
    """Optional hooks of a risk profile."""

    on_rejected: Callable[..., Any] | None = None
    on_allowed: Callable[..., Any] | None = None


@dataclass(frozen=True)
class RiskSchema(_Checked):
    """A risk profile: validations that raise to reject a signal."""

    risk_name: str | None = None
    validations: Any = None
    note: str | None = None
    callbacks: RiskCallbacks | None = None

    def check(self) -> None:
        """Raise the upstream text for a missing or malformed field."""
        prefix = "risk schema validation failed:"
        if not self.risk_name:
            raise ConfigError(f"{prefix} missing riskName")
        if not isinstance(self.validations, list | tuple):
            raise ConfigError(f"{prefix} validations is not an array for riskName={self.risk_name}")
        for v in self.validations:
            fn = v.get("validate") if isinstance(v, dict) else v
            if not callable(fn):
                raise ConfigError(f"{prefix} invalid validations for riskName={self.risk_name}")
