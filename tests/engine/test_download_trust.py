"""Downloads you can trust: empty pages asked again, Ctrl+C keeps pages, keys never shown.

ccxt's real Binance code talks to the local fake exchange (`tests/engine/exchange_server.py`);
`desk data download` and `desk optimize` run as real subprocesses where an exit code, a
signal or what the terminal shows is what is tested.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.core.clock import SimulatedClock
from engine.core.secrets import mask_secrets
from engine.data import candle_cache
from engine.data.ccxt_exchange import CcxtMarket
from engine.data.demo import generate
from tests.engine.exchange_server import FakeBinance, fake_binance
from tests.engine.llm_server import serve, unauthorized_echoing_key

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
MIN = 60_000
PAGE = 1000 * MIN


@pytest.fixture(scope="module")
def server() -> Iterator[FakeBinance]:
    with fake_binance(T0 + 40_000 * MIN) as state:
        yield state


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: FakeBinance) -> Path:
    server.faults.clear()
    server.missing.clear()
    server.requests.clear()
    server.delay = 0.0
    monkeypatch.setenv("BACKTEST_DESK_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def market(server: FakeBinance) -> CcxtMarket:
    return CcxtMarket("binance", api_url=server.url, clock=SimulatedClock(0), backoff_ms=1)


def kline_starts(server: FakeBinance) -> list[int]:
    return [int(q["startTime"]) for path, q in server.requests if path == "/api/v3/klines"]


def desk(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tui.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )


@pytest.mark.parametrize("answer", ["empty", "object"], ids=["[]", "{}"])
def test_an_empty_page_is_not_cached_as_a_gap_and_is_asked_again(
    server: FakeBinance, answer: str
) -> None:
    start, end = T0, T0 + 2500 * MIN
    server.faults[:] = ["", answer]  # the second page comes back empty
    first = market(server).download("BTC/USDT", start, end)
    assert len(first.candles) == 1000 and first.gaps == ()
    assert first.unanswered == ((start + PAGE, end),)
    cached = candle_cache.load("binance", "BTC/USDT", "1m")
    assert cached is not None and cached.spans == ((start, start + PAGE),)
    server.requests.clear()
    again = market(server).download("BTC/USDT", start, end)
    assert kline_starts(server) == [start + PAGE, start + 2 * PAGE]  # only what was unanswered
    assert again.requests == 2 and again.unanswered == () and again.gaps == ()
    assert again.candles.to_candles() == generate("BTCUSDT", start, end).to_candles()


def test_a_refresh_answered_empty_keeps_the_cached_candles(server: FakeBinance) -> None:
    start, end = T0, T0 + 300 * MIN
    assert len(market(server).download("BTC/USDT", start, end).candles) == 300
    server.faults[:] = ["empty"]
    refreshed = market(server).download("BTC/USDT", start, end, refresh=True)
    assert refreshed.requests == 1 and refreshed.unanswered == ((start, end),)
    assert len(refreshed.candles) == 300
    cached = candle_cache.load("binance", "BTC/USDT", "1m")
    assert cached is not None and len(cached.candles) == 300


def test_refresh_from_the_command_line_asks_a_cached_range_again(
    server: FakeBinance, tmp_path: Path, own_cache: Path
) -> None:
    args = ["data", "download", "binance", "BTC/USDT", "--start", "2024-01-01"]
    args += ["--end", "2024-01-01T12:00", "--api-url", server.url]
    env = {"BACKTEST_DESK_CACHE": str(own_cache)}
    server.missing.add(T0 + 5 * MIN)
    out, err = desk(*args, cwd=tmp_path, env=env).communicate(timeout=120)
    assert "719 candles" in out, err
    out, _ = desk(*args, cwd=tmp_path, env=env).communicate(timeout=120)
    assert "719 candles" in out and "(0 requests)" in out
    server.missing.clear()
    server.requests.clear()
    out, _ = desk(*args, "--refresh", cwd=tmp_path, env=env).communicate(timeout=120)
    assert "720 candles" in out and kline_starts(server) == [T0]


def test_ctrl_c_mid_download_keeps_the_fetched_pages_and_exits_130(
    server: FakeBinance, tmp_path: Path, own_cache: Path
) -> None:
    server.delay = 0.4  # each page takes 0.4 s: the SIGINT lands between or inside pages
    args = ["data", "download", "binance", "BTC/USDT", "--start", "2024-01-01"]
    args += ["--end", "2024-01-15", "--api-url", server.url]
    child = desk(*args, cwd=tmp_path, env={"BACKTEST_DESK_CACHE": str(own_cache)})
    deadline = time.monotonic() + 60
    while len(kline_starts(server)) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=30)
    assert child.returncode == 130, err
    assert "Traceback" not in err
    assert err.splitlines() == [
        "interrupted: the pages downloaded so far are kept in the cache; run the same "
        "command again to fetch the rest"
    ]
    cached = candle_cache.load("binance", "BTC/USDT", "1m")
    assert cached is not None
    pages = len(cached.candles) // 1000
    answered = len(kline_starts(server))
    assert pages >= 3 and pages in (answered - 1, answered)  # the one in flight may be lost
    assert cached.spans == ((T0, T0 + pages * PAGE),)
    assert cached.candles.to_candles() == generate("BTCUSDT", T0, T0 + pages * PAGE).to_candles()
    assert not list(cached.path.parent.glob("*.tmp"))
    server.delay = 0.0
    server.requests.clear()
    resumed = desk(*args, cwd=tmp_path, env={"BACKTEST_DESK_CACHE": str(own_cache)})
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert kline_starts(server)[0] == T0 + pages * PAGE  # only the rest is asked
    assert "20,160 candles" in out


KEY = "sk-proj-T3stK3yThatMustNeverShow0123abcd"
OPTIMIZER = """
from datetime import datetime, timezone

from engine import add_optimizer
from engine.optimizer import llm_client


def get_prompt(symbol, messages):
    return llm_client().chat([{"role": "user", "content": f"strategy for {symbol}"}])


add_optimizer(
    optimizer_name="keyed",
    range_train=[
        {"start_date": datetime(2024, 12, 1, tzinfo=timezone.utc),
         "end_date": datetime(2024, 12, 2, tzinfo=timezone.utc)},
    ],
    range_test={"start_date": datetime(2024, 12, 30, tzinfo=timezone.utc),
                "end_date": datetime(2024, 12, 30, 23, 59, tzinfo=timezone.utc)},
    source=[lambda args: []],
    get_prompt=get_prompt,
)
"""


def test_desk_optimize_masks_the_llm_key_the_server_echoes(tmp_path: Path) -> None:
    (tmp_path / "opt.py").write_text(OPTIMIZER)
    with serve(unauthorized_echoing_key) as llm:
        env = {
            "DESK_LLM_PROVIDER": "openai",
            "DESK_LLM_BASE_URL": llm.openai_url,
            "DESK_LLM_API_KEY": KEY,
        }
        child = desk("optimize", "keyed", "BTCUSDT", "--module", "opt.py", cwd=tmp_path, env=env)
        out, err = child.communicate(timeout=120)
    assert llm.requests[0].headers["authorization"] == f"Bearer {KEY}"  # the server saw it
    assert child.returncode == 1
    assert "401" in err and "Incorrect API key provided: sk-…abcd." in err
    assert KEY not in err and KEY not in out
    assert "T3stK3y" not in err


def test_every_configured_secret_is_masked_in_a_text() -> None:
    env = {
        "BINANCE_API_KEY": "binance-key-1234",
        "BINANCE_API_SECRET": "binance-secret-5678",
        "DESK_LLM_API_KEY_ENV": "MY_LLM",
        "MY_LLM": "my-llm-value-9999",
        "HOME": "/home/trader-with-a-long-name",
        "SHORT_TOKEN": "abc",
    }
    text = (
        "echo binance-key-1234 / binance-secret-5678 / my-llm-value-9999 "
        "/home/trader-with-a-long-name abc"
    )
    assert mask_secrets(text, environ=env) == (
        "echo …1234 / …5678 / my-…9999 /home/trader-with-a-long-name abc"
    )
