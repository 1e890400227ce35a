"""The candle caches: the parse cache of candle files (same candles, refreshed when the file
changes) and the ccxt cache (delete an entry; a cancelled or refreshed download)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from engine.core.clock import SimulatedClock
from engine.core.errors import DataError
from engine.data import candle_cache
from engine.data.ccxt_exchange import CcxtMarket
from engine.data.csv_import import load_candles
from engine.data.demo import generate
from engine.data.store import CandleArrays
from tests.engine.exchange_server import FakeBinance, fake_binance

T0 = 1_704_067_200_000
MIN = 60_000

ROWS = [
    (1704067200000, 100.0, 101.0, 99.0, 100.5, 3.0),
    (1704067260000, 100.5, 102.0, 100.0, 101.0, 2.0),
    (1704067380000, 101.0, 101.5, 100.5, 101.2, 1.0),
]


def write(path: Path, rows: list[tuple]) -> None:
    lines = ["timestamp,open,high,low,close,volume", *(",".join(map(str, r)) for r in rows)]
    path.write_text("\n".join(lines) + "\n")


def columns(loaded) -> list[np.ndarray]:
    c = loaded.candles
    return [c.timestamp, c.open, c.high, c.low, c.close, c.volume]


def test_second_load_comes_from_the_cache_and_is_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKTEST_DESK_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "c.csv"
    write(source, ROWS)
    first = load_candles(source)
    assert list((tmp_path / "cache" / "candles").glob("*.candles"))
    second = load_candles(source)
    for a, b in zip(columns(first), columns(second), strict=True):
        assert np.array_equal(a, b)
    assert second.warnings == first.warnings and "missing" in " ".join(first.warnings)
    assert second.format == "ohlcv"


def test_a_changed_file_is_parsed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKTEST_DESK_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "c.csv"
    write(source, ROWS)
    load_candles(source)
    changed = [*ROWS[:2], (1704067320000, 101.0, 103.0, 100.5, 102.0, 4.0)]
    write(source, changed)
    os.utime(source, ns=(1, 1))
    reloaded = load_candles(source)
    assert reloaded.candles.close.tolist() == [100.5, 101.0, 102.0]
    assert reloaded.warnings == ()


def test_an_unwritable_cache_does_not_stop_the_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("BACKTEST_DESK_CACHE", str(blocker))
    source = tmp_path / "c.csv"
    write(source, ROWS)
    assert len(load_candles(source).candles) == 3


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("BACKTEST_DESK_CACHE", str(folder))
    return folder


@pytest.fixture(scope="module")
def server() -> Iterator[FakeBinance]:
    with fake_binance(T0 + 10_000 * MIN) as state:
        yield state


@pytest.fixture
def market(server: FakeBinance, own_cache: Path) -> CcxtMarket:
    server.faults.clear()
    server.missing.clear()
    server.requests.clear()
    return CcxtMarket("binance", api_url=server.url, clock=SimulatedClock(0), backoff_ms=500)


def kline_starts(server: FakeBinance) -> list[int]:
    return [int(q["startTime"]) for path, q in server.requests if path == "/api/v3/klines"]


def test_delete_removes_the_entry_and_matches_the_symbol_without_separators(
    own_cache: Path,
) -> None:
    candles = CandleArrays.from_candles([(T0, 1.0, 2.0, 0.5, 1.5, 3.0)])
    path = candle_cache.save("binance", "BTC/USDT", "1m", candles, ((T0, T0 + MIN),))
    candle_cache.save("binance", "ETH/USDT", "5m", candles, ((T0, T0 + 5 * MIN),))
    removed = candle_cache.delete("binance", "btcusdt")
    assert (removed.exchange, removed.symbol, removed.timeframe) == ("binance", "BTC/USDT", "1m")
    assert not path.exists() and len(candle_cache.entries()) == 1
    with pytest.raises(DataError) as caught:
        candle_cache.delete("binance", "ETH/USDT")
    assert str(caught.value) == (
        "nothing cached for binance ETH/USDT --timeframe 1m; "
        "the cache holds: binance ETH/USDT --timeframe 5m"
    )
    candle_cache.delete("binance", "ETH/USDT", "5m")
    with pytest.raises(DataError, match="the cache is empty"):
        candle_cache.delete("binance", "ETH/USDT", "5m")


def test_a_cancelled_download_keeps_its_pages_and_marks_only_them_covered(
    market: CcxtMarket, server: FakeBinance
) -> None:
    cancel = threading.Event()
    start, end = T0, T0 + 3000 * MIN
    result = market.download(
        "BTC/USDT", start, end, progress=lambda *_: cancel.set(), cancel=cancel
    )
    assert result.cancelled and result.requests == 1 and not result.from_cache
    assert result.fetched == ((start, start + 1000 * MIN),)
    assert len(result.candles) == 1000 and result.gaps == ()
    entry = candle_cache.load("binance", "BTC/USDT", "1m")
    assert entry is not None and entry.spans == ((start, start + 1000 * MIN),)
    assert len(entry.candles) == 1000
    resumed = market.download("BTC/USDT", start, end)
    assert kline_starts(server) == [start, start + 1000 * MIN, start + 2000 * MIN]
    assert not resumed.cancelled and len(resumed.candles) == 3000


def test_a_refresh_downloads_a_cached_range_again_and_replaces_its_candles(
    market: CcxtMarket, server: FakeBinance
) -> None:
    start, end = T0 + 60 * MIN, T0 + 120 * MIN
    wrong = CandleArrays.from_candles(
        [(t, 1.0, 1.0, 1.0, 1.0, 0.0) for t in range(start, end, MIN)]
    )
    candle_cache.save("binance", "BTC/USDT", "1m", wrong, ((start, end),))
    assert market.download("BTC/USDT", start, end).from_cache
    server.missing.add(start + 30 * MIN)
    refreshed = market.download("BTC/USDT", start, end, refresh=True)
    assert kline_starts(server) == [start] and not refreshed.from_cache
    expected = [c for c in generate("BTCUSDT", start, end).to_candles() if c[0] != start + 30 * MIN]
    assert refreshed.candles.to_candles() == expected
    assert [(g.start_ms, g.count) for g in refreshed.gaps] == [(start + 30 * MIN, 1)]
    entry = candle_cache.load("binance", "BTC/USDT", "1m")
    assert entry is not None and entry.candles.to_candles() == expected
