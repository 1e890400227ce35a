"""`desk backtest --json`: every signal and trade by default, statistics only with --summary."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from tests.test_cli import GOLDEN_DATA, desk


def golden_run(tmp_path: Path, *extra: str) -> dict[str, object]:
    csv_file = tmp_path / "btc.csv"
    csv_file.write_bytes(gzip.decompress(GOLDEN_DATA.read_bytes()))
    run = desk(
        "backtest",
        "--candles",
        str(csv_file),
        "--symbol",
        "BTCUSDT",
        "--profile",
        "backtest-kit-1.4.10",
        "--json",
        *extra,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("\n") == 1  # one JSON object on one line
    payload: dict[str, object] = json.loads(run.stdout)
    return payload


def test_json_lists_every_signal_and_every_trade(tmp_path: Path) -> None:
    payload = golden_run(tmp_path)
    signals = payload["signals"]
    account = payload["account"]
    assert isinstance(signals, list) and isinstance(account, dict)
    # The golden run of this file closes 77 signals (tests/golden): every one is listed, once.
    assert len(signals) == 77
    closes = sorted((row["signal"]["id"], row["close_timestamp"]) for row in signals)
    assert len({signal_id for signal_id, _ in closes}) == 77
    trades = sorted((row["signal_id"], row["close_timestamp"]) for row in account["trades"])
    assert trades == closes


def test_json_summary_prints_the_same_statistics_without_the_lists(tmp_path: Path) -> None:
    full = golden_run(tmp_path)
    summary = golden_run(tmp_path, "--summary")
    assert set(summary) == {
        "strategy",
        "symbol",
        "exchange",
        "frame",
        "profile",
        "statistics",
        "account",
        "warnings",
        "errors",
    }
    assert summary["statistics"] == full["statistics"]
    account = full["account"]
    assert isinstance(account, dict)
    assert summary["account"] == {k: v for k, v in account.items() if k != "trades"}
    assert summary["statistics"]["total_signals"] == 77  # type: ignore[index]


def test_summary_is_documented_in_help() -> None:
    run = desk("backtest", "--help")
    text = " ".join(run.stdout.split())  # argparse wraps the help text
    assert "--json print one JSON object for machines, with every signal and every trade" in text
    assert "--summary with --json, print the statistics and the account's figures only" in text
