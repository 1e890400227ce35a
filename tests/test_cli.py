"""`desk backtest`: what a user sees in a terminal and what a script reads."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.engine.helpers import write_candles_csv

GOLDEN_DATA = Path(__file__).parent / "golden" / "data" / "btc-7-4320.csv.gz"


def desk(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
        timeout=120,
    )


def test_backtest_on_the_demo_market_prints_summary_and_report() -> None:
    run = desk("backtest", "--strategy", "bracket", "--frame", "demo-7d")
    assert run.returncode == 0, run.stderr
    assert "bracket on BTCUSDT" in run.stdout
    assert "Closed signals" in run.stdout
    assert "# Backtest Report: bracket" in run.stdout
    assert "Traceback" not in run.stderr


def test_json_output_reproduces_the_golden_run_from_a_csv(tmp_path: Path) -> None:
    csv_file = tmp_path / "btc.csv"
    csv_file.write_bytes(gzip.decompress(GOLDEN_DATA.read_bytes()))
    run = desk(
        "backtest",
        "--strategy",
        "bracket",
        "--candles",
        str(csv_file),
        "--symbol",
        "BTCUSDT",
        "--profile",
        "backtest-kit-1.4.10",
        "--json",
    )
    assert run.returncode == 0, run.stderr
    payload = json.loads(run.stdout)
    assert payload["statistics"]["total_signals"] == 77
    assert payload["statistics"]["total_pnl"] == -25.44002473986991
    assert len(payload["signals"]) == 77
    assert payload["signals"][0]["close_reason"] == "stop_loss"
    assert run.stderr == ""


def test_broken_csv_gives_a_clear_message_and_a_failing_exit(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "timestamp,open,high,low,close,volume\n"
        "1704067200000,100,101,99,100.5,3\n"
        "1704067260000,100.5,oops,99,100,2\n"
    )
    run = desk("backtest", "--candles", str(bad))
    assert run.returncode == 1
    assert "bad.csv, line 3" in run.stderr
    assert "'oops'" in run.stderr
    assert "Traceback" not in run.stderr


def test_nan_candle_is_rejected_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "nan.csv"
    bad.write_text(
        "timestamp,open,high,low,close,volume\n"
        "1704067200000,100,101,99,100.5,3\n"
        "1704067260000,100.5,NaN,99,100,2\n"
    )
    run = desk("backtest", "--candles", str(bad))
    assert run.returncode == 1
    assert "line 3" in run.stderr and "NaN" in run.stderr
    assert "Traceback" not in run.stderr


def test_unknown_strategy_suggests_the_nearest_name() -> None:
    run = desk("backtest", "--strategy", "brakcet", "--frame", "demo-7d")
    assert run.returncode == 1
    assert "strategy brakcet not found" in run.stderr
    assert "Did you mean 'bracket'?" in run.stderr
    assert "Traceback" not in run.stderr


def test_user_module_strategy_runs_and_its_errors_are_reported(tmp_path: Path) -> None:
    module = tmp_path / "mine.py"
    module.write_text(
        "from engine import add_strategy, get_average_price\n"
        "calls = []\n"
        "def get_signal(symbol, when):\n"
        "    calls.append(when)\n"
        "    if len(calls) % 2:\n"
        "        raise RuntimeError('flaky indicator')\n"
        "    p = get_average_price(symbol)\n"
        "    return {'position': 'long', 'price_take_profit': p * 1.02,\n"
        "            'price_stop_loss': p * 0.99, 'minute_estimated_time': 60}\n"
        "add_strategy(strategy_name='mine', interval='1h', get_signal=get_signal)\n"
    )
    run = desk("backtest", "--module", str(module), "--strategy", "mine", "--frame", "demo-7d")
    assert run.returncode == 3, run.stderr  # completed, with engine errors
    assert "strategy error: strategy mine raised RuntimeError: flaky indicator" in run.stderr
    assert "more strategy errors" in run.stderr
    assert "mine on BTCUSDT" in run.stdout


RAISING_MODULE = (
    "from engine import add_strategy\n"
    "def get_signal(symbol, when):\n"
    "    raise ValueError('boom')\n"
    "add_strategy(strategy_name='raiser', interval='1h', get_signal=get_signal)\n"
)
DEMO_7D_CALLS = 7 * 24  # an hourly strategy is asked once an hour over the 7 days of demo-7d
FIRST_ERROR = "strategy raiser raised ValueError: boom in get_signal for BTCUSDT"


def summary_row(stdout: str, label: str) -> str:
    """The value of one row of the plain-text summary."""
    line = next(line for line in stdout.splitlines() if line.startswith(f"  {label}  "))
    return line[len(label) + 2 :].strip()


def test_a_run_whose_strategy_raises_exits_3_and_counts_every_error(tmp_path: Path) -> None:
    module = tmp_path / "raiser.py"
    module.write_text(RAISING_MODULE)
    argv = ["backtest", "--module", str(module), "--strategy", "raiser", "--frame", "demo-7d"]
    run = desk(*argv, "--no-report")
    assert run.returncode == 3, run.stderr
    assert summary_row(run.stdout, "Engine errors") == str(DEMO_7D_CALLS)
    assert f"  First error: {FIRST_ERROR}" in run.stdout
    assert f"… and {DEMO_7D_CALLS - 5} more strategy errors" in run.stderr

    as_json = desk(*argv, "--json")
    assert as_json.returncode == 3, as_json.stderr
    errors = json.loads(as_json.stdout)["errors"]
    assert errors["count"] == DEMO_7D_CALLS
    assert errors["first"].startswith(FIRST_ERROR)
    assert len(errors["messages"]) == 20 and errors["messages"][0] == errors["first"]


def test_a_walker_whose_strategy_raises_exits_3_and_says_so(tmp_path: Path) -> None:
    module = tmp_path / "raiser.py"
    module.write_text(RAISING_MODULE)
    argv = ["walker", "--module", str(module), "--strategies", "raiser,bracket"]
    run = desk(*argv, "--frame", "demo-7d", "--serial")
    assert run.returncode == 3, run.stderr
    assert f"engine errors: {DEMO_7D_CALLS} · first: {FIRST_ERROR}" in run.stdout
    as_json = desk(*argv, "--frame", "demo-7d", "--json")  # in parallel: errors come back
    assert as_json.returncode == 3, as_json.stderr
    assert json.loads(as_json.stdout)["errors"]["count"] == DEMO_7D_CALLS


def test_a_candle_file_run_reports_no_false_error_at_its_first_candle(tmp_path: Path) -> None:
    from engine.data.demo import generate

    start = 1_709_251_200_000  # 2024-03-01T00:00Z: the file's first candle
    candles = generate("BTCUSDT", start, start + 2 * 86_400_000)
    csv_file = write_candles_csv(tmp_path / "btc.csv", candles)
    run = desk("backtest", "--candles", str(csv_file), "--symbol", "BTCUSDT", "--no-report")
    assert run.returncode == 0, run.stderr
    assert "strategy error" not in run.stderr
    assert summary_row(run.stdout, "Engine errors") == "0"
    assert int(summary_row(run.stdout, "Closed signals")) > 0


@pytest.mark.parametrize("verb", ["backtest", "walker"])
def test_help_documents_the_exit_statuses(verb: str) -> None:
    run = desk(verb, "--help")
    assert run.returncode == 0
    epilog = run.stdout[run.stdout.index("exit status:") :]
    codes = [line.split()[0] for line in epilog.splitlines()[1:] if line[:3].strip().isdigit()]
    assert codes == ["0", "1", "2", "3", "130"]


def test_module_that_fails_to_import_names_file_and_line(tmp_path: Path) -> None:
    module = tmp_path / "broken.py"
    module.write_text("import engine\n\nx = 1 / 0\n")
    run = desk("backtest", "--module", str(module))
    assert run.returncode == 1
    assert "broken.py:3" in run.stderr and "ZeroDivisionError" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_stops_cleanly(tmp_path: Path) -> None:
    module = tmp_path / "slow.py"
    module.write_text(
        "import time\n"
        "from engine import add_strategy\n"
        "def get_signal(symbol, when):\n"
        "    time.sleep(0.01)\n"
        "add_strategy(strategy_name='slow', interval='1m', get_signal=get_signal)\n"
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tui.cli",
            "backtest",
            "--module",
            str(module),
            "--strategy",
            "slow",
            "--frame",
            "demo-7d",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
    )
    time.sleep(3.0)
    assert process.poll() is None, "the run should still be going"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "stopped by Ctrl+C" in err
    assert "Traceback" not in err


def _cache_env(cache: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).parent.parent),
        "BACKTEST_DESK_CACHE": str(cache),
    }


def _without(rows: list[dict[str, object]], *keys: str) -> list[dict[str, object]]:
    """The rows without the keys that differ by design (random ids, the exchange's name)."""
    return [{k: v for k, v in row.items() if k not in keys} for row in rows]


def desk_with_cache(cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        capture_output=True,
        text=True,
        env=_cache_env(cache),
        timeout=180,
    )


def test_downloaded_candles_backtest_offline_exactly_like_the_same_candles_in_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.data import candle_cache
    from tests.engine.exchange_server import fake_binance

    cache = tmp_path / "cache"
    now = 1_704_067_200_000 + 3 * 86_400_000
    with fake_binance(now) as server:
        got = desk_with_cache(
            cache,
            "data",
            "download",
            "binance",
            "BTC/USDT",
            "--start",
            "2024-01-01",
            "--end",
            "2024-01-03",
            "--api-url",
            server.url,
        )
        assert got.returncode == 0, got.stderr
    # the server is gone: what follows reads the local cache only
    monkeypatch.setenv("BACKTEST_DESK_CACHE", str(cache))
    entry = candle_cache.load("binance", "BTC/USDT", "1m")
    assert entry is not None and len(entry.candles) == 2 * 1440
    csv_file = write_candles_csv(tmp_path / "same.csv", entry.candles)
    cached = desk_with_cache(
        cache, "backtest", "--exchange", "binance", "--symbol", "BTC/USDT", "--json"
    )
    from_file = desk_with_cache(cache, "backtest", "--candles", f"BTC/USDT={csv_file}", "--json")
    assert cached.returncode == 0, cached.stderr
    assert from_file.returncode == 0, from_file.stderr
    a, b = json.loads(cached.stdout), json.loads(from_file.stdout)
    assert a["exchange"] == "binance" and b["exchange"] == "csv"
    assert a["statistics"]["total_signals"] > 10
    assert a["statistics"] == b["statistics"]
    assert _without(a["signals"], "signal", "exchange_name") == _without(
        b["signals"], "signal", "exchange_name"
    )

    walker = desk_with_cache(
        cache,
        "walker",
        "--exchange",
        "binance",
        "--symbols",
        "BTCUSDT",
        "--strategies",
        "bracket",
        "--serial",
        "--json",
    )
    assert walker.returncode == 0, walker.stderr
    ranking = json.loads(walker.stdout)["symbols"][0]
    assert ranking["symbol"] == "BTC/USDT"
    assert ranking["ranking"][0]["trades"] == a["statistics"]["total_signals"]

    outside = desk_with_cache(
        cache,
        "backtest",
        "--exchange",
        "binance",
        "--symbol",
        "BTC/USDT",
        "--start",
        "2023-06-01",
        "--end",
        "2023-06-30",
    )
    assert outside.returncode == 1
    assert "the data covers 2024-01-01 00:00 → 2024-01-02 23:59 (UTC)" in outside.stderr
    assert (
        "desk data download binance BTC/USDT --start 2023-06-01 --end 2023-07-01" in outside.stderr
    )
    assert outside.stdout == ""

    missing = desk_with_cache(cache, "backtest", "--exchange", "kraken", "--symbol", "BTC/USD")
    assert missing.returncode == 1
    assert "desk data download kraken BTC/USD" in missing.stderr


def test_a_range_partly_outside_the_file_is_trimmed_with_a_warning(tmp_path: Path) -> None:
    csv_file = tmp_path / "BTCUSDT.csv"
    csv_file.write_bytes(gzip.decompress(GOLDEN_DATA.read_bytes()))
    first = desk("backtest", "--candles", str(csv_file), "--json")
    assert first.returncode == 0, first.stderr
    whole = json.loads(first.stdout)
    assert whole["symbol"] == "BTCUSDT"  # from the file name
    assert whole["warnings"] == []
    wide = ("--start", "2020-01-01", "--end", "2030-01-01")
    trimmed = desk("backtest", "--candles", str(csv_file), *wide, "--json")
    assert trimmed.returncode == 0, trimmed.stderr
    payload = json.loads(trimmed.stdout)
    assert payload["statistics"] == whole["statistics"]  # the data's range, never padded
    assert "the data covers" in payload["warnings"][0]
    assert "instead of 2020-01-01 00:00 → 2030-01-01 00:00" in payload["warnings"][0]
    shown = desk("backtest", "--candles", str(csv_file), *wide, "--no-report")
    assert "warning: BTCUSDT on csv: the data covers" in shown.stderr


def test_an_unknown_symbol_is_refused_before_the_run(tmp_path: Path) -> None:
    run = desk("backtest", "--symbol", "DOGEUSDT", "--frame", "demo-7d")
    assert run.returncode == 1
    assert "exchange demo has no symbol 'DOGEUSDT'; it has BTCUSDT" in run.stderr
    assert "strategy error" not in run.stderr


def test_the_account_compounds_from_the_balance_given(tmp_path: Path) -> None:
    run = desk("backtest", "--frame", "demo-7d", "--balance", "5000", "--json")
    assert run.returncode == 0, run.stderr
    payload = json.loads(run.stdout)
    account, signals = payload["account"], payload["signals"]
    assert account["balance"] == 5000 and len(account["trades"]) == len(signals) > 10
    # By hand: all the equity goes into each trade in turn, so equity multiplies by
    # (1 + pnl % / 100) per trade, and each trade pays 0.1 % in and 0.1 % out of its size.
    equity, fees = 5000.0, 0.0
    for row in sorted(signals, key=lambda s: s["close_timestamp"]):
        fees += equity * 0.002
        equity *= 1 + row["pnl"]["pnl_percentage"] / 100
    assert account["final_equity"] == pytest.approx(equity)
    assert account["return_percent"] == pytest.approx((equity / 5000 - 1) * 100)
    assert account["fees_paid"] == pytest.approx(fees)
    assert account["trades"][-1]["equity_after"] == pytest.approx(equity)
    assert payload["statistics"]["total_pnl"] is not None  # backtest-kit's figures stay

    text = desk("backtest", "--frame", "demo-7d", "--balance", "5000", "--no-report")
    assert text.returncode == 0, text.stderr
    shown = summary_row(text.stdout, "Final equity")
    assert shown == f"{equity:,.2f}".replace(",", " ")
    lines = text.stdout.splitlines()
    labels = [line.split("  ")[1] for line in lines if line.startswith("  ")]
    assert labels.index("Final equity") < labels.index("Closed signals")
    for label in ("Total PnL", "Max drawdown", "Yearly return"):
        assert f"{label} (sum of trade %)" in labels
    for label in ("CAGR", "Max drawdown (of peak)", "Drawdown duration", "Exposure"):
        assert label in labels
    assert "Fees paid" in labels and "Longest losing streak" in labels


@pytest.mark.parametrize("balance", ["0", "-10", "lots"])
def test_a_balance_that_is_not_a_positive_amount_is_refused(balance: str) -> None:
    run = desk("backtest", "--frame", "demo-7d", "--balance", balance)
    assert run.returncode == 2
    assert f"balance {balance!r} must be a positive amount, e.g. --balance 10000" in run.stderr
