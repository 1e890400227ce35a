"""`get_candles` served from the loaded arrays, and the VWAP computed only when needed.

Expected windows come from the store's arrays and the documented rules
(docs/semantics.md#candles-before): by default the last `limit` candles that closed by the
execution time; under `backtest-kit-1.4.10` the candles opening from `(limit - 1)` intervals
before it up to it, inclusive.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import engine
from engine import CandleArrays, CandleStore
from engine.core.intervals import interval_ms
from engine.core.models import Candle
from engine.data.demo import generate
from engine.sim.exchange import VWAP_BLOCK, vwap, vwap_block
from tests.engine.helpers import MIN, SYMBOL, T0, dt, flat, long_dto, run, setup

pytestmark = pytest.mark.usefixtures("clean_engine")

PROFILES = ("backtest-kit-1.4.10", "default")
ASKED = (("1m", 5), ("1m", 1500), ("15m", 14), ("1h", 3), ("1m", 1))
"""(interval, limit) pairs; 1,500 minutes span two blocks of built tuples. The last one only
in the default profile: upstream refuses a limit of 1 ("unknown time adjust")."""


def asked(profile: str) -> tuple[tuple[str, int], ...]:
    return ASKED if profile == "default" else ASKED[:-1]


DAYS = 2


def expected(store: CandleStore, interval: str, limit: int, when: int, legacy: bool) -> list:
    """The documented window, read straight from the store's arrays."""
    data = store.arrays(SYMBOL, interval)
    step = interval_ms(interval)
    ts = data.timestamp
    if legacy:
        chosen = np.flatnonzero((ts >= when - (limit - 1) * step) & (ts <= when))[:limit]
    else:
        chosen = np.flatnonzero(ts + step <= when)[-limit:]
    return [
        Candle(int(ts[i]), *(float(getattr(data, f)[i]) for f in Candle._fields[1:]))
        for i in chosen
    ]


def demo_store() -> CandleStore:
    store = CandleStore()
    store.put(SYMBOL, generate("BTCUSDT", T0, T0 + DAYS * 1440 * MIN))
    return store


def register(store: CandleStore, get_signal: Any, every: str = "3m") -> None:
    engine.add_exchange(
        exchange_name="x",
        get_candles=store.get_candles,
        format_price=lambda s, p: f"{p:.2f}",
        format_quantity=lambda s, q: f"{q:.8f}",
    )
    end = T0 + DAYS * 1440 * MIN - MIN
    engine.add_frame(frame_name="f", interval=every, start_date=dt(T0), end_date=dt(end))
    engine.add_strategy(strategy_name="s", interval="1m", get_signal=get_signal)


@pytest.mark.parametrize("profile", PROFILES)
def test_candle_lists_are_the_documented_windows_at_every_frame(profile: str) -> None:
    store = demo_store()
    seen: list[tuple[int, str, int, list[Candle]]] = []

    def get_signal(symbol: str, when: Any) -> None:
        at = round(when.timestamp() * 1000)
        for interval, limit in asked(profile):
            seen.append((at, interval, limit, engine.get_candles(symbol, interval, limit)))

    register(store, get_signal)
    run("s", profile=profile)
    legacy = profile == PROFILES[0]
    assert len(seen) >= len(asked(profile)) * (DAYS * 1440 // 3 - 1)
    for at, interval, limit, candles in seen:
        assert type(candles) is list
        assert candles == expected(store, interval, limit, at, legacy), (at, interval, limit)
        assert all(type(c) is Candle for c in candles)
    late = [c for at, i, n, c in seen if (i, n) == ("1m", 1500) and at > T0 + 1600 * MIN]
    assert late and all(len(c) == 1500 for c in late)


@pytest.mark.parametrize("profile", PROFILES)
def test_arrays_are_read_only_views_of_the_store_with_the_same_values(profile: str) -> None:
    store = demo_store()
    seen: list[tuple[int, str, int, CandleArrays]] = []

    def get_signal(symbol: str, when: Any) -> None:
        at = round(when.timestamp() * 1000)
        for interval, limit in asked(profile):
            arrays = engine.get_candles(symbol, interval, limit, as_arrays=True)
            seen.append((at, interval, limit, arrays))

    register(store, get_signal, every="3m")
    run("s", profile=profile)
    legacy = profile == PROFILES[0]
    assert seen
    for at, interval, limit, arrays in seen:
        want = expected(store, interval, limit, at, legacy)
        got = [
            Candle(*row)
            for row in zip(*(getattr(arrays, f).tolist() for f in Candle._fields), strict=True)
        ]
        assert got == want
        full = store.arrays(SYMBOL, interval)
        for field in Candle._fields:
            column = getattr(arrays, field)
            if len(column):
                assert np.shares_memory(column, getattr(full, field)), field
            assert not column.flags.writeable
            with pytest.raises(ValueError, match="read-only"):
                column[:1] = 0


def test_user_code_exchanges_serve_the_same_windows_read_only() -> None:
    rows = list(zip(*(getattr(generate("BTCUSDT", T0, T0 + 300 * MIN), f).tolist()
                      for f in Candle._fields), strict=True))  # fmt: skip
    seen: list[tuple[list[Candle], CandleArrays]] = []

    def get_signal(symbol: str, when: Any) -> None:
        seen.append(
            (engine.get_candles(symbol, "1m", 7), engine.get_candles(symbol, "1m", 7, True))
        )

    setup(rows, get_signal, start=T0 + 10 * MIN, end=T0 + 200 * MIN, user_code=True)
    run("s")
    assert len(seen) == 191
    for k, (candles, arrays) in enumerate(seen):
        first = k + 3  # at T0 + (10 + k) min the 7 candles before open from minute 3 + k
        assert candles == [Candle(*row) for row in rows[first : first + 7]]
        assert arrays.close.tolist() == [row[4] for row in rows[first : first + 7]]
        assert not arrays.close.flags.writeable


def test_store_get_candles_slices_equal_the_arrays_and_follow_a_replacement() -> None:
    store = demo_store()
    data = store.arrays(SYMBOL)
    rng = np.random.default_rng(15)
    starts = [*rng.integers(0, len(data), 300).tolist(), 0, 1023, 1024, len(data) - 1]
    for start in starts:
        for limit in (0, 1, 17, 1024, 3000):
            got = store.get_candles(SYMBOL, "1m", int(data.timestamp[start]), limit)
            stop = min(start + limit, len(data))
            assert got == CandleArrays.slice(data, start, stop).to_candles()
            assert [c.close for c in got] == data.close[start:stop].tolist()
    store.put(SYMBOL, CandleArrays.from_columns(*zip(*flat(T0, 50, price=7.0), strict=True)))
    assert [c.close for c in store.get_candles(SYMBOL, "1m", T0, 3)] == [7.0, 7.0, 7.0]


def test_the_vwap_is_not_computed_for_a_strategy_that_returns_none() -> None:
    """With no candle in the VWAP's window (a gap), a strategy returning None is still
    asked and nothing is reported; one that returns a signal gets the VWAP error."""
    rows = flat(T0, 100) + flat(T0 + 110 * MIN, 100)
    asked: list[int] = []

    def quiet(symbol: str, when: Any) -> None:
        asked.append(round(when.timestamp() * 1000))

    errors: list[Any] = []
    off = engine.listen_error(errors.append)
    try:
        setup(rows, quiet, start=T0 + 100 * MIN, end=T0 + 112 * MIN)
        assert run("s") == []
        assert asked == [T0 + m * MIN for m in range(100, 113)]
        assert errors == []

        engine.add_strategy(
            strategy_name="t", interval="1m", get_signal=lambda s, w: long_dto(200.0, 50.0)
        )
        engine.add_frame(
            frame_name="g",
            interval="1m",
            start_date=dt(T0 + 106 * MIN),
            end_date=dt(T0 + 108 * MIN),
        )
        assert run("t", frame="g") == []
        assert len(errors) == 3
        assert all("no candles data" in str(e) for e in errors)
    finally:
        off()


@pytest.mark.parametrize("count", [1, 5, 17])
def test_block_vwaps_equal_the_scalar_vwap_bit_for_bit(count: int) -> None:
    rng = np.random.default_rng(count)
    size = VWAP_BLOCK * 2 + 123
    close = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, size)))
    volume = rng.exponential(3.0, size)
    volume[rng.random(size) < 0.3] = 0.0  # windows with no volume fall back to the closes
    candles = CandleArrays.from_columns(
        np.arange(size) * MIN, close, close * 1.001, close * 0.999, close, volume
    )
    for block in range(3):
        values = vwap_block(candles, count, block)
        for j, value in enumerate(values.tolist()):
            i = block * VWAP_BLOCK + j
            if i < count - 1:
                assert math.isnan(value)
            else:
                assert value == vwap(candles, i - count + 1, i + 1), i
