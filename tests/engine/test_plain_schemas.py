"""Plain schemas: plainly valid fields are taken as they are, anything else goes to pydantic.

Both ways must give the same schema, and a process that registers only plainly valid
schemas (the built-ins) never imports pydantic. See engine/core/schemas.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

import engine
from engine.core.registration import frames, risks, strategies
from engine.core.schemas import FrameSchema, StrategyCallbacks, StrategySchema, build
from engine.sim.indicators import check

pytestmark = pytest.mark.usefixtures("clean_engine")


def get_signal(symbol: str, when: datetime) -> None:
    return None


async def get_signal_async(symbol: str, when: datetime) -> None:
    return None


def on_open(*args: Any) -> None:
    return None


START = datetime(2024, 1, 1, tzinfo=UTC)
INDICATORS = [{"name": "sma", "interval": "15m", "params": {"timeperiod": 9}}]


def test_snake_case_and_camel_case_fields_give_equal_schemas() -> None:
    snake = {"strategy_name": "a", "interval": "1m", "get_signal": get_signal, "note": "n"}
    camel = {"strategyName": "a", "interval": "1m", "getSignal": get_signal, "note": "n"}
    plain = build(StrategySchema, "strategy", snake, {})
    validated = build(StrategySchema, "strategy", camel, {})
    assert plain == validated
    assert type(plain) is type(validated) is StrategySchema


def test_both_ways_wrap_async_functions_and_normalise_indicators() -> None:
    fields = {"interval": "1m", "get_signal": get_signal_async, "indicators": INDICATORS}
    plain = build(StrategySchema, "strategy", {"strategy_name": "a", **fields}, {})
    callbacks = {"onOpen": on_open}  # a dict, so pydantic validates this one
    validated = build(StrategySchema, "strategy", {"strategyName": "a", **fields}, {})
    nested = build(StrategySchema, "strategy", {"strategy_name": "a", "callbacks": callbacks}, {})
    for schema in (plain, validated):
        assert schema.get_signal is not get_signal_async
        assert schema.get_signal.__engine_async__ is get_signal_async  # type: ignore[union-attr]
        assert schema.get_signal("BTCUSDT", START) is None  # runs the coroutine to its end
        assert schema.indicators == [check("SMA", "15m", {"timeperiod": 9})]
    assert nested.callbacks == StrategyCallbacks(on_open=on_open)


def test_a_schema_built_again_keeps_its_checked_values() -> None:
    first = build(StrategySchema, "strategy", {"strategy_name": "a", "indicators": INDICATORS}, {})
    again = build(StrategySchema, "strategy", first, {"note": "renamed"})
    assert again.indicators == first.indicators and again.note == "renamed"
    assert build(StrategySchema, "strategy", first, {}) is first


def test_values_pydantic_would_convert_are_converted() -> None:
    schema = build(FrameSchema, "frame", {"frame_name": "f", "start_date": "2024-01-01T00:00Z"}, {})
    assert schema.start_date == START


def test_a_datetime_with_any_timezone_is_kept_as_given() -> None:
    east = datetime(2024, 1, 1, 3, tzinfo=timezone(timedelta(hours=3)))
    engine.add_frame(frame_name="east", interval="1m", start_date=east, end_date=east)
    assert frames.get("east", "test").start_date is east


def test_a_bad_value_in_a_plain_looking_schema_is_explained_by_pydantic() -> None:
    bad = [{"name": "SMAX", "interval": "15m"}]
    with pytest.raises(engine.ConfigError) as info:
        engine.add_strategy(strategy_name="a", interval="1m", get_signal=get_signal, indicators=bad)
    assert str(info.value).startswith(
        "strategy schema validation failed: field 'indicators' was [{'name': 'SMAX', "
        "'interval': '15m'}]: Value error, indicator name 'SMAX' is not a TA-Lib function; "
        "did you mean 'SMA'?"
    )
    assert not strategies.has("a")


def test_risk_callbacks_accept_camel_case_and_keep_functions_as_given() -> None:
    engine.add_risk(risk_name="r", validations=[on_open], callbacks={"onRejected": on_open})
    callbacks = risks.get("r", "test").callbacks
    assert callbacks is not None and callbacks.on_rejected is on_open


def loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running `code`."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_registering_the_built_ins_and_running_one_imports_no_pydantic_nor_talib() -> None:
    modules = loaded_after(
        "import engine\n"
        "from engine.strategies import register_builtin_strategies\n"
        "register_builtin_strategies()\n"
        "closed = [r for r in engine.Backtest.run('BTCUSDT', strategy_name='bracket', "
        "exchange_name='demo', frame_name='demo-7d') if r.action == 'closed']\n"
        "assert closed\n"
        "engine.Backtest.get_account('BTCUSDT', 'bracket')\n"
    )
    assert "engine.sim.backtest" in modules
    assert not {m for m in modules if m.split(".")[0] in {"pydantic", "pydantic_core", "talib"}}


def test_a_camel_case_schema_loads_pydantic_on_demand() -> None:
    modules = loaded_after(
        "import engine\n"
        "engine.add_strategy(strategyName='a', interval='1m', getSignal=lambda s, w: None)\n"
    )
    assert "pydantic" in modules and "engine.core.pydantic_models" in modules


def test_the_pydantic_names_are_still_importable() -> None:
    from engine.core.schemas import Fn, Schema, SignalDto

    assert engine.SignalDto is SignalDto and issubclass(SignalDto, Schema)
    assert Fn is not None
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = engine.core.schemas.Nope  # type: ignore[attr-defined]


def test_the_built_ins_declare_the_indicator_specs_their_check_gives() -> None:
    from engine.strategies import BUILTIN, known_valid, register_builtin_strategies

    register_builtin_strategies()
    for module in BUILTIN:
        declared = module.SCHEMA.get("indicators") or []
        checked = [check(d["name"], d["interval"], d["params"]) for d in declared]
        assert (known_valid(module.SCHEMA).get("indicators") or []) == checked
        assert (strategies.get(module.NAME, "test").indicators or []) == checked
    assert strategies.get("sma_rsi", "test").indicators  # the check above compared something


def test_model_copy_changes_the_given_fields_and_checks_them() -> None:
    schema = build(StrategySchema, "strategy", {"strategy_name": "a", "interval": "1m"}, {})
    copy = schema.model_copy(update={"get_signal": get_signal_async, "note": "copied"})
    assert (copy.strategy_name, copy.interval, copy.note) == ("a", "1m", "copied")
    assert copy.get_signal.__engine_async__ is get_signal_async  # type: ignore[union-attr]
    assert schema.get_signal is None and schema.note is None  # the original is unchanged
    assert schema.model_copy() == schema
