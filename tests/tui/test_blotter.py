"""The trade blotter, the trade view and the overview chart, driven by keys (Pilot).

The big cases use one real 365-day demo run (about 9,000 trades, made by keys in a child
process once per module); each test opens its own copy of that state.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

from tui.app import DeskApp
from tui.engine_bridge import PriceSeries
from tui.formatting import format_count, format_price, system_clock
from tui.runs import RunRecord, RunRequest, SignalStatus, SignalView
from tui.screens.blotter import BlotterScreen
from tui.screens.run_detail import RunScreen
from tui.screens.trade import TradeScreen, partial_levels, trade_events
from tui.screenshots import demo_app, settle
from tui.state import DeskState
from tui.widgets.price_chart import PriceChart
from tui.widgets.trade_chart import TradeChart
from tui.widgets.trade_table import TradeTable

THEMES = ("desk-dark", "desk-light")
SIZES = ((120, 40), (80, 24))


async def _run_year(root: Path) -> None:
    app = demo_app(root)
    app.state.last_request = RunRequest(
        strategy_name="bracket", symbol="BTCUSDT", exchange_name="demo", frame_name="demo-365d"
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("b", "enter")
        await settle(pilot)


@pytest.fixture(scope="module")
def year_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state directory holding one bracket run over demo-365d, made by keys."""
    root = tmp_path_factory.mktemp("year")
    home = Path.cwd()
    os.chdir(root)
    try:
        asyncio.run(_run_year(root))
    finally:
        os.chdir(home)
    return root


@pytest.fixture
def year_desk(year_root: Path, tmp_path: Path) -> tuple[DeskApp, RunRecord]:
    """The desk over a private copy of the year's run, and that run as stored."""
    shutil.copytree(year_root / "state", tmp_path / "state")
    state = DeskState(tmp_path / "state", system_clock)
    record = state.run(state.runs()[0].run_id)
    assert record is not None and record.request.frame_name == "demo-365d"
    return demo_app(tmp_path), record


async def _open_blotter(pilot: Pilot[None]) -> TradeTable:
    await settle(pilot)
    await pilot.press("T")
    await settle(pilot)
    assert isinstance(pilot.app.screen, BlotterScreen)
    return pilot.app.screen.query_one(TradeTable)


async def test_the_blotter_holds_every_trade_of_a_year(
    year_desk: tuple[DeskApp, RunRecord],
) -> None:
    app, record = year_desk
    count = len(record.signals)
    assert count > 5000  # a year of bracket trades, far beyond the stream's 40 rows
    async with app.run_test(size=(120, 40)) as pilot:
        table = await _open_blotter(pilot)
        assert len(table.trades) == table.shown_count == count
        assert {v.signal_id for v in table.trades} == {v.signal_id for v in record.signals}
        assert str(table.border_title).startswith(f"{format_count(count)} trades")
        await pilot.press("G")
        assert table.current == table.row(count - 1)
        lines = [table.render_line(y).text for y in range(table.size.height)]
        last = record.signals[-1]
        assert format_price(last.price_open) in lines[-1]


async def test_sorting_by_pnl_puts_the_worst_first_and_reversing_puts_it_last(
    year_desk: tuple[DeskApp, RunRecord],
) -> None:
    app, record = year_desk
    pnls = [v.pnl_percentage for v in record.signals if v.pnl_percentage is not None]
    worst, best = min(pnls), max(pnls)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await _open_blotter(pilot)
        for _ in range(len(table.header_labels())):
            await pilot.press("left")
        for _ in range(10):  # Open time … PnL %: the eleventh column
            await pilot.press("right")
        await pilot.press("s")
        assert table.row(0).pnl_percentage == worst
        second = table.row(1).pnl_percentage
        assert second is not None and second >= worst
        assert "PnL %▲" in table.render_line(0).text
        await pilot.press("s")
        assert table.row(0).pnl_percentage == best
        assert table.row(table.shown_count - 1).pnl_percentage == worst
        assert "PnL %▼" in table.render_line(0).text
        assert "by PnL % ▼" in str(table.border_title)


async def test_filters_by_side_reason_and_text_count_exactly(
    year_desk: tuple[DeskApp, RunRecord],
) -> None:
    app, record = year_desk
    signals = record.signals
    shorts = sum(1 for v in signals if v.position == "short")
    stops = sum(1 for v in signals if v.close_reason == "stop_loss")
    long_tp = sum(1 for v in signals if v.position == "long" and v.close_reason == "take_profit")
    march = sum(1 for v in signals if _iso(v.opened_at)[5:8] == "03-")
    async with app.run_test(size=(120, 40)) as pilot:
        table = await _open_blotter(pilot)
        await pilot.press("slash", *"short", "enter")
        assert table.shown_count == shorts
        assert all(table.row(i).position == "short" for i in range(table.shown_count))
        assert f"filtered {format_count(shorts)}" in str(table.border_title)
        await pilot.press("escape")
        assert table.shown_count == len(signals)
        assert isinstance(app.screen, BlotterScreen)  # esc cleared the filter, stayed
        await pilot.press("slash", *"sl", "enter")
        assert table.shown_count == stops
        await pilot.press("escape", "slash", *"long tp", "enter")
        assert table.shown_count == long_tp
        await pilot.press("escape", "slash", "0", "3", "minus", "enter")
        opened_in_march = sum(
            1 for i in range(table.shown_count) if _iso(table.row(i).opened_at)[5:8] == "03-"
        )
        assert table.shown_count >= march and opened_in_march == march
        await pilot.press("escape", "escape")
        assert not isinstance(app.screen, BlotterScreen)


def _iso(ms: int) -> str:
    return np.datetime64(ms, "ms").astype(str)


async def test_enter_opens_the_trade_with_its_prices_labelled(
    year_desk: tuple[DeskApp, RunRecord],
) -> None:
    app, _record = year_desk
    async with app.run_test(size=(120, 40)) as pilot:
        table = await _open_blotter(pilot)
        await pilot.press("j", "j")
        trade = table.current
        assert trade is not None and trade.price_close is not None
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TradeScreen) and app.screen.view == trade
        chart = app.screen.query_one(TradeChart)
        labels = " | ".join(label.text for label in chart.labels)
        for price in (trade.price_open, trade.price_take_profit, trade.price_stop_loss):
            assert format_price(price) in labels
        assert f"exit {format_price(trade.price_close)}" in labels
        drawn = "\n".join(chart.render_line(y).text for y in range(chart.size.height))
        assert f"TP {format_price(trade.price_take_profit)}" in drawn
        assert f"SL {format_price(trade.price_stop_loss)}" in drawn
        assert f"entry {format_price(trade.price_open)}" in drawn
        assert f"exit {format_price(trade.price_close)}" in drawn
        events = app.screen.query_one(DataTable)
        names = [str(events.get_row_at(i)[0]) for i in range(events.row_count)]
        assert names[0] == "opened" and "closed" in names
        await pilot.press("escape")
        assert isinstance(app.screen, BlotterScreen)


async def test_the_overview_counts_every_trade_per_candle_and_zooms_and_pans(
    year_desk: tuple[DeskApp, RunRecord],
) -> None:
    app, record = year_desk
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        chart = app.desk.query_one(PriceChart)
        assert sum(chart.bucket_counts.values()) == len(record.signals)
        assert f"{format_count(len(record.signals))} trades" in str(chart.border_subtitle)
        assert "1 signal in" not in str(chart.border_subtitle)
        start, end = chart.loaded_window
        await pilot.press("1", "plus")
        await settle(pilot)
        span = chart.window[1] - chart.window[0]
        assert abs(2 * span - (end - start)) <= 1  # half the span …
        assert abs(sum(chart.window) - (start + end)) <= 2  # … around the middle
        inside = sum(1 for v in record.signals if chart.window[0] <= v.opened_at <= chart.window[1])
        assert abs(sum(chart.bucket_counts.values()) - inside) <= max(chart.bucket_counts.values())
        before = chart.window
        await pilot.press("less_than_sign")
        await settle(pilot)
        assert chart.window == (before[0] - span // 4, before[1] - span // 4)
        for _ in range(8):
            await pilot.press("less_than_sign")
        await settle(pilot)
        assert chart.window == (start, start + span)  # stops at the run's first candle
        await pilot.press("minus", "minus")
        await settle(pilot)
        assert chart.window == (start, end)


def test_partial_levels_are_read_from_the_candles_of_the_trade() -> None:
    # A long at 100, TP 110, SL 95: a level is 1 (profit) or 0.5 (loss) per 10 %.
    trade = SignalView(
        signal_id="t",
        status=SignalStatus.CLOSED,
        position="long",
        price_open=100.0,
        price_take_profit=110.0,
        price_stop_loss=95.0,
        opened_at=60_000,
        closed_at=240_000,
        price_close=97.0,
        close_reason="time_expired",
        pnl_percentage=-3.0,
    )
    series = PriceSeries(
        np.array([0, 60_000, 120_000, 180_000, 240_000]),
        np.array([100.0, 100.0, 102.0, 104.0, 98.0]),
        np.array([120.0, 103.2, 105.5, 104.0, 99.0]),  # the first candle is before the entry
        np.array([80.0, 99.0, 101.0, 97.0, 97.0]),
        np.array([100.0, 102.0, 104.0, 98.0, 97.0]),
    )
    events = [(e.name, e.at) for e in partial_levels(trade, series)]
    assert events == [
        ("partial profit 10 %", 60_000),
        ("partial profit 20 %", 60_000),
        ("partial profit 30 %", 60_000),
        ("partial profit 40 %", 120_000),
        ("partial profit 50 %", 120_000),
        ("partial loss 10 %", 60_000),
        ("partial loss 20 %", 60_000),
        ("partial loss 30 %", 180_000),
        ("partial loss 40 %", 180_000),
        ("partial loss 50 %", 180_000),
        ("partial loss 60 %", 180_000),
    ]


async def test_a_stored_run_opens_its_blotter(desk_root: Path) -> None:
    app = demo_app(desk_root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("H", "enter")
        await settle(pilot)
        assert isinstance(app.screen, RunScreen)
        record = app.screen.record
        await pilot.press("T")
        await settle(pilot)
        assert isinstance(app.screen, BlotterScreen)
        assert app.screen.query_one(TradeTable).shown_count == len(record.signals)


class TestSnapshots:
    @pytest.mark.parametrize("theme", THEMES)
    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
    @pytest.mark.parametrize("keys", [("T",), ("T", "enter")], ids=["blotter", "trade"])
    def test_screen(
        self,
        snap_compare: Any,
        desk_root: Path,
        keys: tuple[str, ...],
        size: tuple[int, int],
        theme: str,
    ) -> None:
        app = demo_app(desk_root)

        async def reach(pilot: Pilot[None]) -> None:
            pilot.app.theme = theme
            await settle(pilot)
            for key in keys:
                await pilot.press(key)
                await settle(pilot)
            pilot.app.clear_notifications()
            await pilot.pause()

        assert snap_compare(app, terminal_size=size, run_before=reach)


def test_a_limit_trade_s_life_starts_when_it_was_scheduled() -> None:
    minute = 60_000
    view = SignalView(
        signal_id="limit-1",
        status=SignalStatus.CLOSED,
        position="long",
        price_open=100.0,
        price_take_profit=101.0,
        price_stop_loss=99.0,
        opened_at=1_704_067_200_000 + 45 * minute,
        closed_at=1_704_067_200_000 + 90 * minute,
        price_close=101.0,
        close_reason="take_profit",
        pnl_percentage=0.8,
        scheduled_at=1_704_067_200_000,
    )
    names = [event.name for event in trade_events(view, None)]
    assert names == ["scheduled", "opened", "closed"]
    scheduled = trade_events(view, None)[0]
    assert scheduled.at == 1_704_067_200_000 and "filled after 45m" in scheduled.detail
    market = view._replace(scheduled_at=None)
    assert [event.name for event in trade_events(market, None)] == ["opened", "closed"]
