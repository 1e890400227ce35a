"""The data screen (`D`) driven by keys against a local fake Binance (ccxt's real code)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, ProgressBar, Static

from engine.data import candle_cache
from engine.data.demo import generate
from engine.data.inventory import file_dataset
from tests.engine.exchange_server import FakeBinance, fake_binance
from tests.tui.test_desk_flows import until
from tui.app import DeskApp, help_sections
from tui.screens.confirm import ConfirmModal
from tui.screens.data import DataScreen
from tui.screens.data_download import DownloadModal
from tui.screenshots import demo_app, settle
from tui.widgets.gap_calendar import GapCalendarView
from tui.widgets.vim_table import VimTable

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
MIN = 60_000


@pytest.fixture(scope="module")
def server() -> Iterator[FakeBinance]:
    with fake_binance(T0 + 20_000 * MIN) as state:
        yield state


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: FakeBinance) -> Path:
    server.missing.clear()
    server.faults.clear()
    server.requests.clear()
    monkeypatch.setenv("BACKTEST_DESK_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DESK_CCXT_API_URL", raising=False)
    return tmp_path / "cache"


def rows(app: DeskApp) -> list[list[str]]:
    table = app.screen.query_one("#data-sets", VimTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def status(app: DeskApp) -> str:
    return str(app.screen.query_one("#data-status", Static).render())


def calendar_lines(app: DeskApp) -> list[str]:
    view = app.screen.query_one(GapCalendarView)
    return [strip.text for strip in view.render_lines(view.region.reset_offset)]


async def fill_download(pilot: Pilot[Any], url: str, start: str, end: str) -> None:
    """Press N and fill the form (exchange binance, symbol BTCUSDT), then enter."""
    await pilot.press("N")
    await pilot.pause()
    modal = pilot.app.screen
    assert isinstance(modal, DownloadModal)
    for field, value in (("symbol", "BTCUSDT"), ("start", start), ("end", end), ("api-url", url)):
        modal.query_one(f"#dl-{field}", Input).value = value
    await pilot.press("enter")


async def test_a_download_lists_its_range_and_its_gap_shows_in_the_calendar(
    tmp_path: Path, server: FakeBinance
) -> None:
    server.missing.update({T0 + 70 * MIN, T0 + 71 * MIN, T0 + 72 * MIN})  # 01:10-01:12
    app = demo_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("D")
        assert isinstance(app.screen, DataScreen)
        assert "Nothing cached yet" in status(app)
        await fill_download(pilot, server.url, "2024-01-01", "2024-01-01 04:00")
        await until(lambda: rows(app) != [])
        served = [c for c in generate("BTCUSDT", T0, T0 + 240 * MIN).to_candles()]
        zero = sum(1 for c in served if c[5] == 0 and c[0] not in server.missing)
        assert rows(app) == [
            [
                *("ccxt cache", "binance", "BTC/USDT", "1m"),
                *("2024-01-01 00:00", "2024-01-01 03:59", "237", "3", str(zero)),
            ]
        ]
        assert status(app).startswith(
            "Downloaded binance BTCUSDT 1m 2024-01-01 00:00 → 2024-01-01 04:00: 237 candles, "
            "1 gap (3 candles missing)"
        )
        view = app.screen.query_one(GapCalendarView)
        assert view.cell(T0, 1) == ("3", "some missing")
        assert view.cell(T0, 0) == ("", "complete")
        assert view.cell(T0, 4) == ("·", "no data")
        await pilot.pause()
        header, day = calendar_lines(app)[:2]
        hour_1 = header.index("01")
        assert day.startswith("2024-01-01") and day[hour_1 : header.index("02")].strip() == "3"
        assert "some missing" in str(app.screen.query_one("#data-legend", Static).render())


async def test_x_cancels_a_download_that_keeps_the_pages_it_got(
    tmp_path: Path, server: FakeBinance, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = threading.Event()
    served: list[int] = []
    plain = server.klines

    def held_klines(query: dict[str, str]) -> tuple[int, str, str]:
        served.append(int(query["startTime"]))
        if len(served) > 1:  # the second page waits until the test pressed x
            gate.wait(30)
        return plain(query)

    monkeypatch.setattr(server, "klines", held_klines)
    app = demo_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("D")
        await fill_download(pilot, server.url, "2024-01-01", "2024-01-05")
        bar = app.screen.query_one("#data-progress", ProgressBar)
        await until(lambda: len(served) == 2 and bool(bar.percentage))
        assert bar.percentage is not None and 0 < bar.percentage < 0.5
        await pilot.press("x")
        assert "Cancelling" in status(app)
        gate.set()
        await until(lambda: rows(app) != [])
        assert served == [T0, T0 + 1000 * MIN]
        assert rows(app)[0][4:7] == ["2024-01-01 00:00", "2024-01-02 09:19", "2,000"]
        assert status(app).startswith("Cancelled binance BTCUSDT: kept the 2 pages it got")
        entry = candle_cache.load("binance", "BTC/USDT", "1m")
        assert entry is not None and entry.spans == ((T0, T0 + 2000 * MIN),)


async def test_d_deletes_the_highlighted_entry_after_asking(
    tmp_path: Path, server: FakeBinance
) -> None:
    app = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("D")
        await fill_download(pilot, server.url, "2024-01-01", "2024-01-01 02:00")
        await until(lambda: rows(app) != [])
        path = candle_cache.cache_path("binance", "BTC/USDT", "1m")
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")
        assert path.exists() and len(rows(app)) == 1
        await pilot.press("d")
        await pilot.press("y")
        await pilot.pause()
        assert not path.exists() and rows(app) == []
        assert status(app) == "Deleted binance BTC/USDT 1m (120 candles)."


async def test_r_downloads_the_highlighted_range_again(tmp_path: Path, server: FakeBinance) -> None:
    server.missing.add(T0 + 30 * MIN)
    app = demo_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("D")
        await fill_download(pilot, server.url, "2024-01-01", "2024-01-01 01:00")
        await until(lambda: rows(app) != [])
        assert rows(app)[0][6:8] == ["59", "1"]
        server.missing.clear()
        await pilot.press("u")
        await until(lambda: rows(app)[0][6] == "60")
        assert rows(app)[0][7] == "0" and status(app).startswith("Refreshed binance BTC/USDT")


async def test_errors_from_the_exchange_show_on_the_screen(
    tmp_path: Path, server: FakeBinance
) -> None:
    app = demo_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("D")
        await pilot.press("N")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, DownloadModal)
        modal.query_one("#dl-start", Input).value = "2024-13-01"
        await pilot.press("enter")
        error = str(modal.query_one("#data-download-error").render())
        assert error == "Start '2024-13-01' is not a date; use e.g. 2024-03-01"
        modal.query_one("#dl-start", Input).value = "2024-01-01"
        modal.query_one("#dl-end", Input).value = "2024-01-02"
        modal.query_one("#dl-symbol", Input).value = "NOPE/USDT"
        modal.query_one("#dl-api-url", Input).value = server.url
        await pilot.press("enter")
        await until(lambda: status(app).startswith("Failed"))
        assert "exchange binance has no symbol 'NOPE/USDT'" in status(app)
        assert isinstance(app.screen, DataScreen) and rows(app) == []


async def test_candle_files_are_listed_but_not_refreshed_or_deleted(tmp_path: Path) -> None:
    source = tmp_path / "btc.csv"
    source.write_text(
        "timestamp,open,high,low,close,volume\n"
        f"{T0},10,11,9,10,1\n{T0 + MIN},10,11,9,10,0\n{T0 + 3 * MIN},10,11,9,10,2\n"
    )
    app = demo_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.push_screen(DataScreen(files=[file_dataset("BTCUSDT", source)]))
        await pilot.pause()
        assert rows(app) == [
            [
                *("file", "csv", "BTCUSDT", "1m"),
                *("2024-01-01 00:00", "2024-01-01 00:03", "3", "1", "1"),
            ]
        ]
        view = app.screen.query_one(GapCalendarView)
        assert view.cell(T0, 0) == ("1", "some missing")
        await pilot.press("d")
        await pilot.press("r")
        assert isinstance(app.screen, DataScreen) and source.exists()


def test_the_help_lists_the_data_key() -> None:
    everywhere = dict(help_sections())["Everywhere"]
    assert any(getattr(b, "id", None) == "show-data" and b.key == "D" for b in everywhere)
    assert "Data" in dict(help_sections())
