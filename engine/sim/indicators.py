"""Indicators computed once over a run's candles with TA-Lib, looked up without look-ahead.

`indicator("RSI", symbol, "15m", timeperiod=14)` inside strategy code returns the value of
a TA-Lib function (any of `talib.get_functions()`, called through `talib.abstract` by name
with its own parameters) at the current execution time. See docs/indicators.md.

How values are computed:

* On a columnar store (the demo market, candle files, the ccxt cache) the function runs
  once per run over all the candles of the interval, aggregated from one-minute candles by
  the store. A lookup at time t indexes the result by the last candle the profile's
  `get_candles` shows at t: under `default` the last candle closed by t (its open is at
  most t minus the interval), so a value never depends on a later candle; under
  `backtest-kit-1.4.10` the candle opening at t is included, as upstream's `getCandles`
  does. TA-Lib's functions are causal, so a value at candle i is the one the function gives
  on candles 0..i.
* Elsewhere (a user `get_candles`, live feeds) the series is read through the exchange's
  `get_candles`, seeded with `WARMUP` candles and extended with the newly visible candles
  only; the function is recomputed over the kept series (at most `KEEP` candles) when the
  series changes, at most once per new candle.

The cache lives with the run's exchange client, so each run, portfolio run and walker
worker process has its own, keyed by (symbol, interval, name, parameters).
"""

from __future__ import annotations

import difflib
import math
import weakref
from collections import namedtuple
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from engine.core import context
from engine.core.errors import ConfigError
from engine.core.intervals import interval_ms
from engine.data.store import CandleArrays

if TYPE_CHECKING:
    from engine.sim.exchange import ClientExchange

WARMUP = 1000
"""Candles read first from an exchange that is not a columnar store (live, user sources)."""
KEEP = 10_000
"""Most candles kept per series from such an exchange; older ones are dropped."""

Params = tuple[tuple[str, Any], ...]


class IndicatorSpec(NamedTuple):
    """One indicator a strategy declares: a TA-Lib function name, an interval, parameters."""

    name: str
    interval: str
    params: Params = ()


def _talib_function(name: str) -> Any:
    """Return a fresh `talib.abstract.Function` for `name` or explain which names exist."""
    import talib
    from talib import abstract

    if not isinstance(name, str) or name.upper() not in talib.get_functions():
        hint = difflib.get_close_matches(str(name).upper(), talib.get_functions(), n=1)
        fix = f"did you mean {hint[0]!r}? " if hint else ""
        raise ConfigError(
            f"indicator name {name!r} is not a TA-Lib function; {fix}use a name from "
            "talib.get_functions(), such as 'RSI', 'SMA', 'EMA', 'MACD', 'BBANDS' or 'STOCH'"
        )
    return abstract.Function(name.upper())  # type: ignore[attr-defined]


def check(name: str, interval: str, params: Mapping[str, Any]) -> IndicatorSpec:
    """Validate an indicator's name, interval and parameters; return its normalised spec.

    Raises:
        ConfigError: naming the field, the value and the fix.
    """
    function = _talib_function(name)
    interval_ms(interval)
    known = function.parameters
    for key, value in params.items():
        if key not in known:
            takes = ", ".join(f"{k}={v!r}" for k, v in known.items()) or "no parameters"
            raise ConfigError(
                f"indicator {function.info['name']}: parameter {key}={value!r} is unknown; "
                f"it takes {takes}"
            )
        default = known[key]
        expected = type(default)
        fits = isinstance(value, expected) or (expected is float and isinstance(value, int))
        if not fits or isinstance(value, bool):
            raise ConfigError(
                f"indicator {function.info['name']}: parameter {key}={value!r} must be "
                f"{'an int' if expected is int else 'a number'} (default {default!r})"
            )
    return IndicatorSpec(function.info["name"], interval, tuple(sorted(params.items())))


def compute(spec: IndicatorSpec, candles: CandleArrays) -> tuple[list[str], list[np.ndarray]]:
    """Run the TA-Lib function of `spec` over `candles`; return output names and arrays.

    The arrays are read-only: lookups hand out views of them.
    """
    function = _talib_function(spec.name)
    inputs = {
        "open": candles.open,
        "high": candles.high,
        "low": candles.low,
        "close": candles.close,
        "volume": candles.volume,
    }
    try:
        function.set_parameters(dict(spec.params))
        raw = function.run(inputs)
    except Exception as exc:
        given = ", ".join(f"{k}={v!r}" for k, v in spec.params) or "the defaults"
        defaults = ", ".join(f"{k}={v!r}" for k, v in function.parameters.items())
        raise ConfigError(
            f"indicator {spec.name}: TA-Lib refused parameters {given} ({exc}); "
            f"use values in TA-Lib's range, the defaults are {defaults}"
        ) from None
    arrays = list(raw) if isinstance(raw, list) else [raw]
    for array in arrays:
        array.flags.writeable = False
    return list(function.output_names), arrays


class _Outputs:
    """One computed indicator: its read-only arrays, their values as floats, a tuple type.

    `array` and `values` are the only output's array and floats (None with several outputs).
    """

    __slots__ = ("array", "arrays", "floats", "shape", "values")

    def __init__(self, spec: IndicatorSpec, candles: CandleArrays) -> None:
        names, self.arrays = compute(spec, candles)
        self.floats = [a.tolist() for a in self.arrays]
        self.shape: Any = namedtuple(spec.name.title(), names)  # type: ignore[misc]
        single = len(self.arrays) == 1
        self.array = self.arrays[0] if single else None
        self.values = self.floats[0] if single else None


class _Lookup:
    """One way `indicator()` is called in a run: its series, spec and window."""

    __slots__ = ("outputs", "series", "spec", "version", "window")

    def __init__(self, series: _StoreSeries | _FeedSeries, spec: IndicatorSpec, window: Any):
        if window is not None and (not isinstance(window, int) or window < 1):
            raise ConfigError(
                f"indicator {spec.name}: window={window!r} must be a positive int (the number "
                "of latest values to return), or left out for the latest value alone"
            )
        self.series = series
        self.spec = spec
        self.window: int | None = window
        self.version = -1
        self.outputs: _Outputs | None = None

    def value(self, when: int) -> Any:
        """Return the latest value at `when`, or the last `window` values."""
        series = self.series
        count = series.count if series.when == when else series.visible(when)
        outputs = self.outputs
        if outputs is None or self.version != series.version:
            outputs = self.outputs = series.output(self.spec)
            self.version = series.version
        window = self.window
        if window is None:
            values = outputs.values
            if values is not None:
                return values[count - 1] if count else math.nan
            return outputs.shape(*[f[count - 1] if count else math.nan for f in outputs.floats])
        start = count - window if count > window else 0
        array = outputs.array
        if array is not None:
            return array[start:count]
        return outputs.shape(*[a[start:count] for a in outputs.arrays])


class _StoreSeries:
    """The candles of one (symbol, interval) on a columnar store, with their indicators."""

    def __init__(self, exchange: ClientExchange, symbol: str, interval: str) -> None:
        assert exchange.store is not None
        self.store = exchange.store
        self.symbol = symbol
        self.interval = interval
        self.step = interval_ms(interval)
        self.shift = 0 if exchange.settings.legacy else self.step
        self.outputs: dict[IndicatorSpec, _Outputs] = {}
        self.when = -1
        self.count = 0
        self.version = 0
        self._load()

    def _load(self) -> None:
        self.loaded = self.store.version
        self.candles = self.store.arrays(self.symbol, self.interval)
        ts = self.candles.timestamp
        self.size = len(ts)
        self.first = int(ts[0]) if self.size else 0
        regular = self.size > 1 and bool(np.all(np.diff(ts) == self.step))
        self.regular = regular  # evenly spaced: counted by arithmetic, not binary search
        self.outputs.clear()
        self.version += 1

    def _reload_if_replaced(self) -> None:
        """Load the series again if the store's `put` replaced its data since the load."""
        self.loaded = self.store.version
        if self.store.arrays(self.symbol, self.interval) is not self.candles:
            self._load()

    def visible(self, when: int) -> int:
        """Return how many candles the profile's `get_candles` shows at `when`."""
        if when != self.when:
            if self.store.version != self.loaded:
                self._reload_if_replaced()
            last_open = when - self.shift
            if self.regular:
                count = (last_open - self.first) // self.step + 1
                n = self.size
                self.count = 0 if count < 0 else n if count > n else count
            else:
                self.count = int(self.candles.timestamp.searchsorted(last_open, "right"))
            self.when = when
        return self.count

    def output(self, spec: IndicatorSpec) -> _Outputs:
        """Return the indicator computed over the whole series (once)."""
        found = self.outputs.get(spec)
        if found is None:
            found = self.outputs[spec] = _Outputs(spec, self.candles)
        return found


class _FeedSeries:
    """The candles of one (symbol, interval) read through `get_candles`, extended as time goes."""

    def __init__(self, exchange: ClientExchange, symbol: str, interval: str) -> None:
        self.exchange = weakref.ref(exchange)  # the run's cache must not keep its run alive
        self.symbol = symbol
        self.step = interval_ms(interval)
        self.interval = interval
        self.candles = CandleArrays.from_columns([], [], [], [], [], [])
        self.outputs: dict[IndicatorSpec, _Outputs] = {}
        self.when = -1
        self.count = 0
        self.version = 0

    def visible(self, when: int) -> int:
        """Read the candles that became visible by `when`; return the series' length."""
        if when != self.when:
            self.when = when
            self._extend(when)
            self.count = len(self.candles)
        return self.count

    def _extend(self, when: int) -> None:
        known = self.candles
        limit = (when - int(known.timestamp[-1])) // self.step + 1 if len(known) else WARMUP
        if limit > WARMUP:  # too long since the last read: start again from a warm-up
            known, limit = known.slice(0, 0), WARMUP
        limit = max(limit, 2)  # the 1.4.10 window refuses a limit of 1
        exchange = self.exchange()
        assert exchange is not None  # a lookup runs inside the run that holds the exchange
        fresh = exchange.get_candles(self.symbol, self.interval, limit, when)
        if len(fresh) == 0:
            return
        keep = int(known.timestamp.searchsorted(int(fresh.timestamp[0]), "left"))
        if _same(known.slice(keep, len(known)), fresh):
            return  # nothing new since the last read
        merged = [
            np.concatenate((getattr(known, f)[:keep], getattr(fresh, f)))[-KEEP:]
            for f in ("timestamp", "open", "high", "low", "close", "volume")
        ]
        self.candles = CandleArrays.from_columns(*merged)
        self.outputs.clear()
        self.version += 1

    def output(self, spec: IndicatorSpec) -> _Outputs:
        """Return the indicator over the series as it stands (recomputed after a change)."""
        found = self.outputs.get(spec)
        if found is None:
            found = self.outputs[spec] = _Outputs(spec, self.candles)
        return found


def _same(a: CandleArrays, b: CandleArrays) -> bool:
    fields = ("timestamp", "open", "high", "low", "close", "volume")
    return len(a) == len(b) and all(np.array_equal(getattr(a, f), getattr(b, f)) for f in fields)


class _RunCache:
    """Every series and lookup of one run (one exchange client)."""

    def __init__(self) -> None:
        self.series: dict[tuple[str, str], _StoreSeries | _FeedSeries] = {}
        self.lookups: dict[tuple[Any, ...], _Lookup] = {}


_caches: weakref.WeakKeyDictionary[ClientExchange, _RunCache] = weakref.WeakKeyDictionary()
_last: tuple[Callable[[], ClientExchange | None], _RunCache] = (lambda: None, _RunCache())
"""The run of the last lookup: consecutive lookups skip the weak dictionary."""


def _cache(exchange: ClientExchange) -> _RunCache:
    global _last
    found = _caches.get(exchange)
    if found is None:
        found = _caches[exchange] = _RunCache()
    _last = (weakref.ref(exchange), found)
    return found


def _lookup(
    cache: _RunCache,
    exchange: ClientExchange,
    call: tuple[str, str, str, Any],
    params: dict[str, Any],
) -> _Lookup:
    name, symbol, interval, window = call
    spec = check(name, interval, params)
    series = cache.series.get((symbol, interval))
    if series is None:
        kind = _StoreSeries if exchange.store is not None else _FeedSeries
        series = cache.series[(symbol, interval)] = kind(exchange, symbol, interval)
    return _Lookup(series, spec, window)


def indicator(
    name: str, symbol: str, interval: str, *, window: int | None = None, **params: Any
) -> Any:
    """Return a TA-Lib indicator of `symbol`'s `interval` candles at the execution time.

    Computed once per run over the series and cached; only candles the profile's
    `get_candles` would show at the execution time count (under `default`, candles closed
    by then).

    Args:
        name: a TA-Lib function name (`talib.get_functions()`), e.g. "RSI", "SMA", "MACD".
        symbol: the symbol whose candles feed the function.
        interval: the candle interval, e.g. "15m".
        window: None for the latest value; n for the last n values as a numpy array.
        **params: the function's TA-Lib parameters, e.g. `timeperiod=14`.

    Returns:
        A float (NaN while the function has too few candles), or with `window` a read-only
        numpy array; for functions with several outputs (MACD, BBANDS, STOCH) a named tuple
        of those, with TA-Lib's output names as fields.

    Raises:
        ConfigError: an unknown name or parameter, a bad value, or a bad window.
    """
    ctx = context.current()
    exchange = ctx.exchange
    alive, cache = _last
    if alive() is not exchange:
        cache = _cache(exchange)
    key = (name, symbol, interval, window, *params.items())
    lookup = cache.lookups.get(key)
    if lookup is None:
        call = (name, symbol, interval, window)
        lookup = cache.lookups[key] = _lookup(cache, exchange, call, params)
    return lookup.value(ctx.when)
