"""`desk data list`, `delete` and `download --refresh` against a local fake exchange."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.exchange_server import FakeBinance, fake_binance
from tui.cli import main

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
MIN = 60_000


@pytest.fixture(scope="module")
def server() -> Iterator[FakeBinance]:
    with fake_binance(T0 + 10_000 * MIN) as state:
        yield state


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: FakeBinance) -> Path:
    server.missing.clear()
    server.faults.clear()
    server.requests.clear()
    monkeypatch.setenv("BACKTEST_DESK_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def desk(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def download(capsys: pytest.CaptureFixture[str], server: FakeBinance, *extra: str) -> str:
    code, out, err = desk(
        capsys,
        "data",
        "download",
        "binance",
        "BTCUSDT",
        "--start",
        "2024-01-01T00:00",
        "--end",
        "2024-01-01T03:00",
        "--api-url",
        server.url,
        *extra,
    )
    assert code == 0, err
    return out


def klines(server: FakeBinance) -> int:
    return sum(path == "/api/v3/klines" for path, _ in server.requests)


def test_list_shows_range_rows_and_missing_minutes_of_each_dataset(
    capsys: pytest.CaptureFixture[str], server: FakeBinance, tmp_path: Path
) -> None:
    code, out, _ = desk(capsys, "data", "list")
    assert code == 0 and out.startswith("no candles cached yet in ")
    server.missing.update({T0 + 61 * MIN, T0 + 62 * MIN})
    download(capsys, server)
    candle_file = tmp_path / "eth.csv"
    candle_file.write_text(
        "timestamp,open,high,low,close,volume\n"
        f"{T0},10,11,9,10,1\n{T0 + MIN},10,11,9,10,0\n{T0 + 4 * MIN},10,11,9,10,2\n"
    )
    code, out, _ = desk(capsys, "data", "list", "--candles", f"ETHUSDT={candle_file}")
    assert code == 0
    header, cached, listed = out.splitlines()
    assert header.split() == [
        *("kind", "exchange", "symbol", "tf", "first", "(UTC)", "last", "(UTC)", "rows"),
        *("missing", "min", "zero-vol", "min"),
    ]
    assert cached.split() == [
        *("ccxt", "cache", "binance", "BTC/USDT", "1m", "2024-01-01", "00:00"),
        *("2024-01-01", "02:59", "178", "2", "0"),
    ]
    assert listed.split() == [
        *("file", "csv", "ETHUSDT", "1m", "2024-01-01", "00:00", "2024-01-01", "00:04"),
        *("3", "2", "1"),
    ]


def test_list_json_gives_the_same_fields(
    capsys: pytest.CaptureFixture[str], server: FakeBinance, tmp_path: Path
) -> None:
    server.missing.add(T0 + 100 * MIN)
    download(capsys, server)
    code, out, _ = desk(capsys, "data", "list", "--json")
    assert code == 0
    payload = json.loads(out)
    assert payload["cache"] == str(tmp_path / "cache" / "ccxt")
    (row,) = payload["datasets"]
    assert row == {
        "kind": "ccxt cache",
        "exchange": "binance",
        "symbol": "BTC/USDT",
        "timeframe": "1m",
        "first": "2024-01-01 00:00",
        "last": "2024-01-01 02:59",
        "first_ms": T0,
        "last_ms": T0 + 179 * MIN,
        "rows": 179,
        "missing_minutes": 1,
        "zero_volume_minutes": 0,
        "path": str(tmp_path / "cache" / "ccxt" / "binance" / "BTC-USDT" / "1m.npz"),
    }


def test_a_bad_candle_file_is_an_error_naming_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = desk(capsys, "data", "list", "--candles", str(tmp_path / "nope.csv"))
    assert code == 1 and "nope.csv: no such file" in err and "Traceback" not in err


def test_delete_removes_the_entry_and_names_what_is_cached_when_missing(
    capsys: pytest.CaptureFixture[str], server: FakeBinance, own_cache: Path
) -> None:
    download(capsys, server)
    code, out, err = desk(capsys, "data", "delete", "binance", "BTCUSDT", "--timeframe", "5m")
    assert code == 1 and out == ""
    assert err == (
        "error: nothing cached for binance BTCUSDT --timeframe 5m; "
        "the cache holds: binance BTC/USDT --timeframe 1m\n"
    )
    code, out, _ = desk(capsys, "data", "delete", "binance", "BTCUSDT")
    path = own_cache / "ccxt" / "binance" / "BTC-USDT" / "1m.npz"
    assert code == 0 and out == (
        "removed binance BTC/USDT 1m: 180 candles from 2024-01-01 00:00 to 2024-01-01 02:59 UTC "
        f"({path})\n"
    )
    assert not path.exists()
    code, out, _ = desk(capsys, "data", "list")
    assert code == 0 and out.startswith("no candles cached yet")


def test_refresh_downloads_a_cached_range_again(
    capsys: pytest.CaptureFixture[str], server: FakeBinance
) -> None:
    server.missing.add(T0 + 10 * MIN)
    assert "179 candles" in download(capsys, server)
    assert "179 candles" in download(capsys, server) and klines(server) == 1
    server.missing.clear()
    assert "180 candles" in download(capsys, server, "--refresh") and klines(server) == 2
    code, out, _ = desk(capsys, "data", "list", "--json")
    assert code == 0 and json.loads(out)["datasets"][0]["missing_minutes"] == 0
