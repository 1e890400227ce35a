"""The indicator API: TA-Lib over closed candles, computed once, without look-ahead.

Expected values come from TA-Lib applied, in the test, to candles aggregated here by hand
(one bucket per interval, closed once its last minute has closed).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import talib

import engine
from engine import CandleArrays, CandleStore, ConfigError, SerialExecutor
from engine.core.clock import SimulatedClock
from engine.sim.live import TICK_TTL_MS, Live
from engine.sim.walker import walkers
from engine.strategies import register_builtin_strategies
from tests.engine.helpers import MIN, SYMBOL, T0, add_frame, ms, reset_engine

pytestmark = pytest.mark.usefixtures("clean_engine")

MINUTES = 2400
FIVE = 5 * MIN


def random_walk(seed: int = 15) -> CandleArrays:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0015, MINUTES)))
    open_ = np.concatenate(([100.0], close[:-1]))
    wick = np.abs(rng.normal(0.0, 0.0008, (2, MINUTES)))
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    volume = rng.uniform(0.5, 10.0, MINUTES)
    ts = T0 + np.arange(MINUTES, dtype=np.int64) * MIN
    return CandleArrays.from_columns(ts, open_, high, low, close, volume)


DATA = random_walk()
GAPPED = DATA.take(np.r_[0:700, 761:MINUTES])  # an hour missing: buckets are not evenly spaced


def by_hand(minutes: CandleArrays, step: int, visible: int) -> dict[str, np.ndarray]:
    """Aggregate one-minute candles into `step` buckets; keep those opening at or before
    `visible` (pass t - step for the candles closed by t)."""
    rows: dict[int, list[float]] = {}
    columns = zip(
        minutes.timestamp.tolist(),
        minutes.open.tolist(),
        minutes.high.tolist(),
        minutes.low.tolist(),
        minutes.close.tolist(),
        minutes.volume.tolist(),
        strict=True,
    )
    for ts, o, h, lo, c, v in columns:
        bucket = ts - ts % step
        if bucket not in rows:
            rows[bucket] = [o, h, lo, c, v]
        else:
            row = rows[bucket]
            row[1], row[2], row[3] = max(row[1], h), min(row[2], lo), c
            row[4] += v
    kept = [row for bucket, row in sorted(rows.items()) if bucket <= visible]
    names = ("open", "high", "low", "close", "volume")
    return {n: np.array([r[i] for r in kept], dtype=float) for i, n in enumerate(names)}


def register(candles: CandleArrays, start: int, end: int, *, user_code: bool = False) -> None:
    store = CandleStore()
    store.put(SYMBOL, candles)

    def user_get_candles(symbol: str, interval: str, since: datetime, limit: int) -> list[Any]:
        return store.get_candles(symbol, interval, since, limit)

    engine.add_exchange(
        exchange_name="x",
        get_candles=user_get_candles if user_code else store.get_candles,
        format_price=lambda s, p: f"{p:.2f}",
        format_quantity=lambda s, q: f"{q:.8f}",
    )
    add_frame("f", start, end)


def recorder(record: list[tuple[int, Any]], interval: str = "1m") -> None:
    """Strategy `s`: at each minute, read several indicators and record them; never trade."""

    def get_signal(symbol: str, when: datetime) -> None:
        values = (
            engine.indicator("RSI", symbol, "5m", timeperiod=14),
            engine.indicator("SMA", symbol, "5m", window=3, timeperiod=9).tolist(),
            tuple(engine.indicator("MACD", symbol, "15m")),
            tuple(a.tolist() for a in engine.indicator("BBANDS", symbol, "5m", window=2)),
            engine.indicator("EMA", symbol, "1m", timeperiod=20),
        )
        record.append((ms(when), repr(values)))  # repr: exact floats, NaN equal to NaN

    engine.add_strategy(strategy_name="s", interval=interval, get_signal=get_signal)


def run(profile: str | None = None) -> None:
    results = engine.Backtest.run(
        SYMBOL, strategy_name="s", exchange_name="x", frame_name="f", profile=profile
    )
    for _ in results:
        pass


def cut_runs(profile: str | None) -> list[bool]:
    """For many t, whether every value seen by t is the same with the data cut at t."""
    start, end = T0 + 60 * MIN, T0 + (MINUTES - 1) * MIN
    full: list[tuple[int, Any]] = []
    register(DATA, start, end)
    recorder(full)
    run(profile)
    agree = []
    for t in range(start + 7 * MIN, end, 193 * MIN):  # cuts inside 5m and 15m candles
        reset_engine()
        closed = int(np.searchsorted(DATA.timestamp, t - MIN, "right"))  # closed by t
        cut: list[tuple[int, Any]] = []
        register(DATA.slice(0, closed), start, t)
        recorder(cut)
        run(profile)
        agree.append([r for r in full if r[0] <= t] == cut)
    return agree


def test_no_value_seen_before_t_changes_when_the_data_after_t_is_cut() -> None:
    agree = cut_runs(None)
    assert len(agree) >= 12 and all(agree)


def test_the_1_4_10_profile_sees_the_candle_in_progress_so_the_same_cut_differs() -> None:
    assert not all(cut_runs("backtest-kit-1.4.10"))  # the comparison does detect look-ahead


@pytest.mark.parametrize(
    ("user_code", "data"),
    [(False, DATA), (True, DATA), (False, GAPPED)],
    ids=["store", "user get_candles", "store with a gap"],
)
def test_values_equal_talib_on_the_closed_candles_at_each_decision(
    user_code: bool, data: CandleArrays
) -> None:
    seen: list[tuple[int, float, np.ndarray, Any, Any]] = []

    def get_signal(symbol: str, when: datetime) -> None:
        seen.append(
            (
                ms(when),
                engine.indicator("RSI", symbol, "5m", timeperiod=14),
                engine.indicator("SMA", symbol, "5m", window=4, timeperiod=10),
                engine.indicator("MACD", symbol, "15m", fastperiod=6, slowperiod=13),
                engine.indicator("STOCH", symbol, "5m", window=2),
            )
        )

    register(data, T0 + 30 * MIN, T0 + 1500 * MIN, user_code=user_code)
    engine.add_strategy(strategy_name="s", interval="1m", get_signal=get_signal)
    run()
    assert len(seen) > 1400
    for when, rsi, sma, macd, stoch in seen[::37]:
        five = by_hand(data, FIVE, when - FIVE)
        fifteen = by_hand(data, 3 * FIVE, when - 3 * FIVE)
        expected_rsi = talib.RSI(five["close"], 14)[-1]
        assert rsi == expected_rsi or (math.isnan(rsi) and math.isnan(expected_rsi))
        np.testing.assert_array_equal(sma, talib.SMA(five["close"], 10)[-4:])
        expected_macd = talib.MACD(fifteen["close"], 6, 13, 9)
        assert macd._fields == ("macd", "macdsignal", "macdhist")
        np.testing.assert_array_equal(np.array(macd), [a[-1] for a in expected_macd])
        slowk, slowd = talib.STOCH(five["high"], five["low"], five["close"])
        np.testing.assert_array_equal(stoch.slowk, slowk[-2:])
        np.testing.assert_array_equal(stoch.slowd, slowd[-2:])
    late = seen[-1]
    assert not math.isnan(late[1]) and not any(math.isnan(v) for v in late[3])


def test_the_1_4_10_profile_includes_the_candle_opening_at_the_decision() -> None:
    seen: list[tuple[int, float]] = []

    def get_signal(symbol: str, when: datetime) -> None:
        seen.append((ms(when), engine.indicator("SMA", symbol, "5m", timeperiod=3)))

    register(DATA, T0 + 30 * MIN, T0 + 300 * MIN)
    engine.add_strategy(strategy_name="s", interval="1m", get_signal=get_signal)
    run("backtest-kit-1.4.10")
    for when, value in seen[::11]:
        # upstream's getCandles: buckets opening at or before t, each with all its minutes
        assert value == talib.SMA(by_hand(DATA, FIVE, when)["close"], 3)[-1]


def test_multi_output_functions_give_named_tuples_and_windows_give_read_only_arrays() -> None:
    got: dict[str, Any] = {}

    def get_signal(symbol: str, when: datetime) -> None:
        got["bbands"] = engine.indicator("BBANDS", symbol, "5m", window=3, timeperiod=5)
        got["latest"] = engine.indicator("BBANDS", symbol, "5m", timeperiod=5)
        got["when"] = ms(when)

    register(DATA, T0 + 600 * MIN, T0 + 600 * MIN)
    engine.add_strategy(strategy_name="s", interval="1m", get_signal=get_signal)
    run()
    bands, latest = got["bbands"], got["latest"]
    assert bands._fields == ("upperband", "middleband", "lowerband")
    assert [len(a) for a in bands] == [3, 3, 3]
    assert tuple(float(a[-1]) for a in bands) == tuple(latest)
    closes = by_hand(DATA, FIVE, got["when"] - FIVE)["close"]
    np.testing.assert_array_equal(bands.middleband, talib.SMA(closes, 5)[-3:])
    assert bands.upperband[-1] > bands.middleband[-1] > bands.lowerband[-1]
    with pytest.raises(ValueError, match="read-only"):
        bands.upperband[0] = 0.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            {"name": "RSX", "interval": "5m"},
            "indicator name 'RSX' is not a TA-Lib function; did you mean 'RSI'?",
        ),
        (
            {"name": "RSI", "interval": "5m", "timeperod": 14},
            "indicator RSI: parameter timeperod=14 is unknown; it takes timeperiod=14",
        ),
        (
            {"name": "RSI", "interval": "5m", "timeperiod": 1.5},
            "indicator RSI: parameter timeperiod=1.5 must be an int (default 14)",
        ),
        (
            {"name": "RSI", "interval": "5m", "timeperiod": 0},
            "indicator RSI: TA-Lib refused parameters timeperiod=0",
        ),
        ({"name": "RSI", "interval": "7m"}, "interval '7m' is not supported; use one of 1m"),
        (
            {"name": "RSI", "interval": "5m", "window": 0},
            "indicator RSI: window=0 must be a positive int",
        ),
    ],
)
def test_a_bad_call_is_reported_naming_the_field_the_value_and_the_fix(
    call: dict[str, Any], message: str, listen: Any
) -> None:
    errors = listen(engine.listen_error)

    def get_signal(symbol: str, when: datetime) -> None:
        engine.indicator(call["name"], symbol, call["interval"], **_rest(call))

    register(DATA, T0 + 60 * MIN, T0 + 62 * MIN)
    engine.add_strategy(strategy_name="s", interval="1m", get_signal=get_signal)
    run()
    assert len(errors) == 3 and all(message in str(e) for e in errors)


def _rest(call: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in call.items() if k not in ("name", "interval")}


def test_declared_indicators_are_checked_when_the_strategy_is_registered() -> None:
    fields = {"strategy_name": "d", "interval": "1m", "get_signal": lambda s, w: None}
    with pytest.raises(ConfigError, match="parameter timeperod=9 is unknown; it takes timepe"):
        engine.add_strategy(
            **fields, indicators=[{"name": "SMA", "interval": "5m", "params": {"timeperod": 9}}]
        )
    with pytest.raises(ConfigError, match=r"indicators\[0\]=\['SMA'\] must be a dict with keys"):
        engine.add_strategy(**fields, indicators=[["SMA"]])
    engine.add_strategy(
        **fields, indicators=[{"name": "sma", "interval": "5m", "params": {"timeperiod": 9}}]
    )
    assert engine.core.registration.strategies.get("d", "test").indicators == [
        ("SMA", "5m", (("timeperiod", 9),))
    ]


def test_outside_a_run_the_helper_says_where_it_works() -> None:
    with pytest.raises(ConfigError, match="only works inside strategy code"):
        engine.indicator("RSI", SYMBOL, "5m")


POOL_MODULE_RECORD = "INDICATOR_RECORD"


def pooled_signal(symbol: str, when: datetime) -> None:
    """Record the RSI a worker process sees, with its pid, to the file the test names."""
    value = engine.indicator("RSI", symbol, "15m", timeperiod=14)
    with open(os.environ[POOL_MODULE_RECORD], "a") as out:
        out.write(f"{os.getpid()} {symbol} {ms(when)} {value!r}\n")


def test_a_walker_on_a_process_pool_computes_the_same_values_in_its_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_builtin_strategies()
    engine.add_strategy(strategy_name="rsi-recorder", interval="1h", get_signal=pooled_signal)
    engine.add_walker(
        walker_name="w",
        exchange_name="demo",
        frame_name="demo-7d",
        strategies=["sma_rsi", "rsi-recorder"],
    )
    try:
        outputs = []
        for label in ("serial", "pool"):
            record = tmp_path / f"{label}.txt"
            monkeypatch.setenv(POOL_MODULE_RECORD, str(record))
            symbols = ["BTCUSDT", "ETHUSDT"]
            if label == "serial":
                list(engine.Walker.run_symbols(symbols, walker_name="w", executor=SerialExecutor()))
            else:
                fork = multiprocessing.get_context("fork")
                with ProcessPoolExecutor(2, mp_context=fork) as pool:
                    list(engine.Walker.run_symbols(symbols, walker_name="w", executor=pool))
            rows = [line.split(" ") for line in record.read_text().splitlines()]
            data = [engine.Walker.get_data(s, "w") for s in symbols]
            outputs.append((rows, data))
        (serial_rows, serial_data), (pool_rows, pool_data) = outputs
        assert {r[0] for r in serial_rows} == {str(os.getpid())}
        assert str(os.getpid()) not in {r[0] for r in pool_rows}  # computed in the workers
        assert sorted(r[1:] for r in pool_rows) == sorted(r[1:] for r in serial_rows)
        assert len(serial_rows) > 300 and any(r[3] != "nan" for r in serial_rows)
        assert pool_data == serial_data
    finally:
        walkers.remove("w")
        engine.Walker.clear()


def test_live_extends_the_series_and_gives_talib_on_the_closed_candles(tmp_path: Path) -> None:
    seen: list[tuple[int, float, Any]] = []
    stop = threading.Event()

    def get_signal(symbol: str, when: datetime) -> None:
        rsi = engine.indicator("RSI", symbol, "5m", timeperiod=14)
        macd = engine.indicator("MACD", symbol, "5m", window=2)
        seen.append((ms(when), rsi, macd))
        if len(seen) >= 400:
            stop.set()

    register(DATA, T0, T0, user_code=True)
    engine.add_strategy(strategy_name="s", interval="1m", get_signal=get_signal)
    start = T0 + 300 * MIN + 17_000  # ticks fall inside minutes, as live ones do
    clock = SimulatedClock(start)
    for _ in Live.run(
        SYMBOL, strategy_name="s", exchange_name="x", clock=clock, state_dir=tmp_path, stop=stop
    ):
        pass
    assert len(seen) >= 400 and seen[-1][0] >= start + 399 * TICK_TTL_MS - TICK_TTL_MS
    for when, rsi, macd in seen[::23]:
        five = by_hand(DATA, FIVE, when - FIVE)
        assert rsi == talib.RSI(five["close"], 14)[-1]
        for got, expected in zip(macd, talib.MACD(five["close"]), strict=True):
            np.testing.assert_array_equal(got, expected[-2:])


def test_a_portfolio_run_gives_each_symbol_its_own_values() -> None:
    other = random_walk(seed=16)
    store = CandleStore()
    store.put(SYMBOL, DATA)
    store.put("OTHERUSDT", other)
    engine.add_exchange(
        exchange_name="x",
        get_candles=store.get_candles,
        format_price=lambda s, p: f"{p:.2f}",
        format_quantity=lambda s, q: f"{q:.8f}",
    )
    add_frame("f", T0 + 100 * MIN, T0 + 400 * MIN)
    seen: list[tuple[str, int, float]] = []

    def get_signal(symbol: str, when: datetime) -> None:
        seen.append((symbol, ms(when), engine.indicator("RSI", symbol, "5m", timeperiod=9)))

    engine.add_strategy(strategy_name="s", interval="1m", get_signal=get_signal)
    results = engine.Backtest.run_portfolio(
        [SYMBOL, "OTHERUSDT"], ["s"], exchange_name="x", frame_name="f", executor=SerialExecutor()
    )
    for _ in results:
        pass
    assert {s for s, _, _ in seen} == {SYMBOL, "OTHERUSDT"} and len(seen) > 500
    candles = {SYMBOL: DATA, "OTHERUSDT": other}
    for symbol, when, rsi in seen[::17]:
        assert rsi == talib.RSI(by_hand(candles[symbol], FIVE, when - FIVE)["close"], 9)[-1]


def test_a_finished_run_leaves_no_cache_behind() -> None:
    import gc

    from engine.sim import indicators

    def get_signal(symbol: str, when: datetime) -> None:
        engine.indicator("RSI", symbol, "5m")

    register(DATA, T0 + 100 * MIN, T0 + 130 * MIN, user_code=True)
    engine.add_strategy(strategy_name="s", interval="1m", get_signal=get_signal)
    gc.collect()
    before = len(indicators._caches)  # runs of other tests may still be alive
    run()
    gc.collect()
    assert len(indicators._caches) <= before  # the per-run cache went with its run


def test_data_put_into_the_store_during_a_run_is_what_later_values_see() -> None:
    """A series is loaded again when its symbol's data is replaced, not when another's is."""
    store = CandleStore()
    store.put(SYMBOL, DATA)
    other = random_walk(seed=16)
    engine.add_exchange(
        exchange_name="x",
        get_candles=store.get_candles,
        format_price=lambda s, p: f"{p:.2f}",
        format_quantity=lambda s, q: f"{q:.8f}",
    )
    add_frame("f", T0 + 200 * MIN, T0 + 260 * MIN)
    seen: list[tuple[int, float]] = []

    def get_signal(symbol: str, when: datetime) -> None:
        seen.append((ms(when), engine.indicator("RSI", symbol, "5m", timeperiod=9)))
        if len(seen) == 10:
            store.put("OTHERUSDT", other)  # another symbol: this series stays as it is
        if len(seen) == 20:
            store.put(SYMBOL, other)  # this symbol's data replaced

    engine.add_strategy(strategy_name="s", interval="1m", get_signal=get_signal)
    run()
    assert len(seen) == 61
    for k, (when, rsi) in enumerate(seen):
        source = DATA if k < 20 else other
        expected = talib.RSI(by_hand(source, FIVE, when - FIVE)["close"], 9)[-1]
        assert rsi == expected, (k, when)
