"""Position sizing: `add_sizing`, `list_sizings` and `PositionSize` (docs/semantics.md#sizing).

A sizing turns an account balance and prices into a quantity of the asset to buy or sell.
The backtest engine itself never sizes positions; strategies and users call `PositionSize`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.core.errors import ConfigError
from engine.core.registry import Registry
from engine.core.schemas import Fn, Schema

FIXED_PERCENTAGE = "fixed-percentage"
KELLY_CRITERION = "kelly-criterion"
ATR_BASED = "atr-based"
METHODS = (FIXED_PERCENTAGE, KELLY_CRITERION, ATR_BASED)


class SizingCallbacks(Schema):
    """Optional hooks of a sizing: `on_calculate(quantity, params)` after each calculation."""

    on_calculate: Fn | None = None


class SizingSchema(Schema):
    """A sizing method with its parameters and optional limits on the quantity.

    `risk_percentage` (percent of the balance risked per trade) is required by
    `fixed-percentage` and `atr-based`; `kelly_multiplier` scales the Kelly fraction
    (0.25 = quarter Kelly); `atr_multiplier` sets the stop distance in ATRs. Limits apply in
    order: `max_position_percentage` (percent of the balance), `min_position_size`,
    `max_position_size` (units of the asset).
    """

    sizing_name: str | None = None
    note: str | None = None
    method: str | None = None
    risk_percentage: float | None = None
    kelly_multiplier: float = 0.25
    atr_multiplier: float = 2.0
    max_position_percentage: float | None = None
    min_position_size: float | None = None
    max_position_size: float | None = None
    callbacks: SizingCallbacks | None = None

    def check(self) -> None:
        """Raise the upstream text for a missing field, or a clear one for an unknown method."""
        prefix = "sizing schema validation failed:"
        name = self.sizing_name
        if not name:
            raise ConfigError(f"{prefix} missing sizingName")
        if not self.method:
            raise ConfigError(f"{prefix} missing method for sizingName={name}")
        if self.method not in METHODS:
            raise ConfigError(
                f"{prefix} method {self.method!r} for sizingName={name} is not supported; "
                f"use one of {', '.join(METHODS)}"
            )
        if self.method in (FIXED_PERCENTAGE, ATR_BASED) and self.risk_percentage is None:
            raise ConfigError(
                f"{prefix} missing riskPercentage for {self.method} sizing (sizingName={name})"
            )


@dataclass(frozen=True, slots=True)
class SizingParams:
    """The inputs of one calculation, as passed to `on_calculate`.

    `price_stop_loss` is set for fixed-percentage, `win_rate` and `win_loss_ratio` for
    kelly-criterion, `atr` for atr-based.
    """

    method: str
    symbol: str
    account_balance: float
    price_open: float
    price_stop_loss: float | None = None
    win_rate: float | None = None
    win_loss_ratio: float | None = None
    atr: float | None = None


sizings: Registry[SizingSchema] = Registry("sizing", "sizing_name")


def add_sizing(schema: Any = None, /, **fields: Any) -> None:
    """Register a sizing (a `SizingSchema`, a mapping, or keyword fields)."""
    model = SizingSchema.build("sizing", schema, fields)
    if model.sizing_name and sizings.has(model.sizing_name):
        raise ConfigError(f"sizing {model.sizing_name} already exist")
    model.check()
    sizings.add(model)


def list_sizings() -> list[SizingSchema]:
    """Return the registered sizings."""
    return sizings.list()


def _base_quantity(schema: SizingSchema, p: SizingParams) -> float:
    if p.method == FIXED_PERCENTAGE:
        assert schema.risk_percentage is not None and p.price_stop_loss is not None
        risk = p.account_balance * (schema.risk_percentage / 100)
        distance = abs(p.price_open - p.price_stop_loss)
        if distance == 0:
            raise ConfigError("Stop-loss distance cannot be zero")
        return risk / distance
    if p.method == KELLY_CRITERION:
        assert p.win_rate is not None and p.win_loss_ratio is not None
        if p.win_rate <= 0 or p.win_rate >= 1:
            raise ConfigError("winRate must be between 0 and 1")
        if p.win_loss_ratio <= 0:
            raise ConfigError("winLossRatio must be positive")
        kelly = (p.win_rate * p.win_loss_ratio - (1 - p.win_rate)) / p.win_loss_ratio
        return (p.account_balance * (max(0.0, kelly) * schema.kelly_multiplier)) / p.price_open
    assert schema.risk_percentage is not None and p.atr is not None
    if p.atr <= 0:
        raise ConfigError("ATR must be positive")
    return p.account_balance * (schema.risk_percentage / 100) / (p.atr * schema.atr_multiplier)


def _calculate(params: SizingParams, sizing_name: str, source: str) -> float:
    schema = sizings.get(sizing_name, source)
    if schema.method != params.method:
        raise ConfigError(
            f'Sizing method mismatch: sizing "{sizing_name}" is configured as '
            f'"{schema.method}" but "{params.method}" was requested at source={source}'
        )
    quantity = _base_quantity(schema, params)
    if schema.max_position_percentage is not None:
        cap = params.account_balance * schema.max_position_percentage / 100 / params.price_open
        quantity = min(quantity, cap)
    if schema.min_position_size is not None:
        quantity = max(quantity, schema.min_position_size)
    if schema.max_position_size is not None:
        quantity = min(quantity, schema.max_position_size)
    if schema.callbacks is not None and schema.callbacks.on_calculate is not None:
        schema.callbacks.on_calculate(quantity, params)
    return quantity


def _sizing_name(context: Mapping[str, Any] | None, sizing_name: str | None, source: str) -> str:
    """Return the sizing named by keyword or by upstream's context object."""
    if context is not None and not isinstance(context, Mapping):
        raise ConfigError(
            f"{source}: the context must be a mapping such as {{'sizingName': 'fixed'}}, "
            f"was {context!r}"
        )
    named = context or {}
    from_context = named.get("sizingName", named.get("sizing_name"))
    if sizing_name is not None and from_context is not None and sizing_name != from_context:
        raise ConfigError(
            f"{source}: sizing_name={sizing_name!r} and the context's sizingName "
            f"{from_context!r} disagree; give one of them"
        )
    name = sizing_name if sizing_name is not None else from_context
    if not name:
        raise ConfigError(
            f"{source}: no sizing named; pass sizing_name='fixed' or, as upstream, a context "
            "object {'sizingName': 'fixed'} after the prices"
        )
    return str(name)


class PositionSizeUtils:
    """Compute position sizes with a registered sizing (upstream's `PositionSize`).

    Every method returns a quantity in units of the asset (not money) and raises
    `ConfigError` when the sizing is unknown, uses another method, or an input is invalid.
    """

    def fixed_percentage(
        self,
        symbol: str,
        account_balance: float,
        price_open: float,
        price_stop_loss: float,
        context: Mapping[str, Any] | None = None,
        *,
        sizing_name: str | None = None,
    ) -> float:
        """Risk `risk_percentage` of the balance between entry and stop loss.

        The sizing is named by `sizing_name=` or, as upstream, by a context object
        (`{"sizingName": "fixed"}`) after the prices.
        """
        params = SizingParams(
            FIXED_PERCENTAGE, symbol, account_balance, price_open, price_stop_loss=price_stop_loss
        )
        source = "PositionSize.fixed_percentage"
        return _calculate(params, _sizing_name(context, sizing_name, source), source)

    def kelly_criterion(
        self,
        symbol: str,
        account_balance: float,
        price_open: float,
        win_rate: float,
        win_loss_ratio: float,
        context: Mapping[str, Any] | None = None,
        *,
        sizing_name: str | None = None,
    ) -> float:
        """Invest the Kelly fraction (times `kelly_multiplier`) of the balance.

        `win_rate` is a fraction strictly between 0 and 1; `win_loss_ratio` is the average
        win over the average loss. A negative edge gives 0. The sizing is named by
        `sizing_name=` or by upstream's context object (`{"sizingName": "kelly"}`).
        """
        params = SizingParams(
            KELLY_CRITERION,
            symbol,
            account_balance,
            price_open,
            win_rate=win_rate,
            win_loss_ratio=win_loss_ratio,
        )
        source = "PositionSize.kelly_criterion"
        return _calculate(params, _sizing_name(context, sizing_name, source), source)

    def atr_based(
        self,
        symbol: str,
        account_balance: float,
        price_open: float,
        atr: float,
        context: Mapping[str, Any] | None = None,
        *,
        sizing_name: str | None = None,
    ) -> float:
        """Risk `risk_percentage` of the balance over a stop `atr_multiplier` ATRs away.

        The sizing is named by `sizing_name=` or by upstream's context object
        (`{"sizingName": "atr"}`).
        """
        params = SizingParams(ATR_BASED, symbol, account_balance, price_open, atr=atr)
        source = "PositionSize.atr_based"
        return _calculate(params, _sizing_name(context, sizing_name, source), source)


PositionSize = PositionSizeUtils()
