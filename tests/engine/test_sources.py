"""Candle files and the ccxt cache as exchanges, and runs that only cover data that exists."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import engine
from engine.core.errors import ConfigError
from engine.core.registration import exchanges
from engine.data import candle_cache, sources
from engine.data.coverage import data_span, fit_range, stamp
from engine.data.store import CandleArrays
from engine.sim.parallel import WorkerSetup
from tests.engine.helpers import write_candles_csv

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
MIN = 60_000
DAY = 86_400_000


def minutes(count: int, start: int = T0) -> CandleArrays:
    ts = [start + i * MIN for i in range(count)]
    return CandleArrays.from_columns(
        ts, [100.0] * count, [101.0] * count, [99.0] * count, [100.5] * count, [2.0] * count
    )


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BACKTEST_DESK_CACHE", str(tmp_path / "cache"))
    yield
    for name in ("files-test", "cachedx"):
        exchanges.remove(name)


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        ("BTCUSDT-1m-2024-01.zip", ("BTCUSDT", "BTCUSDT-1m-2024-01.zip")),
        ("data/ethusdt.csv", ("ETHUSDT", "data/ethusdt.csv")),
        ("SOLUSDT=/tmp/x-y.csv", ("SOLUSDT", "/tmp/x-y.csv")),
    ],
)
def test_a_candles_argument_names_its_symbol(argument: str, expected: tuple[str, str]) -> None:
    assert sources.parse_candle_arg(argument) == expected


@pytest.mark.parametrize("argument", ["=btc.csv", "BTC USDT=btc.csv", "BTC=", "-x.csv"])
def test_a_bad_candles_argument_says_how_to_write_it(argument: str) -> None:
    with pytest.raises(ConfigError, match="SYMBOL=FILE"):
        sources.parse_candle_arg(argument)


def test_candle_files_become_one_exchange_with_a_symbol_each(tmp_path: Path) -> None:
    btc = write_candles_csv(tmp_path / "btc.csv", minutes(10))
    eth = write_candles_csv(tmp_path / "eth.csv", minutes(5, T0 + DAY))
    sources.register_source(
        sources.FileSource("files-test", (("BTCUSDT", str(btc)), ("ETHUSDT", str(eth))))
    )
    store = engine.exchange_store("files-test")
    assert store is not None and store.symbols() == ["BTCUSDT", "ETHUSDT"]
    assert data_span("files-test", "BTCUSDT") == (T0, T0 + 9 * MIN)
    assert data_span("files-test", "ETHUSDT") == (T0 + DAY, T0 + DAY + 4 * MIN)
    closes = [c.close for c in store.get_candles("ETHUSDT", "1m", T0, 100)]
    assert closes == [100.5] * 5


def test_a_module_s_exchange_is_never_replaced_by_a_source(tmp_path: Path) -> None:
    engine.add_exchange(
        exchange_name="files-test",
        get_candles=lambda *a: [],
        format_price=lambda s, p: str(p),
        format_quantity=lambda s, q: str(q),
    )
    with pytest.raises(ConfigError, match="already registered"):
        sources.register_source(sources.FileSource("files-test", (("X", "x.csv"),)))


def test_the_ccxt_cache_is_served_offline_and_fresh_downloads_are_seen() -> None:
    candle_cache.save("cachedx", "BTC/USDT", "1m", minutes(3), ((T0, T0 + 3 * MIN),))
    assert sources.cached_exchange_ids() == ["cachedx"]
    assert sources.register_cache("cachedx")
    assert data_span("cachedx", "BTC/USDT") == (T0, T0 + 2 * MIN)
    candle_cache.save("cachedx", "ETH/USDT", "1m", minutes(4), ((T0, T0 + 4 * MIN),))
    sources.register_cache("cachedx")
    assert data_span("cachedx", "ETH/USDT") == (T0, T0 + 3 * MIN)


def test_a_range_outside_the_data_is_refused_with_what_it_covers() -> None:
    candle_cache.save("cachedx", "BTC/USDT", "1m", minutes(1440), ((T0, T0 + DAY),))
    sources.register_cache("cachedx")
    with pytest.raises(ConfigError) as caught:
        fit_range("cachedx", "BTC/USDT", T0 - 365 * DAY, T0 - 300 * DAY)
    text = str(caught.value)
    assert "the data covers 2024-01-01 00:00 → 2024-01-01 23:59" in text
    assert "from 2023-01-01 00:00 → 2023-03-07 00:00" in text
    assert "desk data download cachedx BTC/USDT --start 2023-01-01 --end 2023-03-08" in text


def test_a_range_partly_outside_the_data_is_trimmed_with_a_warning() -> None:
    candle_cache.save("cachedx", "BTC/USDT", "1m", minutes(1440), ((T0, T0 + DAY),))
    sources.register_cache("cachedx")
    fitted = fit_range("cachedx", "BTC/USDT", T0 - DAY, T0 + 600 * MIN)
    assert (fitted.start_ms, fitted.end_ms) == (T0, T0 + 600 * MIN)
    assert "instead of 2023-12-31 00:00 → 2024-01-01 10:00" in fitted.warnings[0]
    inside = fit_range("cachedx", "BTC/USDT", T0 + MIN, T0 + 2 * MIN)
    assert (inside.start_ms, inside.end_ms, inside.warnings) == (T0 + MIN, T0 + 2 * MIN, ())


def test_an_unknown_symbol_is_refused_up_front() -> None:
    with pytest.raises(ConfigError, match="exchange demo has no symbol 'DOGEUSDT'; it has BTC"):
        fit_range("demo", "DOGEUSDT", T0, T0 + DAY)


def test_the_demo_market_spans_2024_without_generating_it() -> None:
    assert data_span("demo", "XRPUSDT") == (T0, 1_735_689_600_000 - MIN)


def _run_in_worker(setup: WorkerSetup, queue: multiprocessing.Queue) -> None:
    setup.prepare(["bracket"], "files-test", "demo-7d")
    store = engine.exchange_store("files-test")
    queue.put(None if store is None else (store.symbols(), len(store.arrays("BTCUSDT"))))


def test_a_worker_process_registers_the_caller_s_sources(tmp_path: Path) -> None:
    btc = write_candles_csv(tmp_path / "btc.csv", minutes(42))
    sources.register_source(sources.FileSource("files-test", (("BTCUSDT", str(btc)),)))
    setup = WorkerSetup.capture("default")
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    worker = context.Process(target=_run_in_worker, args=(setup, queue))
    worker.start()
    try:
        assert queue.get(timeout=60) == (["BTCUSDT"], 42)
    finally:
        worker.join(30)
    assert worker.exitcode == 0


def test_messages_give_times_in_utc() -> None:
    assert stamp(int(datetime(2024, 3, 1, 12, 5, tzinfo=UTC).timestamp() * 1000)) == (
        "2024-03-01 12:05"
    )
