"""Position sizing and the Constant levels (docs/semantics.md#sizing, #constant)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import engine
from engine import ConfigError, Constant, PositionSize, add_sizing, list_sizings
from engine.sim.sizing import SizingParams, SizingSchema, sizings


@pytest.fixture(autouse=True)
def no_sizings() -> Iterator[None]:
    sizings.clear()
    yield
    sizings.clear()


def fixed(**limits: Any) -> float:
    add_sizing(sizing_name="f", method="fixed-percentage", risk_percentage=1, **limits)
    return PositionSize.fixed_percentage("BTCUSDT", 10_000, 100, 95, sizing_name="f")


def test_fixed_percentage_risks_a_share_of_the_balance_down_to_the_stop() -> None:
    # 1 % of 10 000 = 100 at risk over a 5-dollar stop distance: 20 units
    assert fixed() == 20.0


def test_fixed_percentage_works_for_a_short_stop_above_the_entry() -> None:
    add_sizing(sizing_name="f", method="fixed-percentage", risk_percentage=2)
    assert PositionSize.fixed_percentage("X", 1_000, 50, 52.5, sizing_name="f") == 8.0


def test_kelly_criterion_invests_the_scaled_kelly_fraction() -> None:
    # k = (0.75*2 - 0.25)/2 = 0.625; quarter Kelly 0.15625 of 10 000 at 125: 12.5 units
    add_sizing(sizing_name="k", method="kelly-criterion")
    assert PositionSize.kelly_criterion("X", 10_000, 125, 0.75, 2, sizing_name="k") == 12.5


def test_kelly_multiplier_scales_the_fraction() -> None:
    add_sizing(sizing_name="k", method="kelly-criterion", kelly_multiplier=0.5)
    assert PositionSize.kelly_criterion("X", 10_000, 125, 0.75, 2, sizing_name="k") == 25.0


def test_kelly_with_a_negative_edge_sizes_nothing() -> None:
    add_sizing(sizing_name="k", method="kelly-criterion")
    assert PositionSize.kelly_criterion("X", 10_000, 125, 0.25, 1, sizing_name="k") == 0.0


def test_atr_based_puts_the_stop_atr_multiplier_atrs_away() -> None:
    # 2 % of 10 000 = 200 over 5 * 2 = 10: 20 units; with 4 ATRs: 10 units
    add_sizing(sizing_name="a", method="atr-based", risk_percentage=2)
    add_sizing(sizing_name="a4", method="atr-based", risk_percentage=2, atr_multiplier=4)
    assert PositionSize.atr_based("X", 10_000, 100, 5, sizing_name="a") == 20.0
    assert PositionSize.atr_based("X", 10_000, 100, 5, sizing_name="a4") == 10.0


def test_max_position_percentage_caps_the_value_of_the_position() -> None:
    # 10 % of 10 000 at 100: at most 10 units
    assert fixed(max_position_percentage=10) == 10.0


def test_limits_apply_in_upstream_order_percentage_then_min_then_max() -> None:
    assert fixed(min_position_size=30) == 30.0
    sizings.clear()
    assert fixed(max_position_percentage=10, min_position_size=30) == 30.0
    sizings.clear()
    assert fixed(max_position_percentage=10, min_position_size=30, max_position_size=25) == 25.0
    sizings.clear()
    assert fixed(max_position_size=15) == 15.0


def test_on_calculate_receives_the_final_quantity_and_the_inputs() -> None:
    seen: list[tuple[float, SizingParams]] = []
    add_sizing(
        sizing_name="f",
        method="fixed-percentage",
        risk_percentage=1,
        max_position_size=15,
        callbacks={"on_calculate": lambda q, p: seen.append((q, p))},
    )
    PositionSize.fixed_percentage("BTCUSDT", 10_000, 100, 95, sizing_name="f")
    assert seen == [
        (15.0, SizingParams("fixed-percentage", "BTCUSDT", 10_000, 100, price_stop_loss=95))
    ]


def test_camel_case_schemas_and_listing() -> None:
    add_sizing({"sizingName": "f", "method": "fixed-percentage", "riskPercentage": 1})
    add_sizing(SizingSchema(sizing_name="k", method="kelly-criterion", note="quarter"))
    assert [s.sizing_name for s in list_sizings()] == ["f", "k"]
    assert list_sizings()[1].kelly_multiplier == 0.25
    assert list_sizings()[0].atr_multiplier == 2.0
    assert engine.list_sizings is list_sizings


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"method": "fixed-percentage"}, "sizing schema validation failed: missing sizingName"),
        ({"sizing_name": "s"}, "sizing schema validation failed: missing method for sizingName=s"),
        (
            {"sizing_name": "s", "method": "fixed-percentage"},
            "sizing schema validation failed: missing riskPercentage for fixed-percentage sizing "
            "(sizingName=s)",
        ),
        (
            {"sizing_name": "s", "method": "atr-based"},
            "sizing schema validation failed: missing riskPercentage for atr-based sizing "
            "(sizingName=s)",
        ),
        (
            {"sizing_name": "s", "method": "kelly"},
            "sizing schema validation failed: method 'kelly' for sizingName=s is not supported; "
            "use one of fixed-percentage, kelly-criterion, atr-based",
        ),
    ],
)
def test_schema_errors(fields: dict[str, Any], text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        add_sizing(**fields)
    assert str(caught.value) == text
    assert list_sizings() == []


def test_a_name_is_registered_once() -> None:
    add_sizing(sizing_name="k", method="kelly-criterion")
    with pytest.raises(ConfigError, match=r"^sizing k already exist$"):
        add_sizing(sizing_name="k", method="kelly-criterion")


def test_unknown_sizing_names_the_caller() -> None:
    add_sizing(sizing_name="kelly", method="kelly-criterion")
    with pytest.raises(ConfigError) as caught:
        PositionSize.kelly_criterion("X", 1, 1, 0.5, 1, sizing_name="kely")
    assert str(caught.value).startswith("sizing kely not found source=PositionSize.kelly_criterion")


@pytest.mark.parametrize(
    ("call", "requested", "source"),
    [
        (
            lambda: PositionSize.fixed_percentage("X", 1, 1, 0.5, sizing_name="k"),
            "fixed-percentage",
            "fixed_percentage",
        ),
        (lambda: PositionSize.atr_based("X", 1, 1, 1, sizing_name="k"), "atr-based", "atr_based"),
    ],
)
def test_method_mismatch(call: Any, requested: str, source: str) -> None:
    add_sizing(sizing_name="k", method="kelly-criterion")
    with pytest.raises(ConfigError) as caught:
        call()
    assert str(caught.value) == (
        f'Sizing method mismatch: sizing "k" is configured as "kelly-criterion" but '
        f'"{requested}" was requested at source=PositionSize.{source}'
    )


def test_kelly_mismatch_text() -> None:
    add_sizing(sizing_name="f", method="fixed-percentage", risk_percentage=1)
    with pytest.raises(ConfigError, match='but "kelly-criterion" was requested at source='):
        PositionSize.kelly_criterion("X", 1, 1, 0.5, 1, sizing_name="f")


def test_zero_stop_distance() -> None:
    add_sizing(sizing_name="f", method="fixed-percentage", risk_percentage=1)
    with pytest.raises(ConfigError, match=r"^Stop-loss distance cannot be zero$"):
        PositionSize.fixed_percentage("X", 1_000, 100, 100, sizing_name="f")


@pytest.mark.parametrize("win_rate", [0, 1, -0.1, 1.5])
def test_win_rate_outside_zero_and_one(win_rate: float) -> None:
    add_sizing(sizing_name="k", method="kelly-criterion")
    with pytest.raises(ConfigError, match=r"^winRate must be between 0 and 1$"):
        PositionSize.kelly_criterion("X", 1_000, 100, win_rate, 2, sizing_name="k")


@pytest.mark.parametrize("ratio", [0, -1])
def test_win_loss_ratio_not_positive(ratio: float) -> None:
    add_sizing(sizing_name="k", method="kelly-criterion")
    with pytest.raises(ConfigError, match=r"^winLossRatio must be positive$"):
        PositionSize.kelly_criterion("X", 1_000, 100, 0.5, ratio, sizing_name="k")


@pytest.mark.parametrize("atr", [0, -2])
def test_atr_not_positive(atr: float) -> None:
    add_sizing(sizing_name="a", method="atr-based", risk_percentage=1)
    with pytest.raises(ConfigError, match=r"^ATR must be positive$"):
        PositionSize.atr_based("X", 1_000, 100, atr, sizing_name="a")


def test_constant_levels() -> None:
    assert (Constant.TP_LEVEL1, Constant.TP_LEVEL2, Constant.TP_LEVEL3) == (30, 60, 90)
    assert (Constant.SL_LEVEL1, Constant.SL_LEVEL2) == (40, 80)


def test_upstream_context_object_names_the_sizing_as_the_keyword_does() -> None:
    # 1 % of 10 000 = 100 at risk over a 5-dollar stop: 20 units, whichever way it is named
    add_sizing(sizing_name="f", method="fixed-percentage", risk_percentage=1)
    assert PositionSize.fixed_percentage("BTCUSDT", 10_000, 100, 95, {"sizingName": "f"}) == 20.0
    add_sizing(sizing_name="k", method="kelly-criterion")
    assert PositionSize.kelly_criterion("X", 10_000, 125, 0.75, 2, {"sizingName": "k"}) == 12.5
    add_sizing(sizing_name="a", method="atr-based", risk_percentage=2, atr_multiplier=2)
    # 2 % of 10 000 = 200 at risk over a stop 2 ATRs of 5 away: 20 units
    assert PositionSize.atr_based("X", 10_000, 100, 5, {"sizingName": "a"}) == 20.0


def test_a_missing_or_contradicting_sizing_name_is_explained() -> None:
    add_sizing(sizing_name="f", method="fixed-percentage", risk_percentage=1)
    with pytest.raises(ConfigError, match=r"no sizing named; pass sizing_name='fixed'"):
        PositionSize.fixed_percentage("X", 10_000, 100, 95)
    with pytest.raises(ConfigError, match=r"disagree"):
        PositionSize.fixed_percentage("X", 10_000, 100, 95, {"sizingName": "f"}, sizing_name="g")
