"""ClientExchange: candles before and after the execution time, VWAP, formatting.

See docs/semantics.md#exchange.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np

from engine.core.clock import Clock
from engine.core.config import Settings
from engine.core.errors import DataError, EngineError
from engine.core.intervals import interval_ms
from engine.core.logger import engine_logger
from engine.core.models import Candle
from engine.core.schemas import ExchangeSchema
from engine.data.store import CandleArrays, CandleStore, CandleTuples

_log = engine_logger(__name__)

MINUTE_MS = 60_000
_INVALID = "VALIDATE_NO_INCOMPLETE_CANDLES_FN"


def ms_to_datetime(ms: int) -> datetime:
    """Return the aware UTC datetime of epoch milliseconds."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def vwap(candles: CandleArrays, start: int, stop: int) -> float:
    """Return the VWAP of candles `[start, stop)` with upstream's exact summation order.

    Typical price `(high + low + close) / 3` weighted by volume, summed left to right from
    zero; with no volume at all, the simple mean of the closes.
    """
    acc = 0.0
    for x in candles.typical_volume[start:stop].tolist():
        acc += x
    volume = 0.0
    for v in candles.volume[start:stop].tolist():
        volume += v
    if volume == 0:
        closes = candles.close[start:stop].tolist()
        total = 0.0
        for c in closes:
            total += c
        return total / len(closes)
    return acc / volume


VWAP_BLOCK = 4096


def vwap_block(candles: CandleArrays, count: int, block: int) -> np.ndarray:
    """Return the VWAP of the `count` candles ending at each index of block `block`.

    Item `j` is `vwap(candles, i - count + 1, i + 1)` for `i = block * VWAP_BLOCK + j`, NaN
    where fewer than `count` candles end there. Element-wise sums in the same left-to-right
    order as `vwap`, so every value is bit for bit the same as its scalar twin.
    """
    first = block * VWAP_BLOCK
    stop = min(first + VWAP_BLOCK, len(candles))
    out = np.full(stop - first, np.nan)
    begin = max(first, count - 1)  # the first index that ends a whole window
    if begin >= stop:
        return out
    lo, size = begin - count + 1, stop - begin
    acc, volume = np.zeros(size), np.zeros(size)
    tv, vol = candles.typical_volume, candles.volume
    for j in range(lo, lo + count):
        acc += tv[j : j + size]
    for j in range(lo, lo + count):
        volume += vol[j : j + size]
    with np.errstate(divide="ignore", invalid="ignore"):
        values = acc / volume
    no_volume = volume == 0
    if no_volume.any():  # the simple mean of the closes there, as `vwap` takes it
        closes, close = np.zeros(size), candles.close
        for j in range(lo, lo + count):
            closes += close[j : j + size]
        values = np.where(no_volume, closes / count, values)
    out[begin - first :] = values
    return out


def check_candles(candles: CandleArrays, settings: Settings) -> None:
    """Reject incomplete or anomalous candles exactly like upstream (docs/semantics.md)."""
    if len(candles) == 0:
        return
    prices = np.concatenate((candles.open, candles.high, candles.low, candles.close))
    positive = np.sort(prices[prices > 0])
    if len(positive) == 0:
        reference = 0.0
    elif len(candles) >= settings.min_candles_for_median:
        reference = float(positive[len(positive) // 2])
    else:
        reference = float(positive.sum() / len(positive))
    if reference == 0:
        raise DataError(f"{_INVALID}: cannot calculate reference price (all prices are zero)")
    threshold = reference / settings.anomaly_threshold_factor
    rows = zip(
        candles.timestamp.tolist(),
        candles.open.tolist(),
        candles.high.tolist(),
        candles.low.tolist(),
        candles.close.tolist(),
        candles.volume.tolist(),
        strict=True,
    )
    for i, (ts, o, h, low, c, v) in enumerate(rows):
        if not all(math.isfinite(x) for x in (o, h, low, c, v, ts)):
            raise DataError(f"{_INVALID}: candle[{i}] has invalid numeric values (NaN or Infinity)")
        if min(o, h, low, c) <= 0 or v < 0:
            raise DataError(f"{_INVALID}: candle[{i}] has zero or negative values")
        if min(o, h, low, c) < threshold:
            raise DataError(
                f"{_INVALID}: candle[{i}] has anomalously low price. OHLC: [{o}, {h}, {low}, {c}], "
                f"reference: {reference}, threshold: {threshold}"
            )


class ClientExchange:
    """Serves candles to strategies and the run loops, with or without a columnar store.

    When the schema's `get_candles` is the bound method of a `CandleStore`, candles are
    array slices (the fast path); otherwise the user function is called with upstream's
    retries and validation, and its answer is converted to arrays.
    """

    def __init__(self, schema: ExchangeSchema, settings: Settings, clock: Clock) -> None:
        self.schema = schema
        self.name = schema.exchange_name or ""
        self.settings = settings
        self.clock = clock
        owner = getattr(schema.get_candles, "__self__", None)
        self.store: CandleStore | None = owner if isinstance(owner, CandleStore) else None
        self._callbacks = schema.callbacks
        watched = schema.callbacks is not None and schema.callbacks.on_candle_data is not None
        self._direct = self.store is not None and not watched
        self._last_vwap: tuple[str, int, float] = ("", -1, 0.0)
        self._vwaps: dict[tuple[str, int], np.ndarray] = {}
        self._grids: dict[tuple[str, str], tuple[CandleArrays, int, int, int]] = {}
        self._priced: dict[str, tuple[int, int]] = {}
        self._tuples: dict[tuple[str, str], CandleTuples] = {}

    def fetch(self, symbol: str, interval: str, since_ms: int, limit: int) -> CandleArrays:
        """Return up to `limit` candles opening at or after `since_ms`."""
        if self.store is not None:
            data = self.store.window(symbol, interval, since_ms, limit)
        else:
            data = self._fetch_user(symbol, interval, since_ms, limit)
        if self._callbacks is not None and self._callbacks.on_candle_data is not None:
            self._callbacks.on_candle_data(
                symbol, interval, ms_to_datetime(since_ms), limit, data.to_candles()
            )
        return data

    def _fetch_user(self, symbol: str, interval: str, since_ms: int, limit: int) -> CandleArrays:
        fn = self.schema.get_candles
        assert fn is not None  # checked at registration
        attempts = max(self.settings.candles_retry_count, 1)
        last: Exception | None = None
        for attempt in range(attempts):
            try:
                raw = fn(symbol, interval, ms_to_datetime(since_ms), limit)
                data = CandleArrays.from_candles(raw or [])
                check_candles(data, self.settings)
                return data
            except Exception as exc:
                last = exc
                _log.warn(
                    f"exchange {self.name}: get_candles({symbol}, {interval}) attempt "
                    f"{attempt + 1}/{attempts} failed: {exc!r}"
                )
                self.clock.sleep(self.settings.candles_retry_delay_ms)
        assert last is not None
        if isinstance(last, EngineError):
            raise last
        raise DataError(
            f"exchange {self.name}: get_candles({symbol!r}, {interval!r}) failed {attempts} "
            f"times; last error: {last!r}"
        ) from last

    def _range(
        self, symbol: str, interval: str, since: int, limit: int, last_open: int
    ) -> tuple[CandleArrays, int, int]:
        """Locate in the store the candles a fetch-then-filter would return, without copies."""
        grid = self._grids.get((symbol, interval))
        if grid is None:
            grid = self._grids[(symbol, interval)] = self._grid(symbol, interval)
        full, first, step, n = grid
        # Plain comparisons instead of min()/max(): this runs twice per signal.
        if step:
            lo = -((first - since) // step)
            lo = 0 if lo < 0 else n if lo > n else lo
            hi = (last_open - first) // step + 1
            hi = 0 if hi < 0 else n if hi > n else hi
        else:
            ts = full.timestamp
            lo = int(ts.searchsorted(since, "left"))
            hi = int(ts.searchsorted(last_open, "right"))
        end = lo + limit if limit > 0 else lo
        if end < hi:
            hi = end
        return full, lo, hi if hi > lo else lo

    def _grid(self, symbol: str, interval: str) -> tuple[CandleArrays, int, int, int]:
        """Return a symbol's arrays with their first time and step when evenly spaced.

        Evenly spaced candles (no gap) are located by arithmetic instead of binary search.
        """
        assert self.store is not None
        full = self.store.arrays(symbol, interval).read_only()
        ts = full.timestamp
        n = len(full)
        step = int(ts[1] - ts[0]) if n > 1 else 0
        regular = step > 0 and bool(np.all(np.diff(ts) == step))
        return full, int(ts[0]) if n else 0, step if regular else 0, n

    def _window(self, interval: str, limit: int, when: int) -> tuple[int, int]:
        """Return `(since, last_open)` of the backwards window at `when`.

        See docs/semantics.md#candles-before.
        """
        step = interval_ms(interval)
        if self.settings.legacy:
            adjust = step * limit - step
            if not adjust:
                raise EngineError(f"ClientExchange unknown time adjust for interval={interval}")
            return when - adjust, when
        if limit < 1:
            raise DataError(f"get_candles: limit must be at least 1, was {limit}")
        last_open = when - step
        since = last_open - (limit - 1) * step
        return since - since % step, last_open

    def get_candles(self, symbol: str, interval: str, limit: int, when: int) -> CandleArrays:
        """Return the `limit` candles before `when` (the profile's window, docs/semantics.md)."""
        since, last_open = self._window(interval, limit, when)
        if self._direct:
            full, lo, hi = self._range(symbol, interval, since, limit, last_open)
            return full.slice(lo, hi)
        data = self.fetch(symbol, interval, since, limit)
        return _between(data, since, last_open, self.store is not None)

    def candle_list(self, symbol: str, interval: str, limit: int, when: int) -> list[Candle]:
        """Return `get_candles` as `Candle` tuples, built once per run on a store.

        The same window as `get_candles`; on the store fast path the tuples are built once per
        block of candles and sliced, instead of once per candle and call.
        """
        if not self._direct:
            return self.get_candles(symbol, interval, limit, when).to_candles()
        since, last_open = self._window(interval, limit, when)
        full, lo, hi = self._range(symbol, interval, since, limit, last_open)
        tuples = self._tuples.get((symbol, interval))
        if tuples is None:
            tuples = self._tuples[(symbol, interval)] = CandleTuples(full)
        return tuples.slice(lo, hi)

    def candle_arrays(self, symbol: str, interval: str, limit: int, when: int) -> CandleArrays:
        """Return `get_candles` as read-only numpy arrays (views of the store, no copy)."""
        candles = self.get_candles(symbol, interval, limit, when)
        return candles if self._direct else candles.read_only()

    def get_next_candles(self, symbol: str, interval: str, limit: int, when: int) -> CandleArrays:
        """Return up to `limit` candles from `when` on (backtests only).

        Depends only on the data: the wall clock is never read, so data dated after the
        machine's clock is served like any other. See docs/semantics.md#candles-after.
        """
        candles, lo, hi = self.next_candles_span(symbol, interval, limit, when)
        return candles.slice(lo, hi) if self._direct else candles

    def next_candles_span(
        self, symbol: str, interval: str, limit: int, when: int
    ) -> tuple[CandleArrays, int, int]:
        """Return `(candles, lo, hi)` where `candles[lo:hi]` is what `get_next_candles` returns.

        On a store `candles` is the whole symbol, so a run resolves a signal without a slice.
        """
        end = when + limit * interval_ms(interval)
        if self._direct:
            return self._range(symbol, interval, when, limit, end)
        data = self.fetch(symbol, interval, when, limit)
        data = _between(data, when, end, self.store is not None)
        return data, 0, len(data)

    def average_price(self, symbol: str, when: int) -> float:
        """Return the VWAP of the last `CC_AVG_PRICE_CANDLES_COUNT` one-minute candles.

        On a store the answer for one (symbol, time) is remembered: stored data never changes.
        """
        if self._direct:
            last = self._last_vwap
            if last[1] == when and last[0] == symbol:
                return last[2]
            limit = self.settings.avg_price_candles
            since, last_open = self._window("1m", limit, when)
            full, lo, hi = self._range(symbol, "1m", since, limit, last_open)
            if hi == lo:
                raise DataError(
                    f"ClientExchange getAveragePrice: no candles data for symbol={symbol}"
                )
            value = self._whole_vwap(symbol, full, hi - 1) if hi - lo == limit else math.nan
            if value != value:  # a shorter window (or NaN prices): computed on its own
                value = vwap(full, lo, hi)
            self._last_vwap = (symbol, when, value)
            return value
        candles = self.get_candles(symbol, "1m", self.settings.avg_price_candles, when)
        if len(candles) == 0:
            raise DataError(f"ClientExchange getAveragePrice: no candles data for symbol={symbol}")
        return vwap(candles, 0, len(candles))

    def check_average_price(self, symbol: str, when: int) -> None:
        """Raise what `average_price(symbol, when)` would raise, computing it only if needed.

        The backtest-kit-1.4.10 profile asks for the VWAP before `get_signal`, as upstream
        does, and fails the frame when no candle is there; with no risk profile its value is
        used only with a signal. On a store's evenly spaced one-minute candles, whether a
        candle is there is one comparison.
        """
        bounds = self._priced.get(symbol)
        if bounds is None:
            bounds = self._priced[symbol] = self._priced_bounds(symbol)
        if not bounds[0] <= when <= bounds[1]:
            self.average_price(symbol, when)

    def _priced_bounds(self, symbol: str) -> tuple[int, int]:
        """Return the times whose 1.4.10 VWAP window holds a candle (empty if not known).

        The window is the `limit` minutes up to and including `when`: it holds a candle from
        the first open time to `limit - 1` minutes after the last one.
        """
        limit = self.settings.avg_price_candles
        if not (self._direct and self.settings.legacy and limit > 1):
            return 1, 0
        if (symbol, "1m") not in self._grids:
            self._grids[(symbol, "1m")] = self._grid(symbol, "1m")
        _, first, step, n = self._grids[(symbol, "1m")]
        if step != MINUTE_MS or n == 0:
            return 1, 0
        return first, first + (n - 1 + limit - 1) * MINUTE_MS

    def _whole_vwap(self, symbol: str, full: CandleArrays, last: int) -> float:
        """Return the VWAP of the whole window ending at candle `last`, from blocks built once."""
        block = last // VWAP_BLOCK
        values = self._vwaps.get((symbol, block))
        if values is None:
            count = self.settings.avg_price_candles
            values = self._vwaps[(symbol, block)] = vwap_block(full, count, block)
            if len(self._vwaps) > 4:  # runs move forward: keep the few latest blocks
                del self._vwaps[next(iter(self._vwaps))]
        return float(values[last - block * VWAP_BLOCK])

    def first_known_ms(self, symbol: str) -> int | None:
        """Return the first time at which a one-minute candle of `symbol` has closed.

        Only a store knows where its data begins; for user code this is None. Under the
        `backtest-kit-1.4.10` profile it is None as well: that profile sees the candle that
        opens at the execution time (upstream's look-ahead), so its first candle's open is
        already priced. None too for a symbol the store does not have.
        """
        if self.store is None or self.settings.legacy:
            return None
        try:
            span = self.store.span(symbol)
        except DataError:  # an unknown symbol: the run reports it at its first frame
            return None
        return span[0] + MINUTE_MS if span is not None else None

    def format_price(self, symbol: str, price: float) -> str:
        """Format a price the way the exchange wants it."""
        fn = self.schema.format_price
        assert fn is not None
        return str(fn(symbol, price))

    def format_quantity(self, symbol: str, quantity: float) -> str:
        """Format a quantity the way the exchange wants it."""
        fn = self.schema.format_quantity
        assert fn is not None
        return str(fn(symbol, quantity))


def _between(data: CandleArrays, first: int, last: int, ascending: bool) -> CandleArrays:
    """Keep candles with `first <= timestamp <= last` (both inclusive), like upstream's filter.

    `ascending` data (a store's slices) is cut by binary search; user data is masked.
    """
    ts = data.timestamp
    n = len(data)
    if n == 0:
        return data
    if ascending:
        if ts[0] >= first and ts[n - 1] <= last:
            return data
        lo = int(np.searchsorted(ts, first, side="left"))
        hi = int(np.searchsorted(ts, last, side="right"))
        return data.slice(lo, max(lo, hi))
    inside = (ts >= first) & (ts <= last)
    return data if bool(inside.all()) else data.take(np.flatnonzero(inside))
