"""The embedded demo market: deterministic, continuous, realistic one-minute candles."""

from __future__ import annotations

import numpy as np
import pytest

from engine.core.errors import DataError
from engine.data.demo import DEMO_END_MS, DEMO_START_MS, DEMO_SYMBOLS, demo_store, generate
from engine.data.store import CandleArrays

DAY = 86_400_000
MINUTE = 60_000
FIELDS = ("timestamp", "open", "high", "low", "close", "volume")


@pytest.fixture(scope="module")
def btc_year() -> CandleArrays:
    return generate("BTCUSDT", DEMO_START_MS, DEMO_END_MS)


def assert_same(left: CandleArrays, right: CandleArrays) -> None:
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(left, name), getattr(right, name), err_msg=name)


def test_demo_symbols_include_the_majors() -> None:
    assert {"BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT"} <= set(DEMO_SYMBOLS)


def test_same_range_gives_the_same_candles() -> None:
    start = DEMO_START_MS + 40 * DAY
    assert_same(
        generate("ETHUSDT", start, start + 2 * DAY), generate("ETHUSDT", start, start + 2 * DAY)
    )


def test_sub_range_across_midnight_equals_slice_of_larger_range() -> None:
    big = generate("SOLUSDT", DEMO_START_MS, DEMO_START_MS + 10 * DAY)
    start = DEMO_START_MS + 3 * DAY - 7 * MINUTE
    sub = generate("SOLUSDT", start, start + 2 * DAY + 11 * MINUTE)
    offset = 3 * 1440 - 7
    assert len(sub) == 2 * 1440 + 11
    assert_same(sub, big.slice(offset, offset + len(sub)))


def test_single_minute_matches_the_year(btc_year: CandleArrays) -> None:
    minute = DEMO_START_MS + 200 * DAY + 777 * MINUTE
    one = generate("BTCUSDT", minute, minute + MINUTE)
    index = 200 * 1440 + 777
    assert one.to_candles() == btc_year.slice(index, index + 1).to_candles()


def test_range_bounds_are_floored_to_minutes() -> None:
    start = DEMO_START_MS + 5 * MINUTE
    candles = generate("BNBUSDT", start + 59_999, start + 3 * MINUTE + 1)
    assert candles.timestamp.tolist() == [start, start + MINUTE, start + 2 * MINUTE]


def test_empty_range_gives_no_candles() -> None:
    assert len(generate("BTCUSDT", DEMO_START_MS, DEMO_START_MS)) == 0
    assert len(generate("BTCUSDT", DEMO_START_MS + MINUTE, DEMO_START_MS)) == 0


@pytest.mark.parametrize("symbol", DEMO_SYMBOLS)
def test_candles_are_consistent_and_continuous(symbol: str) -> None:
    candles = generate(symbol, DEMO_START_MS + 100 * DAY, DEMO_START_MS + 130 * DAY)
    assert np.all(np.diff(candles.timestamp) == MINUTE)
    assert np.all(candles.low > 0)
    assert np.all(candles.high >= np.maximum(candles.open, candles.close))
    assert np.all(candles.low <= np.minimum(candles.open, candles.close))
    assert np.all(candles.volume >= 0)
    assert np.all(np.isfinite(candles.high))
    np.testing.assert_array_equal(candles.open[1:], candles.close[:-1])


def test_year_has_the_right_length_and_bounds(btc_year: CandleArrays) -> None:
    assert len(btc_year) == 366 * 1440  # 2024 is a leap year
    assert btc_year.timestamp[0] == DEMO_START_MS
    assert btc_year.timestamp[-1] == DEMO_END_MS - MINUTE


def test_zero_volume_minutes_are_isolated_and_flat(btc_year: CandleArrays) -> None:
    zero = btc_year.volume == 0
    assert 100 < zero.sum() < 0.01 * len(btc_year)
    runs = np.convolve(zero.astype(int), np.ones(5, dtype=int), mode="valid")
    assert runs.max() < 5
    for price in (btc_year.open, btc_year.high, btc_year.low):
        np.testing.assert_array_equal(price[zero], btc_year.close[zero])


def test_volatility_and_trend_change_over_the_year(btc_year: CandleArrays) -> None:
    returns = np.diff(np.log(btc_year.close))[: 365 * 1440].reshape(365, 1440)
    daily_vol = returns.std(axis=1)
    assert daily_vol.max() > 3 * daily_vol.min()
    weekly_change = np.diff(np.log(btc_year.close[:: 7 * 1440]))
    assert weekly_change.max() > 0.05
    assert weekly_change.min() < -0.05
    assert np.abs(returns).max() > 20 * np.median(np.abs(returns))  # jumps happen


def test_volume_follows_the_trading_day(btc_year: CandleArrays) -> None:
    hour = (btc_year.timestamp // 3_600_000) % 24
    by_hour = np.array([btc_year.volume[hour == h].mean() for h in range(24)])
    assert by_hour[14] > 1.5 * by_hour[3]


def test_start_prices_are_plausible_for_january_2024() -> None:
    expected = {"BTCUSDT": 42_000, "ETHUSDT": 2_300, "SOLUSDT": 100, "BNBUSDT": 300}
    for symbol, price in expected.items():
        first = generate(symbol, DEMO_START_MS, DEMO_START_MS + MINUTE)
        assert first.open[0] == pytest.approx(price)


def test_symbols_differ() -> None:
    closes = [
        np.diff(np.log(generate(symbol, DEMO_START_MS, DEMO_START_MS + DAY).close))
        for symbol in DEMO_SYMBOLS
    ]
    for i, left in enumerate(closes):
        for right in closes[i + 1 :]:
            assert abs(np.corrcoef(left, right)[0, 1]) < 0.5


def test_unknown_symbol_is_named_with_the_choices() -> None:
    with pytest.raises(DataError) as error:
        generate("DOGEUSD", DEMO_START_MS, DEMO_END_MS)
    assert "'DOGEUSD'" in str(error.value)
    assert all(symbol in str(error.value) for symbol in DEMO_SYMBOLS)


def test_range_outside_the_demo_market_is_refused() -> None:
    with pytest.raises(DataError, match="2020-01-01 to 2035-01-01"):
        generate("BTCUSDT", DEMO_START_MS - 5 * 366 * DAY, DEMO_START_MS)


def test_demo_store_serves_the_demo_year(btc_year: CandleArrays) -> None:
    store = demo_store()
    assert store.symbols() == list(DEMO_SYMBOLS)
    assert_same(store.arrays("BTCUSDT"), btc_year)
    hourly = store.window("BTCUSDT", "1h", DEMO_START_MS, 24)
    assert hourly.high[0] == btc_year.high[:60].max()
    with pytest.raises(DataError, match="DOGEUSD"):
        store.arrays("DOGEUSD")
