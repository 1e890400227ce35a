"""Signal validation through the public API: upstream's texts (docs/semantics.md#validation)."""

from __future__ import annotations

import math
from typing import Any

import pytest

import engine
from engine import SignalDto, SignalValidationError
from tests.engine.helpers import MIN, T0, flat, long_dto, once, run, setup, short_dto

pytestmark = pytest.mark.usefixtures("clean_engine")

# Flat candles at 100 (volume 1): the VWAP is exactly 100 at every frame.
ROWS = flat(T0 - 10 * MIN, 400)
HEAD_LONG = "Invalid signal for long position:\n"
HEAD_SHORT = "Invalid signal for short position:\n"


def validation_errors(listen: Any, *dtos: Any, **setup_kw: Any) -> tuple[list[str], list[Any]]:
    """Run one frame per dto; return the texts of the errors and the yielded results."""
    errors = listen(engine.listen_error)
    end = T0 + (len(dtos) - 1) * MIN
    setup(ROWS, once(*dtos), end=end, **setup_kw)
    results = run("s")
    for err in errors:
        assert isinstance(err, SignalValidationError), repr(err)
    return [str(e) for e in errors], results


def single_error(listen: Any, dto: Any) -> str:
    texts, results = validation_errors(listen, dto)
    assert results == []
    assert len(texts) == 1, texts
    return texts[0]


# ----- the texts ------------------------------------------------------------------------------


def test_several_long_errors_are_collected_in_upstream_order(listen: Any) -> None:
    text = single_error(listen, long_dto(tp=99, sl=101, minutes=-2.5))  # type: ignore[arg-type]
    assert text == HEAD_LONG + "\n".join(
        [
            "Long: priceTakeProfit (99) must be > priceOpen (100)",
            "Long: priceStopLoss (101) must be < priceOpen (100)",
            "Long: currentPrice (100) < priceStopLoss (101). "
            "Signal would be immediately cancelled. This signal is invalid.",
            "Long: currentPrice (100) > priceTakeProfit (99). "
            "Signal is invalid - the profit opportunity has already passed.",
            "Long: TakeProfit too close to priceOpen (-1.000%). Minimum distance: 0.1% "
            "to cover trading fees. Current: TP=99, Open=100",
            "minuteEstimatedTime must be positive, got -2.5",
            "minuteEstimatedTime must be an integer (whole number), got -2.5",
        ]
    )


def test_several_short_errors_mirror_the_long_texts(listen: Any) -> None:
    text = single_error(listen, short_dto(tp=101, sl=99))
    assert text == HEAD_SHORT + "\n".join(
        [
            "Short: priceTakeProfit (101) must be < priceOpen (100)",
            "Short: priceStopLoss (99) must be > priceOpen (100)",
            "Short: currentPrice (100) > priceStopLoss (99). "
            "Signal would be immediately cancelled. This signal is invalid.",
            "Short: currentPrice (100) < priceTakeProfit (101). "
            "Signal is invalid - the profit opportunity has already passed.",
            "Short: TakeProfit too close to priceOpen (-1.000%). Minimum distance: 0.1% "
            "to cover trading fees. Current: TP=101, Open=100",
        ]
    )


def test_nan_price_gives_only_the_finite_message(listen: Any) -> None:
    text = single_error(listen, long_dto(tp=math.nan, sl=99))
    assert text == HEAD_LONG + "priceTakeProfit must be a finite number, got NaN (number)"


def test_nan_take_profit_and_stop_loss_give_both_finite_messages_only(listen: Any) -> None:
    text = single_error(listen, short_dto(tp=math.nan, sl=math.nan))
    assert text == HEAD_SHORT + "\n".join(
        [
            "priceTakeProfit must be a finite number, got NaN (number)",
            "priceStopLoss must be a finite number, got NaN (number)",
        ]
    )


def test_infinite_take_profit_is_reported_as_not_finite(listen: Any) -> None:
    text = single_error(listen, long_dto(tp=math.inf, sl=99))
    assert text == HEAD_LONG + "priceTakeProfit must be a finite number, got Infinity (number)"


def test_non_positive_prices_are_reported_after_the_finite_checks(listen: Any) -> None:
    dto = long_dto(tp=math.nan, sl=-5, price_open=0)
    text = single_error(listen, dto)
    # JS arithmetic: the SL distance (0 - -5) / 0 * 100 is Infinity, which is > 20.
    assert text == HEAD_LONG + "\n".join(
        [
            "priceTakeProfit must be a finite number, got NaN (number)",
            "priceOpen must be positive, got 0",
            "priceStopLoss must be positive, got -5",
            "Long: StopLoss too far from priceOpen (Infinity%). Maximum distance: 20% "
            "to protect capital. Current: SL=-5, Open=0",
        ]
    )


def test_price_open_none_in_a_market_signal_is_undefined(listen: Any) -> None:
    text = single_error(listen, long_dto(tp=101, sl=99, price_open=None))
    assert text == HEAD_LONG + "priceOpen must be a finite number, got undefined (undefined)"


def test_take_profit_too_close_uses_to_fixed_3(listen: Any) -> None:
    text = single_error(listen, long_dto(tp=100.05, sl=99))
    assert text == HEAD_LONG + (
        "Long: TakeProfit too close to priceOpen (0.050%). Minimum distance: 0.1% "
        "to cover trading fees. Current: TP=100.05, Open=100"
    )


def test_take_profit_too_close_verified_upstream_example(listen: Any) -> None:
    # Price 50000 is above priceOpen: a scheduled long, so only the distance rules apply.
    rows = flat(T0 - 10 * MIN, 30, price=50_000.0)
    errors = listen(engine.listen_error)
    dto = long_dto(tp=42027.21713010149, sl=41000, price_open=42006.214023089946)
    setup(rows, once(dto))
    assert run("s") == []
    assert [str(e) for e in errors] == [
        HEAD_LONG + "Long: TakeProfit too close to priceOpen (0.050%). Minimum distance: 0.1% "
        "to cover trading fees. Current: TP=42027.21713010149, Open=42006.214023089946"
    ]


def test_stop_loss_too_far_long_and_short(listen: Any) -> None:
    texts, _ = validation_errors(listen, long_dto(tp=101, sl=70), short_dto(tp=99, sl=125))
    assert texts == [
        HEAD_LONG + "Long: StopLoss too far from priceOpen (30.000%). Maximum distance: 20% "
        "to protect capital. Current: SL=70, Open=100",
        HEAD_SHORT + "Short: StopLoss too far from priceOpen (25.000%). Maximum distance: 20% "
        "to protect capital. Current: SL=125, Open=100",
    ]


def test_lifetime_too_large_with_days(listen: Any) -> None:
    text = single_error(listen, long_dto(tp=101, sl=99, minutes=2000))
    assert text == HEAD_LONG + (
        "minuteEstimatedTime too large (2000 minutes = 1.4 days). Maximum: 1440 minutes "
        "(1 days) to prevent strategy deadlock. Eternal signals block risk limits and "
        "prevent new trades."
    )


def test_non_integer_minutes(listen: Any) -> None:
    text = single_error(listen, long_dto(tp=101, sl=99, minutes=90.5))  # type: ignore[arg-type]
    assert text == HEAD_LONG + "minuteEstimatedTime must be an integer (whole number), got 90.5"


def test_zero_minutes(listen: Any) -> None:
    text = single_error(listen, short_dto(tp=99, sl=101, minutes=0))
    assert text == HEAD_SHORT + "minuteEstimatedTime must be positive, got 0"


def test_missing_position_reads_undefined_like_upstream(listen: Any) -> None:
    dto = {"price_take_profit": 101, "price_stop_loss": 99, "minute_estimated_time": 60}
    text = single_error(listen, dto)
    assert text == (
        'Invalid signal for undefined position:\nposition is required and must be "long" or "short"'
    )


def test_missing_take_profit_is_undefined(listen: Any) -> None:
    dto = {"position": "long", "price_stop_loss": 99, "minute_estimated_time": 60}
    text = single_error(listen, dto)
    assert text == HEAD_LONG + "priceTakeProfit must be a finite number, got undefined (undefined)"


def test_missing_minutes_is_not_an_integer(listen: Any) -> None:
    # JS: `undefined <= 0` is false, `Number.isInteger(undefined)` is false
    dto = {"position": "long", "price_take_profit": 101, "price_stop_loss": 99}
    text = single_error(listen, dto)
    assert (
        text == HEAD_LONG + "minuteEstimatedTime must be an integer (whole number), got undefined"
    )


def test_infinite_minutes(listen: Any) -> None:
    text = single_error(listen, long_dto(tp=101, sl=99, minutes=math.inf))  # type: ignore[arg-type]
    assert text == HEAD_LONG + "\n".join(
        [
            "minuteEstimatedTime must be an integer (whole number), got Infinity",
            "minuteEstimatedTime too large (Infinity minutes = Infinity days). Maximum: 1440 "
            "minutes (1 days) to prevent strategy deadlock. Eternal signals block risk limits "
            "and prevent new trades.",
        ]
    )


def test_immediate_cancel_text_for_a_reached_price_open_long(listen: Any) -> None:
    # priceOpen 102 >= price 100: opens at once (not scheduled), so the price checks apply.
    text = single_error(listen, long_dto(tp=105, sl=100.5, price_open=102))
    assert text == HEAD_LONG + (
        "Long: currentPrice (100) < priceStopLoss (100.5). "
        "Signal would be immediately cancelled. This signal is invalid."
    )


def test_immediate_cancel_text_for_a_reached_price_open_short(listen: Any) -> None:
    text = single_error(listen, short_dto(tp=95, sl=99, price_open=98))
    assert text == HEAD_SHORT + (
        "Short: currentPrice (100) > priceStopLoss (99). "
        "Signal would be immediately cancelled. This signal is invalid."
    )


def test_scheduled_signals_skip_the_current_price_checks(listen: Any) -> None:
    # Long waiting for 95 with TP 99 below the current price 100, short waiting for 105
    # with TP 101 above it: as market signals both would be "profit already passed".
    errors = listen(engine.listen_error)
    scheduled = listen(engine.listen_signal_backtest)
    setup(
        ROWS,
        once(long_dto(tp=99, sl=90, price_open=95), short_dto(tp=101, sl=110, price_open=105)),
        end=T0 + 300 * MIN,
    )
    results = run("s")
    assert errors == []
    assert [r.action for r in scheduled if r.action == "scheduled"] == ["scheduled", "scheduled"]
    assert [r.action for r in results] == ["cancelled", "cancelled"]  # never reached


def test_profit_passed_text_is_for_market_signals_only(listen: Any) -> None:
    text = single_error(listen, long_dto(tp=99.5, sl=99))
    assert (
        "\nLong: currentPrice (100) > priceTakeProfit (99.5). Signal is invalid - the profit "
        "opportunity has already passed.\n" in text
    )


# ----- CC_* keys ------------------------------------------------------------------------------


def test_changed_limits_appear_in_the_texts(listen: Any) -> None:
    engine.set_config(
        CC_MIN_TAKEPROFIT_DISTANCE_PERCENT=0.5,
        CC_MAX_STOPLOSS_DISTANCE_PERCENT=5,
        CC_MAX_SIGNAL_LIFETIME_MINUTES=600,
    )
    text = single_error(listen, long_dto(tp=100.25, sl=94, minutes=720))
    assert text == HEAD_LONG + "\n".join(
        [
            "Long: TakeProfit too close to priceOpen (0.250%). Minimum distance: 0.5% "
            "to cover trading fees. Current: TP=100.25, Open=100",
            "Long: StopLoss too far from priceOpen (6.000%). Maximum distance: 5% "
            "to protect capital. Current: SL=94, Open=100",
            "minuteEstimatedTime too large (720 minutes = 0.5 days). Maximum: 600 minutes "
            "(0 days) to prevent strategy deadlock. Eternal signals block risk limits and "
            "prevent new trades.",
        ]
    )


def test_zero_limits_disable_the_checks(listen: Any) -> None:
    engine.set_config(
        CC_MIN_TAKEPROFIT_DISTANCE_PERCENT=0,
        CC_MAX_STOPLOSS_DISTANCE_PERCENT=0,
        CC_MAX_SIGNAL_LIFETIME_MINUTES=0,
    )
    errors = listen(engine.listen_error)
    setup(ROWS, once(long_dto(tp=100.05, sl=50, minutes=2000)))
    results = run("s")
    assert errors == []
    assert [(r.action, r.close_reason) for r in results] == [("closed", "time_expired")]
    assert results[0].signal.price_take_profit == 100.05
    assert results[0].signal.minute_estimated_time == 2000


def test_config_is_read_when_the_run_starts(listen: Any) -> None:
    errors = listen(engine.listen_error)
    setup(ROWS, once(long_dto(tp=100.05, sl=99)))
    engine.set_config(CC_MIN_TAKEPROFIT_DISTANCE_PERCENT=0)
    assert len(run("s")) == 1
    engine.set_config(CC_MIN_TAKEPROFIT_DISTANCE_PERCENT=0.1)
    engine.add_strategy(strategy_name="s2", interval="1m", get_signal=once(long_dto(100.05, 99)))
    assert run("s2") == []
    assert len(errors) == 1


# ----- dto shape ------------------------------------------------------------------------------


def test_camel_case_dto_keys_are_accepted(listen: Any) -> None:
    errors = listen(engine.listen_error)
    dto = {
        "position": "long",
        "priceTakeProfit": 101,
        "priceStopLoss": 99,
        "minuteEstimatedTime": 30,
        "note": "camel",
    }
    setup(ROWS, once(dto))
    (result,) = run("s")
    assert errors == []
    assert result.action == "closed"
    assert (result.signal.price_take_profit, result.signal.price_stop_loss) == (101, 99)
    assert result.signal.minute_estimated_time == 30
    assert result.signal.note == "camel"


def test_signal_dto_model_is_accepted(listen: Any) -> None:
    errors = listen(engine.listen_error)
    dto = SignalDto(
        position="short", price_take_profit=99, price_stop_loss=101, minute_estimated_time=30
    )
    setup(ROWS, once(dto))
    (result,) = run("s")
    assert errors == []
    assert result.signal.position == "short"


def test_unknown_dto_key_names_it_with_a_hint(listen: Any) -> None:
    dto = {
        "position": "long",
        "price_take_proft": 101,
        "price_stop_loss": 99,
        "minute_estimated_time": 30,
    }
    errors = listen(engine.listen_error)
    setup(ROWS, once(dto))
    assert run("s") == []
    assert len(errors) == 1
    text = str(errors[0])
    assert "price_take_proft" in text
    assert "did you mean" in text.lower()
    assert "price_take_profit" in text.replace("price_take_proft", "")


def test_run_goes_on_after_an_invalid_signal(listen: Any) -> None:
    errors = listen(engine.listen_error)
    setup(
        ROWS,
        once(long_dto(tp=99, sl=98), None, long_dto(tp=101, sl=99, minutes=10)),
        end=T0 + 30 * MIN,
    )
    results = run("s")
    assert len(errors) == 1
    assert [(r.action, r.signal.pending_at) for r in results] == [("closed", T0 + 2 * MIN)]


def test_user_id_wins_for_market_signals_and_is_ignored_for_price_open(listen: Any) -> None:
    errors = listen(engine.listen_error)
    setup(
        ROWS,
        once(long_dto(101, 99, 5, id="mine"), long_dto(101, 99, 5, id="other", price_open=100.5)),
        end=T0 + 30 * MIN,
    )
    results = run("s")
    assert errors == []
    assert results[0].signal.id == "mine"
    assert results[1].signal.id not in ("other", "mine", "")


def test_empty_user_id_is_rejected(listen: Any) -> None:
    text = single_error(listen, long_dto(101, 99, id=""))
    assert text == HEAD_LONG + "id is required and must be a non-empty string"
