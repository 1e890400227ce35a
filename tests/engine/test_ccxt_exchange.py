"""The ccxt adapter running ccxt's real Binance code against a local server (no internet)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import engine
from engine.core.clock import SimulatedClock
from engine.core.errors import ConfigError, DataError, TemporaryError
from engine.data.ccxt_exchange import CcxtMarket, ccxt_exchange
from engine.data.demo import generate
from tests.engine.exchange_server import FakeBinance, fake_binance

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_704_067_200_000
MIN = 60_000


@pytest.fixture(scope="module")
def server() -> Iterator[FakeBinance]:
    with fake_binance(T0 + 10_000 * MIN) as state:
        yield state


@pytest.fixture
def market(server: FakeBinance) -> CcxtMarket:
    server.faults.clear()
    server.missing.clear()
    server.requests.clear()
    return CcxtMarket("binance", api_url=server.url, clock=SimulatedClock(0), backoff_ms=500)


def klines(server: FakeBinance) -> list[dict[str, str]]:
    return [q for path, q in server.requests if path == "/api/v3/klines"]


def test_candles_come_through_ccxt_exactly(market: CcxtMarket, server: FakeBinance) -> None:
    page = market.fetch_page("BTCUSDT", "1m", T0, 5)
    assert page.to_candles() == generate("BTCUSDT", T0, T0 + 5 * MIN).to_candles()
    assert klines(server) == [
        {"interval": "1m", "limit": "5", "symbol": "BTCUSDT", "startTime": str(T0)}
    ]
    assert market.symbol("BTCUSDT") == "BTC/USDT"


def test_a_rate_limit_answer_is_retried_after_a_backoff(
    market: CcxtMarket, server: FakeBinance
) -> None:
    server.faults[:] = ["429", "500"]
    market.load_markets()
    page = market.fetch_page("BTC/USDT", "1m", T0, 3)
    assert len(page) == 3 and len(klines(server)) == 3
    assert market.clock.now_ms() == 500 + 1000  # backoff doubles


def test_a_lasting_server_error_becomes_a_temporary_error(
    market: CcxtMarket, server: FakeBinance
) -> None:
    market.load_markets()
    server.faults[:] = ["500"] * 5
    with pytest.raises(TemporaryError, match=r"failed 5 times \(ExchangeNotAvailable.*try again"):
        market.fetch_page("BTCUSDT", "1m", T0, 3)


@pytest.mark.parametrize(
    ("fault", "message"),
    [("malformed", r"malformed candle at row \d+"), ("garbage", "malformed answer")],
)
def test_a_malformed_answer_is_rejected(
    market: CcxtMarket, server: FakeBinance, fault: str, message: str
) -> None:
    market.load_markets()
    server.faults[:] = [fault]
    with pytest.raises(DataError, match=message):
        market.fetch_page("BTCUSDT", "1m", T0, 10)


def test_a_download_pages_through_history_reports_gaps_and_is_cached(
    market: CcxtMarket, server: FakeBinance
) -> None:
    server.missing.update({T0 + 1500 * MIN, T0 + 1501 * MIN})
    start, end = T0 + 100 * MIN, T0 + 2600 * MIN
    result = market.download("BTC/USDT", start, end)
    starts = [int(q["startTime"]) for q in klines(server)]
    assert starts == [start, start + 1000 * MIN, start + 2002 * MIN]  # pages of 1000
    assert len(result.candles) == 2498 and result.requests == 3 and not result.from_cache
    assert [(g.start_ms, g.count) for g in result.gaps] == [(T0 + 1500 * MIN, 2)]
    again = market.download("BTCUSDT", start + 10 * MIN, end - 10 * MIN)
    assert again.from_cache and again.requests == 0 and len(again.candles) == 2478
    assert len(klines(server)) == 3


def test_names_are_checked_with_hints(market: CcxtMarket) -> None:
    with pytest.raises(ConfigError, match=r"no symbol 'BTCUSD'.*did you mean"):
        market.symbol("BTCUSD")
    with pytest.raises(ConfigError, match="did you mean 'binance'"):
        CcxtMarket("binanse")


def test_a_registered_ccxt_exchange_backs_a_live_run(
    server: FakeBinance, tmp_path: Path, clean_engine: None
) -> None:
    ccxt_exchange("binance", exchange_name="fake", api_url=server.url)
    engine.add_strategy(
        strategy_name="s",
        interval="1m",
        get_signal=lambda symbol, when: {
            "position": "long",
            "price_take_profit": engine.get_average_price(symbol) * 1.01,
            "price_stop_loss": engine.get_average_price(symbol) * 0.99,
            "minute_estimated_time": 30,
        },
    )
    run = engine.Live.run(
        "BTCUSDT",
        strategy_name="s",
        exchange_name="fake",
        clock=SimulatedClock(T0 + 600 * MIN),
        state_dir=tmp_path,
    )
    opened = next(run)
    run.close()
    assert opened.action == "opened" and opened.exchange_name == "fake"
    assert engine.exchange_store("fake") is None


def desk(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        timeout=120,
    )


def test_desk_data_download_and_list(server: FakeBinance, tmp_path: Path) -> None:
    server.missing.clear()
    server.faults.clear()
    env = {"BACKTEST_DESK_CACHE": str(tmp_path / "cache")}
    run = desk(
        "data",
        "download",
        "binance",
        "BTC/USDT",
        "--start",
        "2024-01-01",
        "--end",
        "2024-01-02",
        "--api-url",
        server.url,
        "--json",
        cwd=tmp_path,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) | {"requests": 2} == {
        "exchange": "binance",
        "symbol": "BTC/USDT",
        "timeframe": "1m",
        "candles": 1440,
        "requests": 2,
        "gaps": [],
        "unanswered": [],
    }
    listing = desk("data", "list", cwd=tmp_path, env=env)
    assert "binance" in listing.stdout and "BTC/USDT" in listing.stdout
    assert "2024-01-01 00:00  2024-01-01 23:59  1,440" in listing.stdout
    bad = desk(
        "data",
        "download",
        "binance",
        "BTC/USDT",
        "--start",
        "2024-01-02",
        "--end",
        "2024-01-01",
        cwd=tmp_path,
        env=env,
    )
    assert bad.returncode == 1 and "must come after" in bad.stderr and "Traceback" not in bad.stderr
