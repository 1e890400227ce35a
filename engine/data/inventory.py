"""Facts about the candle datasets at hand: the ccxt cache's entries and candle files.

`describe` sums up one dataset (range, rows, missing and zero-volume minutes);
`gap_calendar` spreads those minutes over UTC days and hours, for a calendar view.
Counts are in minutes, so a missing 5m candle counts 5 and a calendar cell holds at most 60.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.core.intervals import interval_ms
from engine.data import candle_cache
from engine.data.store import MINUTE_MS, CandleArrays

CACHE_KIND = "ccxt cache"
FILE_KIND = "file"
FILE_EXCHANGE = "csv"
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    """What one dataset holds.

    Attributes:
        kind: "ccxt cache" or "file".
        exchange: The ccxt exchange id, or "csv" for a file.
        symbol: The symbol (a cache entry's unified symbol, e.g. `BTC/USDT`).
        timeframe: The candle interval, e.g. `1m`.
        first_ms: The first candle's open time (epoch ms), None when there are no candles.
        last_ms: The last candle's open time (epoch ms), None when there are no candles.
        rows: How many candles there are.
        missing_minutes: Minutes of candles absent on the timeframe's grid between the first
            and the last candle.
        zero_volume_minutes: Minutes of candles that traded nothing (volume 0).
        path: The cache file or the candle file.
    """

    kind: str
    exchange: str
    symbol: str
    timeframe: str
    first_ms: int | None
    last_ms: int | None
    rows: int
    missing_minutes: int
    zero_volume_minutes: int
    path: Path

    @property
    def end_ms(self) -> int | None:
        """Return the end (exclusive) of the last candle, None when there are no candles."""
        return None if self.last_ms is None else self.last_ms + interval_ms(self.timeframe)


@dataclass(frozen=True, slots=True)
class GapCalendar:
    """Minutes per UTC day and hour: rows are days, columns the hours 0 to 23.

    Attributes:
        days: The open time (epoch ms) of each row's day, oldest first.
        missing: Missing minutes per day and hour (int, shape `(days, 24)`).
        zero_volume: Zero-volume minutes per day and hour.
        in_range: Minutes of each hour inside the dataset's range (first candle to the end
            of the last): 60 inside, 0 before the first candle or after the last.
    """

    days: np.ndarray
    missing: np.ndarray
    zero_volume: np.ndarray
    in_range: np.ndarray


def describe(
    candles: CandleArrays,
    *,
    kind: str,
    exchange: str,
    symbol: str,
    timeframe: str,
    path: str | os.PathLike[str],
) -> DatasetInfo:
    """Return the facts of a dataset's candles (sorted by open time, one per open time)."""
    step = interval_ms(timeframe)
    minutes = step // MINUTE_MS
    ts = candles.timestamp
    zero = int(np.count_nonzero(candles.volume == 0)) * minutes
    if not len(ts):
        return DatasetInfo(kind, exchange, symbol, timeframe, None, None, 0, 0, zero, Path(path))
    first, last = int(ts[0]), int(ts[-1])
    expected = (last - first) // step + 1
    occupied = len(np.unique((ts - first) // step))  # grid slots holding a candle
    missing = (expected - occupied) * minutes
    return DatasetInfo(
        kind, exchange, symbol, timeframe, first, last, len(ts), missing, zero, Path(path)
    )


def cache_dataset(entry: candle_cache.CacheEntry) -> DatasetInfo:
    """Return the facts of one entry of the ccxt cache."""
    return describe(
        entry.candles,
        kind=CACHE_KIND,
        exchange=entry.exchange,
        symbol=entry.symbol,
        timeframe=entry.timeframe,
        path=entry.path,
    )


def cached_datasets() -> list[DatasetInfo]:
    """Return the facts of every readable entry of the ccxt cache, sorted by path."""
    return [cache_dataset(entry) for entry in candle_cache.entries()]


def file_dataset(symbol: str, path: str | os.PathLike[str]) -> DatasetInfo:
    """Return the facts of a candle file (one-minute candles, read by `load_candles`).

    Raises:
        DataError: The file is missing, unreadable or malformed.
    """
    from engine.data.csv_import import load_candles

    loaded = load_candles(path)
    return describe(
        loaded.candles,
        kind=FILE_KIND,
        exchange=FILE_EXCHANGE,
        symbol=symbol,
        timeframe="1m",
        path=path,
    )


def dataset_candles(info: DatasetInfo) -> CandleArrays:
    """Return the candles a dataset describes (read again from its cache entry or file).

    Raises:
        DataError: A file that is no longer readable, or a cache entry that is gone.
    """
    from engine.core.errors import DataError

    if info.kind == FILE_KIND:
        from engine.data.csv_import import load_candles

        return load_candles(info.path).candles
    entry = candle_cache.load(info.exchange, info.symbol, info.timeframe)
    if entry is None:
        raise DataError(
            f"the cache holds no {info.exchange} {info.symbol} {info.timeframe} any more "
            f"({info.path}); download it again"
        )
    return entry.candles


def _minutes_per_hour(minute_index: np.ndarray, hours: int) -> np.ndarray:
    """Count minute indices (from the first day's midnight) per hour, as `(days, 24)`."""
    counts = np.bincount(minute_index // 60, minlength=hours)[:hours]
    return counts.reshape(-1, 24)


def gap_calendar(candles: CandleArrays, timeframe: str) -> GapCalendar:
    """Spread a dataset's missing and zero-volume minutes over UTC days and hours.

    A candle covers the minutes from its open time to the next candle's on the timeframe's
    grid; minutes between the first candle and the end of the last that no candle covers are
    missing. Computed with numpy over the minutes of the days the candles span.
    """
    step_minutes = interval_ms(timeframe) // MINUTE_MS
    ts = np.unique(candles.timestamp)
    if not len(ts):
        empty = np.zeros((0, 24), dtype=np.int64)
        return GapCalendar(np.zeros(0, dtype=np.int64), empty, empty.copy(), empty.copy())
    day0 = int(ts[0]) // DAY_MS * DAY_MS
    end = int(ts[-1]) + step_minutes * MINUTE_MS
    days = -(-(end - day0) // DAY_MS)
    hours = days * 24
    total = days * 24 * 60
    offsets = np.arange(step_minutes)
    opens = (ts - day0) // MINUTE_MS
    covered = np.zeros(total, dtype=bool)
    covered[(opens[:, None] + offsets).ravel()] = True
    first_minute, end_minute = int(opens[0]), (end - day0) // MINUTE_MS
    in_range = np.zeros(total, dtype=bool)
    in_range[first_minute:end_minute] = True
    missing = np.flatnonzero(in_range & ~covered)
    zero_opens = (candles.timestamp[candles.volume == 0] - day0) // MINUTE_MS
    zero = np.unique((zero_opens[:, None] + offsets).ravel())
    return GapCalendar(
        days=day0 + np.arange(days, dtype=np.int64) * DAY_MS,
        missing=_minutes_per_hour(missing, hours),
        zero_volume=_minutes_per_hour(zero, hours),
        in_range=_minutes_per_hour(np.flatnonzero(in_range), hours),
    )
