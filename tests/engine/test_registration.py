"""Registration: upstream's error texts, camelCase schemas, clear errors for typos.

See docs/semantics.md#registration.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

import engine
from engine import ConfigError
from tests.engine.helpers import MIN, SYMBOL, T0, add_exchange, add_frame, dt, flat, once, run

pytestmark = pytest.mark.usefixtures("clean_engine")

ROWS = flat(T0 - 10 * MIN, 100)


def get_signal(symbol: str, when: datetime) -> None:
    return None


def get_candles(symbol: str, interval: str, since: datetime, limit: int) -> list:
    return []


def fmt(symbol: str, value: float) -> str:
    return str(value)


START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2024, 1, 2, tzinfo=UTC)


def error_of(fn: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ConfigError) as info:
        fn(*args, **kwargs)
    return str(info.value)


# ----- upstream's registration texts ----------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        (
            {"interval": "1m", "get_signal": get_signal},
            "strategy schema validation failed: missing strategyName",
        ),
        (
            {"strategy_name": "a", "get_signal": get_signal},
            "strategy schema validation failed: missing interval for strategyName=a",
        ),
        (
            {"strategy_name": "a", "interval": "1m"},
            "strategy schema validation failed: missing getSignal for strategyName=a",
        ),
    ],
)
def test_strategy_missing_fields(fields: dict[str, Any], text: str) -> None:
    assert error_of(engine.add_strategy, **fields) == text
    assert engine.list_strategies() == []


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        (
            {"get_candles": get_candles, "format_price": fmt, "format_quantity": fmt},
            "exchange schema validation failed: missing exchangeName",
        ),
        (
            {"exchange_name": "e", "format_price": fmt, "format_quantity": fmt},
            "exchange schema validation failed: missing getCandles for exchangeName=e",
        ),
        (
            {"exchange_name": "e", "get_candles": get_candles, "format_quantity": fmt},
            "exchange schema validation failed: missing formatPrice for exchangeName=e",
        ),
        (
            {"exchange_name": "e", "get_candles": get_candles, "format_price": fmt},
            "exchange schema validation failed: missing formatQuantity for exchangeName=e",
        ),
    ],
)
def test_exchange_missing_fields(fields: dict[str, Any], text: str) -> None:
    assert error_of(engine.add_exchange, **fields) == text


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        (
            {"interval": "1m", "start_date": START, "end_date": END},
            "frame schema validation failed: missing frameName",
        ),
        (
            {"frame_name": "f", "start_date": START, "end_date": END},
            "frame schema validation failed: missing interval for frameName=f",
        ),
        (
            {"frame_name": "f", "interval": "1m", "end_date": END},
            "frame schema validation failed: missing startDate for frameName=f",
        ),
        (
            {"frame_name": "f", "interval": "1m", "start_date": START},
            "frame schema validation failed: missing endDate for frameName=f",
        ),
    ],
)
def test_frame_missing_fields(fields: dict[str, Any], text: str) -> None:
    assert error_of(engine.add_frame, **fields) == text


def test_duplicates_already_exist() -> None:
    engine.add_strategy(strategy_name="dup", interval="1m", get_signal=get_signal)
    engine.add_exchange(
        exchange_name="dup", get_candles=get_candles, format_price=fmt, format_quantity=fmt
    )
    engine.add_frame(frame_name="dup", interval="1m", start_date=START, end_date=END)
    assert (
        error_of(engine.add_strategy, strategy_name="dup", interval="5m", get_signal=get_signal)
        == "strategy dup already exist"
    )
    assert (
        error_of(
            engine.add_exchange,
            exchange_name="dup",
            get_candles=get_candles,
            format_price=fmt,
            format_quantity=fmt,
        )
        == "exchange dup already exist"
    )
    assert (
        error_of(engine.add_frame, frame_name="dup", interval="1m", start_date=START, end_date=END)
        == "frame dup already exist"
    )
    # the first registration is kept
    (strategy,) = [s for s in engine.list_strategies() if s.strategy_name == "dup"]
    assert strategy.interval == "1m"


def test_demo_exchange_name_is_taken() -> None:
    assert (
        error_of(
            engine.add_exchange,
            exchange_name="demo",
            get_candles=get_candles,
            format_price=fmt,
            format_quantity=fmt,
        )
        == "exchange demo already exist"
    )


# ----- schema shapes --------------------------------------------------------------------------


def test_camel_case_schemas_are_accepted_and_run() -> None:
    from tests.engine.helpers import store_of

    calls: list[datetime] = []

    def gs(symbol: str, when: datetime) -> dict[str, Any] | None:
        calls.append(when)
        if len(calls) > 1:
            return None
        return {
            "position": "long",
            "priceTakeProfit": 101,
            "priceStopLoss": 99,
            "minuteEstimatedTime": 5,
        }

    engine.add_exchange(
        {
            "exchangeName": "cx",
            "getCandles": store_of(ROWS).get_candles,
            "formatPrice": fmt,
            "formatQuantity": fmt,
        }
    )
    engine.add_frame(
        {"frameName": "cf", "interval": "1m", "startDate": dt(T0), "endDate": dt(T0 + 9 * MIN)}
    )
    engine.add_strategy({"strategyName": "cs", "interval": "1m", "getSignal": gs})
    results = list(
        engine.Backtest.run(SYMBOL, {"strategyName": "cs", "exchangeName": "cx", "frameName": "cf"})
    )
    assert [r.action for r in results] == ["closed"]
    assert calls[0] == dt(T0)
    (schema,) = [s for s in engine.list_strategies() if s.strategy_name == "cs"]
    assert schema.get_signal is gs
    (frame,) = [f for f in engine.list_frames() if f.frame_name == "cf"]
    assert frame.start_date == dt(T0)


def test_unknown_schema_field_is_named_with_a_hint() -> None:
    text = error_of(engine.add_strategy, strategy_name="typo", interval="1m", get_signl=get_signal)
    assert "get_signl" in text
    assert "did you mean" in text.lower()
    assert "'get_signal'" in text or "'getSignal'" in text
    assert engine.list_strategies() == []


def test_unknown_camel_case_field_is_named_with_a_hint() -> None:
    text = error_of(
        engine.add_exchange,
        {
            "exchangeName": "e",
            "getCandles": get_candles,
            "formatPrice": fmt,
            "formatQuantity": fmt,
            "formatQuantitty": fmt,
        },
    )
    assert "formatQuantitty" in text
    assert "did you mean" in text.lower()
    assert "formatQuantity'" in text or "format_quantity'" in text


def test_naive_datetimes_are_rejected_clearly() -> None:
    text = error_of(
        engine.add_frame,
        frame_name="naive",
        interval="1m",
        start_date=datetime(2024, 1, 1),
        end_date=datetime(2024, 1, 2, tzinfo=UTC),
    )
    assert "start_date" in text or "startDate" in text
    assert "2024-01-01T00:00:00" in text
    assert "timezone" in text
    assert all(f.frame_name != "naive" for f in engine.list_frames())


# ----- names at run time ----------------------------------------------------------------------


def register_all() -> None:
    add_exchange("binance", ROWS)
    add_frame("january", T0, T0 + 5 * MIN)
    engine.add_strategy(strategy_name="bracket", interval="5m", get_signal=once())


@pytest.mark.parametrize(
    ("names", "start"),
    [
        (("brakcet", "binance", "january"), "strategy brakcet not found source=Backtest.run"),
        (("bracket", "binanse", "january"), "exchange binanse not found source=Backtest.run"),
        (("bracket", "binance", "janaury"), "frame janaury not found source=Backtest.run"),
    ],
)
def test_unknown_names_at_run_time(names: tuple[str, str, str], start: str) -> None:
    register_all()
    strategy, exchange, frame = names
    with pytest.raises(ConfigError) as info:
        run(strategy, exchange, frame)
    text = str(info.value)
    assert text.startswith(start)
    assert "Did you mean" in text
    right = {"brakcet": "bracket", "binanse": "binance", "janaury": "january"}
    wrong = next(n for n in names if n in right)
    assert repr(right[wrong]) in text or f'"{right[wrong]}"' in text


def test_unknown_name_without_close_match_still_names_it() -> None:
    register_all()
    with pytest.raises(ConfigError) as info:
        run("zzzzzz", "binance", "january")
    assert str(info.value).startswith("strategy zzzzzz not found source=Backtest.run")


def test_unknown_names_fail_before_any_frame() -> None:
    calls: list[datetime] = []
    add_exchange("binance", ROWS)
    add_frame("january", T0, T0 + 5 * MIN)
    engine.add_strategy(strategy_name="ok", interval="1m", get_signal=lambda s, w: calls.append(w))
    with pytest.raises(ConfigError):
        run("ok", "binance", "nope")
    assert calls == []


# ----- list_* ---------------------------------------------------------------------------------


def test_list_returns_what_was_registered_in_order() -> None:
    engine.add_strategy(strategy_name="one", interval="1m", get_signal=get_signal, note="first")
    engine.add_strategy(strategy_name="two", interval="15m", get_signal=get_signal)
    engine.add_exchange(
        exchange_name="ex", get_candles=get_candles, format_price=fmt, format_quantity=fmt
    )
    engine.add_frame(frame_name="fr", interval="1h", start_date=START, end_date=END)

    strategies = engine.list_strategies()
    assert [(s.strategy_name, s.interval, s.note) for s in strategies] == [
        ("one", "1m", "first"),
        ("two", "15m", None),
    ]
    assert all(s.get_signal is get_signal for s in strategies)
    (ex,) = [e for e in engine.list_exchanges() if e.exchange_name == "ex"]
    assert (ex.get_candles, ex.format_price, ex.format_quantity) == (get_candles, fmt, fmt)
    assert "demo" in [e.exchange_name for e in engine.list_exchanges()]
    (fr,) = [f for f in engine.list_frames() if f.frame_name == "fr"]
    assert (fr.interval, fr.start_date, fr.end_date) == ("1h", START, END)


def test_set_config_unknown_key_names_it_with_a_hint() -> None:
    with pytest.raises(ConfigError) as info:
        engine.set_config(CC_MIN_TAKEPROFIT_DISTANCE=0.5)
    text = str(info.value)
    assert "CC_MIN_TAKEPROFIT_DISTANCE" in text
    assert "CC_MIN_TAKEPROFIT_DISTANCE_PERCENT" in text
    assert engine.get_config()["CC_MIN_TAKEPROFIT_DISTANCE_PERCENT"] == 0.1
