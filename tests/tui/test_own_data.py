"""The trader's own data in the desk: candle files and the ccxt cache, runs only over data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from textual.widgets import Input, Label, Select

from engine.core.registration import exchanges
from engine.data.ccxt_exchange import CcxtMarket
from engine.data.demo import generate
from tests.engine.exchange_server import fake_binance
from tests.engine.helpers import write_candles_csv
from tests.tui.test_desk_flows import Recorder, until
from tui.cli import register_data
from tui.formatting import system_clock
from tui.messages import RunFailed, RunFinished, RunStarted
from tui.screens.launcher import LauncherModal
from tui.screenshots import demo_app, settle
from tui.state import DeskState

DAY = 86_400_000
JUNE_2023 = 1_685_577_600_000  # 2023-06-01 00:00 UTC
JAN_2024 = 1_704_067_200_000


@pytest.fixture
def own_data(tmp_path: Path) -> Iterator[Path]:
    """Two days of ETHUSDT in a file (June 2023) and a day of BTC/USDT in the ccxt cache.

    The day is downloaded through ccxt from a local stand-in for Binance's API, as
    `desk data download` does; the runs afterwards read the cache only.
    """
    write_candles_csv(tmp_path / "ETHUSDT.csv", generate("ETHUSDT", JUNE_2023, JUNE_2023 + 2 * DAY))
    register_data(None, [str(tmp_path / "ETHUSDT.csv")], None)  # what `desk --candles` does
    with fake_binance(JAN_2024 + 2 * DAY) as server:
        market = CcxtMarket("binance", api_url=server.url)
        assert len(market.download("BTC/USDT", JAN_2024, JAN_2024 + DAY).candles) == 1440
    yield tmp_path
    exchanges.remove("csv")
    exchanges.remove("binance")


def options(launcher: LauncherModal, select_id: str) -> dict[str, str]:
    """A Select's options as value → label."""
    select = launcher.query_one(select_id, Select)
    return {str(value): str(prompt) for prompt, value in select._options if isinstance(value, str)}


async def test_the_launcher_offers_files_and_the_cache_with_each_symbol_s_range(
    own_data: Path,
) -> None:
    app = demo_app(own_data)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("b")
        launcher = app.screen
        assert isinstance(launcher, LauncherModal)
        found = options(launcher, "#exchange")
        assert found["demo"] == "demo · 5 symbols"
        assert found["csv"] == "csv · 1 file"
        assert found["binance"] == "binance · cache"
        assert options(launcher, "#symbol")["BTCUSDT"] == "BTCUSDT 2024-01-01 → 12-31"
        assert options(launcher, "#frame")["demo-7d"] == "demo-7d 2024-12-25 → 12-31"

        launcher.query_one("#exchange", Select).value = "csv"
        await pilot.pause()
        assert options(launcher, "#symbol") == {"ETHUSDT": "ETHUSDT 2023-06-01 → 06-02"}
        launcher.query_one("#exchange", Select).value = "binance"
        await pilot.pause()
        assert options(launcher, "#symbol") == {"BTC/USDT": "BTC/USDT 2024-01-01 → 01-01"}


async def test_a_frame_outside_the_data_is_refused_in_the_launcher(own_data: Path) -> None:
    seen = Recorder()
    app = demo_app(own_data)
    async with app.run_test(size=(120, 40), message_hook=seen) as pilot:
        await settle(pilot)
        await pilot.press("b")
        launcher = app.screen
        launcher.query_one("#exchange", Select).value = "csv"
        await pilot.pause()
        # the demo frame misses the file's data: the launcher offers the data's range instead
        assert launcher.query_one("#frame", Select).value == "__range__"
        assert launcher.query_one("#start", Input).value == "2023-06-01"
        assert launcher.query_one("#end", Input).value == "2023-06-02"
        launcher.query_one("#frame", Select).value = "demo-7d"  # the trader insists
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is launcher
        error = str(launcher.query_one("#launcher-error", Label).render())
        assert "no candles of ETHUSDT on csv from 2024-12-25 00:00 → 2024-12-31 23:59" in error
        assert "the data covers 2023-06-01 00:00 → 2023-06-02 23:59 (UTC)" in error
    assert not any(isinstance(m, RunStarted | RunFailed) for m in seen)


@pytest.mark.parametrize("field", ["#strategy", "#exchange", "#symbol"])
async def test_a_blank_choice_never_starts_a_run(tmp_path: Path, field: str) -> None:
    seen = Recorder()
    app = demo_app(tmp_path)
    async with app.run_test(size=(120, 40), message_hook=seen) as pilot:
        await settle(pilot)
        await pilot.press("b")
        launcher = app.screen
        launcher.query_one(field, Select).clear()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is launcher
        assert "choose" in str(launcher.query_one("#launcher-error", Label).render())
    assert app.return_code in (None, 0)
    assert not any(isinstance(m, RunStarted) for m in seen)


async def test_enter_starts_the_run_from_any_field(tmp_path: Path) -> None:
    seen = Recorder()
    app = demo_app(tmp_path)
    async with app.run_test(size=(120, 40), message_hook=seen) as pilot:
        await settle(pilot)
        await pilot.press("b")
        app.screen.query_one("#strategy", Select).focus()
        await pilot.press("enter")
        await until(lambda: any(isinstance(m, RunFinished) for m in seen))
    started = next(m for m in seen if isinstance(m, RunStarted))
    assert started.request.strategy_name == "bracket"


def headless(cache: Path, *args: str) -> dict[str, object]:
    run = subprocess.run(
        [sys.executable, "-m", "tui.cli", "backtest", *args, "--json"],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "PYTHONPATH": str(Path(__file__).parents[2]),
            "BACKTEST_DESK_CACHE": str(cache),
        },
        timeout=180,
        check=True,
    )
    payload = json.loads(run.stdout)
    assert isinstance(payload, dict)
    return payload


async def test_a_cached_dataset_runs_in_the_desk_as_it_does_headless(own_data: Path) -> None:
    seen = Recorder()
    app = demo_app(own_data)
    async with app.run_test(size=(120, 40), message_hook=seen) as pilot:
        await settle(pilot)
        await pilot.press("b")
        launcher = app.screen
        launcher.query_one("#exchange", Select).value = "binance"
        launcher.query_one("#frame", Select).value = "__range__"
        await pilot.pause()
        launcher.query_one("#symbol", Select).value = "BTC/USDT"
        await pilot.pause()
        # the data's range is offered when the range typed does not meet it
        assert launcher.query_one("#start", Input).value == "2024-01-01"
        assert launcher.query_one("#end", Input).value == "2024-01-01"
        await pilot.press("enter")
        await until(lambda: any(isinstance(m, RunFinished | RunFailed) for m in seen), 90)
    failed = [m for m in seen if isinstance(m, RunFailed)]
    assert not failed, failed[0].msg
    record = next(m for m in seen if isinstance(m, RunFinished)).record
    assert record.request.exchange_name == "binance"
    expected = headless(own_data / "cache", "--exchange", "binance", "--symbol", "BTC/USDT")
    statistics = expected["statistics"]
    assert isinstance(statistics, dict)
    assert statistics["total_signals"] > 0
    account = expected["account"]  # the account's figures, in money
    assert isinstance(account, dict)
    for name, value in record.statistics.items():
        assert value == (statistics[name] if name in statistics else account[name]), name
    stored = DeskState(own_data / "state", system_clock).runs()
    assert stored[0].request.exchange_name == "binance"


def test_charts_never_draw_candles_outside_the_range(tmp_path: Path) -> None:
    app = demo_app(tmp_path)
    bridge = app.bridge
    year_2023 = bridge.price_series("demo", "BTCUSDT", JAN_2024 - 365 * DAY, JAN_2024 - DAY, 100)
    assert len(year_2023) == 0  # the demo market starts in 2024: nothing to draw
    span = bridge.price_series("demo", "BTCUSDT", JAN_2024 + DAY, JAN_2024 + 2 * DAY, 24)
    assert len(span) == 24
    assert int(span.timestamp[0]) == JAN_2024 + DAY
    assert bool(np.all(span.timestamp <= JAN_2024 + 2 * DAY))


async def test_the_data_screen_lists_the_desk_s_files_and_the_cache(own_data: Path) -> None:
    from tests.tui.test_data_screen import rows

    app = demo_app(own_data)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("D")
        await pilot.pause()
        listed = {(row[0], row[1], row[2]): row[4:7] for row in rows(app)}
    assert listed[("file", "csv", "ETHUSDT")] == ["2023-06-01 00:00", "2023-06-02 23:59", "2,880"]
    assert listed[("ccxt cache", "binance", "BTC/USDT")] == [
        "2024-01-01 00:00",
        "2024-01-01 23:59",
        "1,440",
    ]
