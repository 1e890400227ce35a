"""Columnar candle storage: numpy arrays per symbol, sliced instead of looped over."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import numpy as np

from engine.core.errors import ConfigError, DataError
from engine.core.intervals import interval_ms
from engine.core.models import Candle

MINUTE_MS = 60_000


class CandleArrays:
    """Candles as parallel arrays: int64 open times (epoch ms) and float64 OHLCV.

    Treat the arrays as read-only: slices share memory with the store they come from.
    """

    __slots__ = ("_typical_volume", "close", "high", "low", "open", "timestamp", "volume")

    def __init__(
        self,
        timestamp: np.ndarray,
        open: np.ndarray,
        high: np.ndarray,
        low: np.ndarray,
        close: np.ndarray,
        volume: np.ndarray,
        typical_volume: np.ndarray | None = None,
    ) -> None:
        self.timestamp = timestamp
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume
        self._typical_volume = typical_volume

    def __len__(self) -> int:
        return int(self.timestamp.shape[0])

    def __repr__(self) -> str:
        return f"CandleArrays({len(self)} candles)"

    @property
    def typical_volume(self) -> np.ndarray:
        """Return `((high + low + close) / 3) * volume` per candle, the VWAP numerator terms."""
        if self._typical_volume is None:
            self._typical_volume = ((self.high + self.low + self.close) / 3) * self.volume
        return self._typical_volume

    def slice(self, start: int, stop: int) -> CandleArrays:
        """Return candles `[start, stop)` as views (no copy)."""
        tv = self._typical_volume
        return CandleArrays(
            self.timestamp[start:stop],
            self.open[start:stop],
            self.high[start:stop],
            self.low[start:stop],
            self.close[start:stop],
            self.volume[start:stop],
            None if tv is None else tv[start:stop],
        )

    def take(self, indices: np.ndarray) -> CandleArrays:
        """Return the candles at `indices` (a copy)."""
        return CandleArrays(
            self.timestamp[indices],
            self.open[indices],
            self.high[indices],
            self.low[indices],
            self.close[indices],
            self.volume[indices],
        )

    def to_candles(self) -> list[Candle]:
        """Return the candles as `Candle` tuples (for user code)."""
        columns = (
            self.timestamp.tolist(),
            self.open.tolist(),
            self.high.tolist(),
            self.low.tolist(),
            self.close.tolist(),
            self.volume.tolist(),
        )
        return list(map(Candle._make, zip(*columns, strict=True)))

    def read_only(self) -> CandleArrays:
        """Return views of these candles (no copy) that cannot be written to.

        The VWAP terms are computed first, so views and slices of them share them.
        """
        columns = [
            self.timestamp,
            self.open,
            self.high,
            self.low,
            self.close,
            self.volume,
            self.typical_volume,
        ]
        views = []
        for column in columns:
            view = column.view()
            view.flags.writeable = False
            views.append(view)
        return CandleArrays(*views)

    @classmethod
    def from_columns(
        cls,
        timestamp: Iterable[int] | np.ndarray,
        open: Iterable[float] | np.ndarray,
        high: Iterable[float] | np.ndarray,
        low: Iterable[float] | np.ndarray,
        close: Iterable[float] | np.ndarray,
        volume: Iterable[float] | np.ndarray,
    ) -> CandleArrays:
        """Build arrays from six columns (copied into contiguous int64/float64 arrays)."""
        return cls(
            np.ascontiguousarray(timestamp, dtype=np.int64),
            np.ascontiguousarray(open, dtype=np.float64),
            np.ascontiguousarray(high, dtype=np.float64),
            np.ascontiguousarray(low, dtype=np.float64),
            np.ascontiguousarray(close, dtype=np.float64),
            np.ascontiguousarray(volume, dtype=np.float64),
        )

    @classmethod
    def from_candles(cls, candles: Iterable[Any]) -> CandleArrays:
        """Build arrays from `Candle`s, dicts or `(ts, o, h, l, c, v)` tuples (ccxt's shape)."""
        rows = [candle_tuple(c) for c in candles]
        if not rows:
            return cls.from_columns([], [], [], [], [], [])
        ts, o, h, low, c, v = zip(*rows, strict=True)
        return cls.from_columns(ts, o, h, low, c, v)


def candle_tuple(candle: Any) -> tuple[Any, Any, Any, Any, Any, Any]:
    """Normalise one candle given as a `Candle`, a mapping or a 6-sequence."""
    if isinstance(candle, Mapping):
        try:
            return (
                candle["timestamp"],
                candle["open"],
                candle["high"],
                candle["low"],
                candle["close"],
                candle["volume"],
            )
        except KeyError as exc:
            raise DataError(
                f"candle {dict(candle)!r} has no field {exc.args[0]!r}; a candle needs "
                "timestamp, open, high, low, close and volume"
            ) from None
    values = tuple(candle)
    if len(values) != 6:
        raise DataError(
            f"candle {candle!r} has {len(values)} values; expected 6: "
            "(timestamp, open, high, low, close, volume)"
        )
    return values


def to_ms(value: datetime | int | float) -> int:
    """Convert an aware datetime or epoch milliseconds to epoch milliseconds."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ConfigError(
                f"datetime {value.isoformat()} has no timezone; pass an aware datetime "
                "such as datetime(2024, 1, 1, tzinfo=timezone.utc)"
            )
        return round(value.timestamp() * 1000)
    return int(value)


def aggregate(minutes: CandleArrays, step_ms: int) -> CandleArrays:
    """Aggregate one-minute candles into epoch-aligned buckets of `step_ms`; skip empty ones."""
    if step_ms == MINUTE_MS or len(minutes) == 0:
        return minutes
    bucket = minutes.timestamp - minutes.timestamp % step_ms
    starts = np.flatnonzero(np.concatenate(([True], bucket[1:] != bucket[:-1])))
    ends = np.concatenate((starts[1:], [len(minutes)])) - 1
    return CandleArrays.from_columns(
        bucket[starts],
        minutes.open[starts],
        np.maximum.reduceat(minutes.high, starts),
        np.minimum.reduceat(minutes.low, starts),
        minutes.close[ends],
        np.add.reduceat(minutes.volume, starts),
    )


class CandleTuples:
    """`Candle` tuples over one set of arrays, built once per block and served as list slices.

    A strategy asking for its last candles at every signal would otherwise build the same
    tuples again and again. Blocks of `BLOCK` candles are built on first use; only the `KEEP`
    most recently built ones are kept (runs move forward in time), so memory stays small.
    """

    BLOCK = 1024
    KEEP = 8

    def __init__(self, arrays: CandleArrays) -> None:
        self._arrays = arrays
        self._blocks: dict[int, list[Candle]] = {}
        self._lock = threading.Lock()  # only taken to build a block

    def slice(self, start: int, stop: int) -> list[Candle]:
        """Return candles `[start, stop)` as a new list of (shared, immutable) tuples."""
        if stop <= start:
            return []
        size = self.BLOCK
        first, last = start // size, (stop - 1) // size
        if first == last:
            base = first * size
            block = self._blocks.get(first) or self._build(first)
            return block[start - base : stop - base]
        out: list[Candle] = []
        for k in range(first, last + 1):
            base = k * size
            block = self._blocks.get(k) or self._build(k)
            out.extend(block[max(start - base, 0) : stop - base])
        return out

    def _build(self, k: int) -> list[Candle]:
        """Build block `k`'s tuples and keep them (dropping the oldest block past `KEEP`)."""
        with self._lock:
            block = self._arrays.slice(k * self.BLOCK, (k + 1) * self.BLOCK).to_candles()
            if len(self._blocks) >= self.KEEP:
                del self._blocks[next(iter(self._blocks))]
            self._blocks[k] = block
        return block


class CandleStore:
    """One-minute candles of several symbols, loaded once, served as slices.

    A store can be filled eagerly with `put` or lazily through a `loader(symbol)` that
    returns `CandleArrays` (the demo market generates symbols on first use; its
    `span_hint(symbol)` tells their first and last minutes without generating them). Its bound
    method `get_candles` has the signature of an exchange's `get_candles`, and the engine
    recognises it to take the array fast path instead of building candle lists.

    Attributes:
        version: how many times `put` has replaced or added data; what is kept from the
            arrays (a run's indicator series) is checked again only when it changes.
    """

    def __init__(
        self,
        loader: Callable[[str], CandleArrays] | None = None,
        symbols: Iterable[str] = (),
        span_hint: Callable[[str], tuple[int, int] | None] | None = None,
    ) -> None:
        self._loader = loader
        self._span_hint = span_hint
        self._known = list(symbols)
        self._data: dict[tuple[str, int], CandleArrays] = {}
        self._tuples: dict[tuple[str, int], CandleTuples] = {}
        self._lock = threading.Lock()
        self.version = 0

    def put(self, symbol: str, candles: CandleArrays) -> None:
        """Store (or replace) the one-minute candles of `symbol`."""
        with self._lock:
            for key in [k for k in self._data if k[0] == symbol]:
                del self._data[key]
                self._tuples.pop(key, None)
            self._data[(symbol, MINUTE_MS)] = candles
            if symbol not in self._known:
                self._known.append(symbol)
            self.version += 1

    def symbols(self) -> list[str]:
        """Return the symbols this store holds or can load."""
        return list(self._known)

    def span(self, symbol: str) -> tuple[int, int] | None:
        """Return the open times of `symbol`'s first and last minutes, None with no candles.

        A store that generates or loads its symbols lazily may know their span without
        loading them (`span_hint`).
        """
        if (symbol, MINUTE_MS) not in self._data and self._span_hint is not None:
            return self._span_hint(symbol)
        ts = self.arrays(symbol).timestamp
        return (int(ts[0]), int(ts[-1])) if len(ts) else None

    def arrays(self, symbol: str, interval: str = "1m") -> CandleArrays:
        """Return all candles of `symbol` at `interval` (aggregated from 1m and cached)."""
        step = interval_ms(interval)
        key = (symbol, step)
        found = self._data.get(key)
        if found is not None:
            return found
        with self._lock:
            minutes = self._data.get((symbol, MINUTE_MS))
            if minutes is None:
                if self._loader is None or (self._known and symbol not in self._known):
                    raise DataError(
                        f"no candles for symbol {symbol!r}; this source has "
                        f"{', '.join(self._known) or 'no symbols'}"
                    )
                minutes = self._loader(symbol)
                self._data[(symbol, MINUTE_MS)] = minutes
            result = aggregate(minutes, step)
            self._data[key] = result
            return result

    def window(self, symbol: str, interval: str, since_ms: int, limit: int) -> CandleArrays:
        """Return up to `limit` candles whose open time is `>= since_ms`, as views."""
        data = self.arrays(symbol, interval)
        start = int(np.searchsorted(data.timestamp, since_ms, side="left"))
        return data.slice(start, min(start + max(limit, 0), len(data)))

    def get_candles(
        self, symbol: str, interval: str, since: datetime | int, limit: int
    ) -> list[Candle]:
        """Return up to `limit` candles opening at or after `since` (the exchange contract)."""
        data = self.arrays(symbol, interval)
        start = int(np.searchsorted(data.timestamp, to_ms(since), side="left"))
        key = (symbol, interval_ms(interval))
        tuples = self._tuples.get(key)
        if tuples is None:
            tuples = self._tuples[key] = CandleTuples(data)
        return tuples.slice(start, min(start + max(limit, 0), len(data)))
