"""API keys come from the environment and never reach a file the desk writes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.core.clock import SYSTEM_CLOCK
from engine.core.errors import ConfigError
from engine.core.secrets import ApiCredentials, exchange_credentials, mask, read_env_file, redact
from tests.engine.exchange_server import fake_binance

ROOT = Path(__file__).resolve().parents[1]
KEY = "DESKTESTKEY-7f3c9a1e5b2d-live-9Q4Z"
SECRET = "DESKTESTSECRET-0c8e2b6a4f1d-XJ2W"


def test_keys_are_shown_by_their_last_four_characters_only() -> None:
    credentials = ApiCredentials(KEY, SECRET)
    assert mask(KEY) == "…9Q4Z" and mask(None) == "(none)"
    assert KEY not in repr(credentials) and SECRET not in str(credentials)
    assert redact(f"bad key {KEY} / {SECRET}", credentials) == "bad key …9Q4Z / …XJ2W"


def test_keys_come_from_the_environment_then_the_named_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        f"# keys\nexport BINANCE_API_KEY='{KEY}'\nBINANCE_API_SECRET=\"{SECRET}\"\n"
    )
    assert read_env_file(env_file) == {"BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": SECRET}
    assert exchange_credentials("binance", env_file, environ={}) == ApiCredentials(KEY, SECRET)
    overridden = exchange_credentials("binance", env_file, environ={"BINANCE_API_KEY": "other"})
    assert overridden is not None and overridden.api_key == "other"
    assert exchange_credentials("binance", environ={}) is None
    with pytest.raises(ConfigError, match="BINANCE_API_SECRET is not set"):
        exchange_credentials("binance", environ={"BINANCE_API_KEY": KEY})
    (tmp_path / "bad.env").write_text(f"{KEY}\n")
    with pytest.raises(ConfigError, match=r"bad.env:1: expected KEY=VALUE") as caught:
        read_env_file(tmp_path / "bad.env")
    assert KEY not in str(caught.value)


def test_a_live_session_and_a_backtest_write_the_key_nowhere(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BINANCE_API_KEY": KEY,
        "BINANCE_API_SECRET": SECRET,
        "BACKTEST_DESK_CACHE": str(tmp_path / "cache"),
        "HOME": str(tmp_path / "home"),
    }
    outputs: list[str] = []
    with fake_binance(SYSTEM_CLOCK.now_ms() + 86_400_000) as server:
        live = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tui.cli",
                "live",
                "--exchange",
                "binance",
                "--api-url",
                server.url,
                "--symbol",
                "BTCUSDT",
                "--state-dir",
                "state",
                "--json",
                "--dump",
                "reports",
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert live.stdout is not None
        lines = [json.loads(live.stdout.readline()) for _ in range(2)]
        assert [line["event"] for line in lines] == ["started", "opened"]
        live.send_signal(signal.SIGINT)
        time.sleep(0.3)
        live.send_signal(signal.SIGINT)
        out, err = live.communicate(timeout=60)
        outputs += [out, err]
        assert live.returncode == 130, err
        assert server.api_keys and set(server.api_keys) == {KEY}  # the key was really used
        for args in (
            ["backtest", "--frame", "demo-7d", "--dump", "reports"],
            [
                "data",
                "download",
                "binance",
                "BTCUSDT",
                "--start",
                "2024-01-01",
                "--end",
                "2024-01-01T03:00",
                "--api-url",
                server.url,
            ],
        ):
            run = subprocess.run(
                [sys.executable, "-m", "tui.cli", *args],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert run.returncode == 0, run.stderr
            outputs += [run.stdout, run.stderr]
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any("state" in p.parts for p in written) and any(p.suffix == ".npz" for p in written)
    assert any(p.name == "bracket.md" for p in written)
    for path in written:
        data = path.read_bytes()
        assert KEY.encode() not in data and SECRET.encode() not in data, path
        assert KEY[-12:].encode() not in data, path
    for text in outputs:
        assert KEY not in text and SECRET not in text
