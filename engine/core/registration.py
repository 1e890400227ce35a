"""`add_*` and `list_*`: the registries of strategies, exchanges, frames and risk profiles."""

from __future__ import annotations

from typing import Any

from engine.core.asyncs import syncify
from engine.core.errors import ConfigError
from engine.core.registry import Registry
from engine.core.schemas import ExchangeSchema, FrameSchema, RiskSchema, StrategySchema, build
from engine.sim.risk import ClientRisk, NoRisk, Risk

strategies: Registry[StrategySchema] = Registry("strategy", "strategy_name")
exchanges: Registry[ExchangeSchema] = Registry("exchange", "exchange_name")
frames: Registry[FrameSchema] = Registry("frame", "frame_name")


risks: Registry[RiskSchema] = Registry("risk", "risk_name")
_risk_clients: dict[str, ClientRisk] = {}


def _add(registry: Registry[Any], cls: type[Any], kind: str, schema: Any, fields: Any) -> None:
    model = build(cls, kind, schema, fields)
    name = getattr(model, registry.name_field)
    if name and registry.has(name):
        raise ConfigError(f"{kind} {name} already exist")
    model.check()
    registry.add(model)


def add_strategy(schema: Any = None, /, **fields: Any) -> None:
    """Register a strategy (a `StrategySchema`, a mapping, or keyword fields)."""
    _add(strategies, StrategySchema, "strategy", schema, fields)


def add_exchange(schema: Any = None, /, **fields: Any) -> None:
    """Register an exchange: `get_candles`, `format_price`, `format_quantity`."""
    _add(exchanges, ExchangeSchema, "exchange", schema, fields)


def add_frame(schema: Any = None, /, **fields: Any) -> None:
    """Register a backtest period: `interval`, `start_date`, `end_date` (aware datetimes)."""
    _add(frames, FrameSchema, "frame", schema, fields)


def add_risk(schema: Any = None, /, **fields: Any) -> None:
    """Register a risk profile shared by the strategies that name it."""
    _add(risks, RiskSchema, "risk", schema, fields)


def list_strategies() -> list[StrategySchema]:
    """Return the registered strategies."""
    return strategies.list()


def list_exchanges() -> list[ExchangeSchema]:
    """Return the registered exchanges."""
    return exchanges.list()


def list_frames() -> list[FrameSchema]:
    """Return the registered frames."""
    return frames.list()


def list_risks() -> list[RiskSchema]:
    """Return the registered risk profiles."""
    return risks.list()


def risk_client(risk_name: str | None, source: str, fresh: bool = False) -> Risk:
    """Return the shared risk client of `risk_name` (a new one when `fresh`)."""
    if not risk_name:
        return NoRisk()
    schema = risks.get(risk_name, source)
    if fresh or risk_name not in _risk_clients:
        validations = [
            syncify(v["validate"] if isinstance(v, dict) else v) for v in schema.validations or []
        ]
        _risk_clients[risk_name] = ClientRisk(risk_name, validations, schema.callbacks)
    return _risk_clients[risk_name]
