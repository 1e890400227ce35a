"""Walker rankings, the heatmap and partial alerts, driven by keys over the real engine."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from textual.message import Message
from textual.widgets import Label

import engine
from engine.analytics.heat import heat_row
from engine.core import events
from engine.core.models import Action
from engine.data.demo import DEMO_END_MS
from tui.alerts import AlertBook
from tui.messages import RunFinished
from tui.screens.alerts import AlertsScreen
from tui.screens.engine_report import EngineReportScreen
from tui.screens.heatmap import COLUMNS, HeatmapScreen, sorted_rows
from tui.screens.walker import BEST_MARK, WalkerScreen
from tui.screenshots import demo_app, settle
from tui.walker_runs import (
    RunOutcome,
    WalkerCancelled,
    WalkerFailed,
    WalkerFinished,
    WalkerRequest,
    WalkerRowRanked,
    WalkerStarted,
    run_walker,
)
from tui.widgets.event_log import EventLog
from tui.widgets.vim_table import VimTable

BUILTIN_RANKING = ["sma_rsi", "limit", "bracket"]
"""The built-in strategies on BTCUSDT over demo-7d, best Sharpe ratio first."""
SHORT_FRAME = "heat-3d"
"""A frame of the test's own: the last three days of the demo market."""


def column_text(table: VimTable, column: str) -> list[str]:
    return [str(table.get_cell(row_key, column)).strip() for row_key in table.rows]


async def test_w_runs_the_walker_and_ranks_the_strategies(tmp_path: Path) -> None:
    app = demo_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("w")
        assert isinstance(app.screen, WalkerScreen)
        await pilot.press("w")
        await settle(pilot)
        table = app.screen.query_one("#rankings", VimTable)
        assert column_text(table, "strategy") == BUILTIN_RANKING
        assert column_text(table, "symbol") == ["BTCUSDT"] * 3
        assert column_text(table, "rank") == [f"{BEST_MARK}1", "2", "3"]
        screen = app.screen
        assert isinstance(screen, WalkerScreen)
        best = screen.cursor_row()
        assert best is not None and best.strategy_name == "sma_rsi"

        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, EngineReportScreen)
        assert app.screen.content.title == "Backtest · sma_rsi · BTCUSDT"
        await pilot.press("2")
        await settle(pilot)
        assert app.screen.content.title == "Schedule · sma_rsi · BTCUSDT"
        await pilot.press("3")
        await settle(pilot)
        assert app.screen.content.title == "Performance · sma_rsi · BTCUSDT"


async def test_x_cancels_the_walker_before_its_next_strategy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    walk = engine.Walker.run_symbols

    def slow_walk(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for row in walk(*args, **kwargs):
            time.sleep(0.2)  # a walk long enough that `x` surely lands in the middle of it
            yield row

    monkeypatch.setattr(engine.Walker, "run_symbols", slow_walk)
    app = demo_app(tmp_path)
    seen: list[Message] = []
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await settle(pilot)
        await pilot.press("w", "tab", "a", "tab", "j", "w")
        for _ in range(2000):  # wait (bounded) until the walker has really started
            if any(isinstance(m, WalkerRowRanked) for m in seen):
                break
            await pilot.pause(0.005)
        await pilot.press("x")
        await app.workers.wait_for_complete()
        await settle(pilot)
        cancelled = [m for m in seen if isinstance(m, WalkerCancelled)]
        assert cancelled and cancelled[0].request.total == 15
        assert cancelled[0].rows < 15
        assert not any(isinstance(m, WalkerFinished) for m in seen)
        assert app.screen.query_one("#rankings", VimTable).row_count == cancelled[0].rows
        [(run, _), *_] = app.heat_runs.views()
        assert run.outcome is RunOutcome.CANCELLED and len(run.pnls) == cancelled[0].rows
        assert run.title(run.request.strategies[0]).endswith(" · 09:30:00 · cancelled")


async def test_heatmap_runs_every_symbol_and_sorts_by_the_cursor_column(tmp_path: Path) -> None:
    app = demo_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("m")
        screen = app.screen
        assert isinstance(screen, HeatmapScreen)
        title = screen.query_one("#heatmap-title", Label)
        hint = screen.query_one("#heatmap-hint", Label)
        assert str(title.content) == "Heatmap · no run yet"
        assert hint.display and "press a to run" in str(hint.content)
        await pilot.press("a")
        await settle(pilot)
        table = screen.query_one("#heat", VimTable)
        assert table.row_count == 5 and not hint.display
        view = screen.shown_view()
        assert view is not None
        run, strategy = view
        assert (
            str(title.content)
            == f"Heatmap · run 1 · {strategy} · demo-7d · 5 symbols · demo · 09:30:00"
        )
        stats = run.statistics(strategy)
        by_sharpe = [r.symbol for r in stats.symbols]
        assert column_text(table, "symbol") == by_sharpe

        await pilot.press("right", "s")
        by_pnl = sorted(stats.symbols, key=lambda r: -(r.total_pnl or 0.0))
        assert column_text(table, "symbol") == [r.symbol for r in by_pnl]
        await pilot.press("s")
        assert column_text(table, "symbol") == [r.symbol for r in reversed(by_pnl)]
        await pilot.press("left", "s")
        assert column_text(table, "symbol") == sorted(r.symbol for r in stats.symbols)


def add_short_frame() -> None:
    end = datetime.fromtimestamp(DEMO_END_MS / 1000, tz=UTC) - timedelta(minutes=1)
    engine.add_frame(
        frame_name=SHORT_FRAME,
        interval="1m",
        start_date=end - timedelta(days=3) + timedelta(minutes=1),
        end_date=end,
    )


def closed_trades(strategy: str, frame: str, symbol: str = "BTCUSDT") -> int:
    """Backtest serially, outside the desk, and count the closed signals."""
    results = engine.Backtest.run(
        symbol, strategy_name=strategy, exchange_name="demo", frame_name=frame
    )
    return sum(1 for result in results if result.action is Action.CLOSED)


async def test_the_heatmap_shows_the_picked_run_only(tmp_path: Path) -> None:
    add_short_frame()
    app = demo_app(tmp_path)
    seen: list[Message] = []
    shown: dict[tuple[str, str], tuple[str, list[str]]] = {}
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await settle(pilot)
        await pilot.press("b", "enter")  # a single backtest: bracket on BTCUSDT over demo-7d
        await settle(pilot)
        await pilot.press("w", "w")  # run 1: every strategy on BTCUSDT over demo-7d
        await settle(pilot)
        walker = app.screen
        assert isinstance(walker, WalkerScreen)
        assert app.focused is not None and app.focused.id == "rankings"
        down = walker.frames.index(SHORT_FRAME) - walker.frames.index("demo-7d")
        await pilot.press("shift+tab", *["j"] * down, "w")  # run 2: the same over heat-3d
        await settle(pilot)
        await pilot.press("escape", "m")
        screen = app.screen
        assert isinstance(screen, HeatmapScreen)
        table = screen.query_one("#heat", VimTable)
        title = screen.query_one("#heatmap-title", Label)
        for _ in range(2 * len(walker.strategies)):
            view = screen.shown_view()
            assert view is not None
            run, strategy = view
            shown[(run.request.frame_name, strategy)] = (
                str(title.content),
                column_text(table, "total_trades"),
            )
            await pilot.press("right_square_bracket")
        strategies = walker.strategies
    assert any(isinstance(m, RunFinished) for m in seen)  # the single backtest ran
    started = list({id(m): m.request for m in seen if isinstance(m, WalkerStarted)}.values())
    assert [r.frame_name for r in started] == ["demo-7d", SHORT_FRAME]
    assert set(shown) == {(f, s) for f in ("demo-7d", SHORT_FRAME) for s in strategies}
    expected = {view: closed_trades(*reversed(view)) for view in shown}
    assert expected[("demo-7d", "bracket")] != expected[(SHORT_FRAME, "bracket")]
    for (frame, strategy), (text, trades) in shown.items():
        run = 1 if frame == "demo-7d" else 2
        place = f"{strategies.index(strategy) + 1}/{len(strategies)}"
        assert (
            text
            == f"Heatmap · run {run} · {strategy} {place} · {frame} · BTCUSDT · demo · 09:30:00"
        )
        assert trades == [str(expected[(frame, strategy)])]


def test_sorted_rows_put_undefined_values_last() -> None:
    rows = [heat_row("AAA", [1.0]), heat_row("BBB", [2.0, -1.0]), heat_row("CCC", [3.0, 1.0])]
    assert [r.symbol for r in sorted_rows(rows, "sharpe_ratio", True)] == ["CCC", "BBB", "AAA"]
    assert [r.symbol for r in sorted_rows(rows, "sharpe_ratio", False)] == ["BBB", "CCC", "AAA"]
    assert {c.key for c in COLUMNS} >= {"total_pnl", "sharpe_ratio", "win_rate"}


def partial_payload(level: int) -> Any:
    signal = SimpleNamespace(id="feedbeef-0000", strategy_name="bracket")
    return events.PartialContract("BTCUSDT", signal, 95_000.0, level, False, 1_735_000_000_000)


async def test_partial_alerts_toast_and_list_and_rejections_are_logged(tmp_path: Path) -> None:
    app = demo_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        events.partial_profit_emitter.emit(partial_payload(20))
        events.partial_loss_emitter.emit(partial_payload(10))
        events.validation_emitter.emit(ValueError("max 2 open positions, 2 open"))
        await pilot.pause()
        book: AlertBook = app.alerts
        assert [(a.kind, a.level) for a in book] == [("profit", 20), ("loss", 10)]
        await pilot.pause(1.2)
        assert any("2 partial alerts" in (n.title or "") for n in app._notifications)
        log = "\n".join(strip.text for strip in app.desk.query_one(EventLog).lines)
        assert "risk rejected: max 2 open positions, 2 open" in log

        await pilot.press("A")
        assert isinstance(app.screen, AlertsScreen)
        table = app.screen.query_one(VimTable)
        assert column_text(table, "kind") == ["loss", "profit"]
        assert column_text(table, "strategy") == ["bracket", "bracket"]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(2023, 3, 1, tzinfo=UTC), datetime(2023, 3, 8, tzinfo=UTC)),  # wholly before
        (datetime(2024, 12, 30, tzinfo=UTC), datetime(2025, 1, 3, tzinfo=UTC)),  # runs past it
    ],
)
def test_a_walker_frame_the_data_does_not_cover_is_refused(start: datetime, end: datetime) -> None:
    engine.add_frame(frame_name="uncovered", interval="1m", start_date=start, end_date=end)
    posted: list[Message] = []
    request = WalkerRequest(
        strategies=("bracket",), symbols=("BTCUSDT",), exchange_name="demo", frame_name="uncovered"
    )
    assert run_walker(request, posted.append, threading.Event()) == 0
    failed = [m for m in posted if isinstance(m, WalkerFailed)]
    assert len(failed) == 1
    assert "the data covers 2024-01-01 00:00 → 2024-12-31 23:59" in failed[0].msg
    assert not any(isinstance(m, WalkerRowRanked) for m in posted)
