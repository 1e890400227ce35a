"""Dataset facts and the gap calendar, on hand-made candles with gaps at known hours."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import numpy as np
import pytest

from engine.data import candle_cache
from engine.data.inventory import (
    DatasetInfo,
    cached_datasets,
    dataset_candles,
    describe,
    file_dataset,
    gap_calendar,
)
from engine.data.store import CandleArrays

DAY0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR


def candles(stamps: list[int], zero_volume: Collection[int] = ()) -> CandleArrays:
    """Candles at `stamps` (volume 1, or 0 at the stamps in `zero_volume`)."""
    rows = [(t, 100.0, 101.0, 99.0, 100.5, 0.0 if t in zero_volume else 1.0) for t in stamps]
    return CandleArrays.from_candles(rows)


def at(day: int, hour: int, minute: int = 0) -> int:
    return DAY0 + day * DAY + hour * HOUR + minute * MIN


# Five hours of minutes from day 0 22:00 to day 1 02:59, with 23:10-23:14 on day 0 and
# 01:00 on day 1 missing; zero volume at day 0 22:05 and day 1 00:30, 00:31.
MISSING = {at(0, 23, m) for m in range(10, 15)} | {at(1, 1, 0)}
ZERO = {at(0, 22, 5), at(1, 0, 30), at(1, 0, 31)}
STAMPS = [t for t in range(at(0, 22), at(1, 3), MIN) if t not in MISSING]


def info(data: CandleArrays, timeframe: str = "1m") -> DatasetInfo:
    return describe(
        data, kind="file", exchange="csv", symbol="BTCUSDT", timeframe=timeframe, path="x.csv"
    )


def test_describe_counts_rows_missing_and_zero_volume_minutes() -> None:
    facts = info(candles(STAMPS, ZERO))
    assert (facts.first_ms, facts.last_ms) == (at(0, 22), at(1, 2, 59))
    assert facts.end_ms == at(1, 3)
    assert (facts.rows, facts.missing_minutes, facts.zero_volume_minutes) == (294, 6, 3)
    assert facts.path == Path("x.csv") and facts.kind == "file"


def test_describe_of_no_candles() -> None:
    facts = info(candles([]))
    assert (facts.first_ms, facts.last_ms, facts.end_ms, facts.rows) == (None, None, None, 0)
    assert (facts.missing_minutes, facts.zero_volume_minutes) == (0, 0)


def test_the_calendar_puts_each_missing_minute_in_its_day_and_hour() -> None:
    calendar = gap_calendar(candles(STAMPS, ZERO), "1m")
    assert calendar.days.tolist() == [DAY0, DAY0 + DAY]
    expected_missing = np.zeros((2, 24), dtype=int)
    expected_missing[0, 23] = 5
    expected_missing[1, 1] = 1
    assert np.array_equal(calendar.missing, expected_missing)
    expected_zero = np.zeros((2, 24), dtype=int)
    expected_zero[0, 22] = 1
    expected_zero[1, 0] = 2
    assert np.array_equal(calendar.zero_volume, expected_zero)
    expected_range = np.zeros((2, 24), dtype=int)
    expected_range[0, 22:] = 60
    expected_range[1, :3] = 60
    assert np.array_equal(calendar.in_range, expected_range)


def test_a_missing_five_minute_candle_is_five_missing_minutes() -> None:
    data = candles([at(0, 0, 0), at(0, 0, 5), at(0, 0, 15)], zero_volume={at(0, 0, 15)})
    facts = info(data, "5m")
    assert (facts.rows, facts.missing_minutes, facts.zero_volume_minutes) == (3, 5, 5)
    calendar = gap_calendar(data, "5m")
    assert calendar.missing[0, 0] == 5 and calendar.missing.sum() == 5
    assert calendar.zero_volume[0, 0] == 5 and calendar.in_range[0, 0] == 20


def test_a_missing_hourly_candle_fills_its_hour() -> None:
    data = candles([at(0, 0), at(0, 2)])
    calendar = gap_calendar(data, "1h")
    assert calendar.missing[0].tolist() == [0, 60] + [0] * 22
    assert calendar.in_range[0].tolist() == [60, 60, 60] + [0] * 21
    assert info(data, "1h").missing_minutes == 60


def test_candles_off_the_grid_never_make_negative_missing_minutes() -> None:
    # one-minute candles stored as 5m (a bad source): 10 candles in two 5m slots
    data = candles([at(0, 0, m) for m in range(10)])
    facts = info(data, "5m")
    assert (facts.rows, facts.missing_minutes) == (10, 0)
    assert gap_calendar(data, "5m").missing.sum() == 0


def test_the_calendar_of_no_candles_is_empty() -> None:
    calendar = gap_calendar(candles([]), "1m")
    assert calendar.days.size == 0 and calendar.missing.shape == (0, 24)


def test_the_calendar_counts_as_many_missing_minutes_as_were_removed() -> None:
    rng = np.random.default_rng(7)
    grid = np.arange(at(0, 5, 17), at(9, 13, 42), MIN)
    removed = rng.choice(np.arange(1, grid.size - 1), size=500, replace=False)
    kept = np.delete(grid, removed).tolist()
    calendar = gap_calendar(candles(kept), "1m")
    assert calendar.missing.sum() == 500 == info(candles(kept)).missing_minutes
    assert calendar.in_range.sum() == grid.size
    hours = (grid[removed] - DAY0) // HOUR
    per_hour = np.bincount(hours, minlength=calendar.missing.size)
    assert np.array_equal(calendar.missing.ravel(), per_hour)


def test_cached_datasets_lists_every_cache_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKTEST_DESK_CACHE", str(tmp_path / "cache"))
    assert cached_datasets() == []
    candle_cache.save("binance", "BTC/USDT", "1m", candles(STAMPS, ZERO), ((at(0, 22), at(1, 3)),))
    candle_cache.save("kraken", "ETH/USD", "5m", candles([at(2, 0), at(2, 0, 10)]), ())
    btc, eth = cached_datasets()
    assert (btc.kind, btc.exchange, btc.symbol, btc.timeframe) == (
        "ccxt cache",
        "binance",
        "BTC/USDT",
        "1m",
    )
    assert (btc.rows, btc.missing_minutes, btc.zero_volume_minutes) == (294, 6, 3)
    assert btc.path == candle_cache.cache_path("binance", "BTC/USDT", "1m")
    assert (eth.exchange, eth.timeframe, eth.rows, eth.missing_minutes) == ("kraken", "5m", 2, 5)
    assert dataset_candles(btc).timestamp.tolist() == STAMPS


def test_a_candle_file_is_a_file_dataset(tmp_path: Path) -> None:
    path = tmp_path / "btc.csv"
    lines = [f"{t},100,101,99,100.5,{0 if t in ZERO else 1}" for t in STAMPS]
    path.write_text("timestamp,open,high,low,close,volume\n" + "\n".join(lines) + "\n")
    facts = file_dataset("BTCUSDT", path)
    assert (facts.kind, facts.exchange, facts.symbol, facts.timeframe) == (
        "file",
        "csv",
        "BTCUSDT",
        "1m",
    )
    assert (facts.rows, facts.missing_minutes, facts.zero_volume_minutes) == (294, 6, 3)
    assert len(dataset_candles(facts)) == 294
