"""Schedule, Heat, Partial and Performance stores and their reports (docs/semantics.md#reports)."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import engine
from engine.analytics.heat import heat_row, heatmap_statistics
from engine.analytics.performance import percentile
from engine.analytics.reports.markdown import table
from engine.core import events
from engine.core.events import PartialContract, PerformanceContract, RunStarted
from engine.core.models import (
    Action,
    CancelledResult,
    ClosedResult,
    CloseReason,
    PnL,
    SignalRow,
    TickResult,
)
from tests.engine.helpers import MIN, SYMBOL, T0, flat, long_dto, once, run, setup

pytestmark = pytest.mark.usefixtures("clean_engine")


@pytest.fixture(autouse=True)
def empty_stores() -> Iterator[None]:
    for store in (engine.Schedule, engine.Heat, engine.Partial, engine.Performance):
        store.clear()
    yield
    for store in (engine.Schedule, engine.Heat, engine.Partial, engine.Performance):
        store.clear()


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def signal(
    sid: str = "id-1",
    scheduled_at: int = T0,
    *,
    symbol: str = "BTCUSDT",
    strategy: str = "s",
    position: str = "long",
    note: str | None = "n",
) -> SignalRow:
    return SignalRow(
        sid, 100.0, position, note, 110.0, 95.0, 60, symbol, "x", strategy, scheduled_at, T0, True
    )


def scheduled(row: SignalRow, price: float = 101.0) -> TickResult:
    return TickResult(Action.SCHEDULED, row, price, row.strategy_name, "x", row.symbol)


def cancelled(row: SignalRow, at: int, price: float = 99.5) -> CancelledResult:
    return CancelledResult(Action.CANCELLED, row, price, row.strategy_name, "x", row.symbol, at)


def closed(pnl: float, *, symbol: str = "BTCUSDT", strategy: str = "s") -> ClosedResult:
    row = signal(symbol=symbol, strategy=strategy)
    return ClosedResult(
        Action.CLOSED,
        row,
        100.0,
        strategy,
        "x",
        symbol,
        CloseReason.TAKE_PROFIT,
        T0 + MIN,
        PnL(pnl, 100.0, 100.0),
    )


def emit(*results: object) -> None:
    for r in results:
        events.result_emitter.emit(r)


# ---------------------------------------------------------------- Schedule


def test_schedule_records_scheduled_and_replaces_them_when_cancelled() -> None:
    a, b = signal("a", T0), signal("b", T0 + MIN)
    emit(scheduled(a), scheduled(b), cancelled(a, T0 + 90 * MIN + 30_000))

    stats = engine.Schedule.get_data("BTCUSDT", "s")

    first, second = stats.event_list
    assert (first.action, first.signal_id, first.timestamp) == ("cancelled", "a", T0 + 90.5 * MIN)
    assert (first.close_timestamp, first.duration, first.current_price) == (
        T0 + 90.5 * MIN,
        91,  # Math.round(90.5)
        99.5,
    )
    assert (second.action, second.timestamp, second.close_timestamp, second.duration) == (
        "scheduled",
        T0 + MIN,
        None,
        None,
    )
    assert (second.price_open, second.take_profit, second.stop_loss, second.note) == (
        100.0,
        110.0,
        95.0,
        "n",
    )
    assert (stats.total_events, stats.total_scheduled, stats.total_cancelled) == (2, 1, 1)
    assert stats.cancellation_rate == 50.0
    assert stats.avg_wait_time == 91.0


def test_schedule_ignores_other_results_and_other_pairs() -> None:
    row = signal()
    emit(
        TickResult(Action.OPENED, row, 100.0, "s", "x", "BTCUSDT"),
        TickResult(Action.ACTIVE, row, 100.0, "s", "x", "BTCUSDT"),
        closed(1.0),
        scheduled(signal(symbol="ETHUSDT")),
        scheduled(signal(strategy="other")),
    )
    assert engine.Schedule.get_data("BTCUSDT", "s").total_events == 0
    assert engine.Schedule.get_data("ETHUSDT", "s").total_events == 1


def test_cancellation_rate_never_exceeds_100_percent() -> None:
    rows = [signal(f"id-{i}", T0 + i * MIN) for i in range(4)]
    emit(*(scheduled(r) for r in rows), *(cancelled(r, T0 + 120 * MIN) for r in rows[:3]))
    stats = engine.Schedule.get_data("BTCUSDT", "s")
    assert (stats.total_scheduled, stats.total_cancelled) == (1, 3)
    assert stats.cancellation_rate == 75.0  # upstream: 3 / 1 = 300 %


def test_empty_schedule_statistics() -> None:
    stats = engine.Schedule.get_data("BTCUSDT", "s")
    assert stats.event_list == ()
    assert (stats.total_events, stats.total_scheduled, stats.total_cancelled) == (0, 0, 0)
    assert (stats.cancellation_rate, stats.avg_wait_time) == (None, None)


def test_schedule_keeps_the_last_250_events() -> None:
    rows = [signal(f"id-{i}", T0 + i * MIN) for i in range(260)]
    emit(*(scheduled(r) for r in rows))
    stats = engine.Schedule.get_data("BTCUSDT", "s")
    assert [e.signal_id for e in stats.event_list] == [f"id-{i}" for i in range(10, 260)]
    emit(cancelled(rows[0], T0 + 500 * MIN))  # its scheduled event was dropped: appended
    ids = [e.signal_id for e in engine.Schedule.get_data("BTCUSDT", "s").event_list]
    assert len(ids) == 250
    assert ids[0] == "id-11"
    assert ids[-1] == "id-0"


def test_a_new_run_starts_the_schedule_of_its_pair_afresh() -> None:
    emit(scheduled(signal(symbol=SYMBOL)), scheduled(signal(symbol=SYMBOL, strategy="other")))
    setup(flat(T0, 10), once())
    run("s")
    assert engine.Schedule.get_data(SYMBOL, "s").total_events == 0
    assert engine.Schedule.get_data(SYMBOL, "other").total_events == 1
    events.run_started_emitter.emit(RunStarted(SYMBOL, "other", False))
    assert engine.Schedule.get_data(SYMBOL, "other").total_events == 0


def test_schedule_clear_is_scoped() -> None:
    emit(
        scheduled(signal(symbol="A", strategy="s1")),
        scheduled(signal(symbol="A", strategy="s2")),
        scheduled(signal(symbol="B", strategy="s1")),
    )
    engine.Schedule.clear(strategy_name="s1")
    counts = [
        engine.Schedule.get_data(sym, strat).total_events
        for sym, strat in (("A", "s1"), ("A", "s2"), ("B", "s1"))
    ]
    assert counts == [0, 1, 0]


def test_empty_schedule_report() -> None:
    assert engine.Schedule.get_report("BTCUSDT", "s") == (
        "# Scheduled Signals Report: s\n\nNo scheduled signals recorded yet.\n"
    )


def test_schedule_report_layout() -> None:
    a, b = signal("a", T0), signal("b", T0 + MIN, position="short", note=None)
    emit(scheduled(a), scheduled(b, 100.125), cancelled(a, T0 + 120 * MIN))
    header = (
        "| Timestamp | Action | Symbol | Signal ID | Position | Note | Current Price "
        "| Entry Price | Take Profit | Stop Loss | Wait Time (min) |"
    )
    prices = "100.00000000 USD | 110.00000000 USD | 95.00000000 USD"
    assert engine.Schedule.get_report("BTCUSDT", "s") == (
        "# Scheduled Signals Report: s\n"
        "\n"
        f"{header}\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
        "| 2024-01-01T02:00:00.000Z | CANCELLED | BTCUSDT | a | LONG | n "
        f"| 99.50000000 USD | {prices} | 120 |\n"
        "| 2024-01-01T00:01:00.000Z | SCHEDULED | BTCUSDT | b | SHORT | N/A "
        f"| 100.12500000 USD | {prices} | N/A |\n"
        "\n"
        "- **Total events:** 2\n"
        "- **Scheduled signals:** 1\n"
        "- **Cancelled signals:** 1\n"
        "- **Cancellation rate:** 50.00% (lower is better)\n"
        "- **Average wait time (cancelled):** 120.00 minutes\n"
    )


def test_schedule_report_without_cancellations() -> None:
    emit(scheduled(signal()))
    report = engine.Schedule.get_report("BTCUSDT", "s")
    assert report.endswith(
        "- **Cancellation rate:** 0.00% (lower is better)\n"
        "- **Average wait time (cancelled):** N/A\n"
    )


def test_schedule_dump_paths(in_tmp: Path) -> None:
    emit(scheduled(signal()))
    target = engine.Schedule.dump("BTCUSDT", "s")
    assert target == Path("dump/schedule/s.md")
    assert (in_tmp / "dump/schedule/s.md").read_text() == engine.Schedule.get_report("BTCUSDT", "s")
    other = engine.Schedule.dump("BTCUSDT", "s", in_tmp / "out")
    assert other.read_text().startswith("# Scheduled Signals Report: s\n")
    assert other == in_tmp / "out" / "s.md"


# ---------------------------------------------------------------- Heat


def test_heat_row_hand_computed() -> None:
    row = heat_row("BTCUSDT", [2.0, -1.0, -1.0, 4.0])
    assert (row.total_trades, row.win_count, row.loss_count) == (4, 2, 2)
    assert (row.total_pnl, row.avg_pnl, row.win_rate) == (4.0, 1.0, 50.0)
    assert row.std_dev == math.sqrt(4.5)  # deviations 1, 4, 4, 9 over 4
    assert row.sharpe_ratio == 1.0 / math.sqrt(4.5)
    assert (row.profit_factor, row.avg_win, row.avg_loss, row.expectancy) == (3.0, 3.0, -1.0, 1.0)
    assert (row.max_win_streak, row.max_loss_streak) == (1, 2)
    assert row.max_drawdown == 2.0  # cumulative 2, 1, 0, 4: peak 2 to trough 0 (upstream: 0)


def test_heat_max_drawdown_is_peak_to_trough() -> None:
    assert heat_row("X", [5.0, -3.0, 1.0, -4.0, 2.0]).max_drawdown == 6.0
    assert heat_row("X", [-1.0, -2.0, 4.0]).max_drawdown == 3.0
    assert heat_row("X", [1.0, 2.0]).max_drawdown == 0.0


def test_heat_zero_pnl_breaks_no_streak_and_counts_as_neither() -> None:
    row = heat_row("X", [-1.0, 0.0, -1.0, 1.0, 0.0, 1.0])
    assert (row.win_count, row.loss_count, row.max_win_streak, row.max_loss_streak) == (2, 2, 2, 2)


def test_heat_undefined_figures_are_none() -> None:
    one = heat_row("X", [1.5])
    assert (one.std_dev, one.sharpe_ratio, one.profit_factor, one.avg_loss) == (None,) * 4
    assert (one.avg_win, one.expectancy, one.win_rate) == (1.5, None, 100.0)
    flat_row = heat_row("X", [1.0, 1.0])
    assert (flat_row.std_dev, flat_row.sharpe_ratio) == (0.0, None)
    losses = heat_row("X", [-1.0, -3.0])
    assert (losses.win_rate, losses.avg_win, losses.profit_factor) == (0.0, None, None)


def test_heatmap_sorts_by_sharpe_with_undefined_last_and_weights_the_portfolio() -> None:
    stats = heatmap_statistics(
        {
            "ONE": [1.0],
            "LOW": [1.0, -1.0],  # sharpe 0
            "HIGH": [3.0, 1.0],  # sharpe 2
            "NONE": [2.0, 2.0],
            "ALSO_LOW": [-2.0, 2.0],  # sharpe 0, after LOW (stable)
        }
    )
    assert [r.symbol for r in stats.symbols] == ["HIGH", "LOW", "ALSO_LOW", "ONE", "NONE"]
    assert stats.total_symbols == 5
    assert stats.portfolio_total_trades == 9
    assert stats.portfolio_total_pnl == 4.0 + 0.0 + 0.0 + 1.0 + 4.0
    assert stats.portfolio_sharpe_ratio == (2.0 * 2 + 0.0 + 0.0) / 9


def test_empty_heatmap() -> None:
    stats = engine.Heat.get_data("s")
    assert stats.symbols == ()
    assert (stats.total_symbols, stats.portfolio_total_trades) == (0, 0)
    assert (stats.portfolio_total_pnl, stats.portfolio_sharpe_ratio) == (None, None)


def test_heat_is_fed_by_closed_results_per_strategy_and_cleared_per_strategy() -> None:
    emit(
        closed(1.0),
        closed(-0.5, symbol="ETHUSDT"),
        closed(2.0, strategy="t"),
        scheduled(signal()),
        cancelled(signal(), T0 + MIN),
    )
    events.run_started_emitter.emit(RunStarted("BTCUSDT", "s", True))
    stats = engine.Heat.get_data("s")
    assert {r.symbol: r.total_trades for r in stats.symbols} == {"BTCUSDT": 1, "ETHUSDT": 1}
    engine.Heat.clear("s")
    assert engine.Heat.get_data("s").total_symbols == 0
    assert engine.Heat.get_data("t").total_symbols == 1


def test_empty_heat_report() -> None:
    assert engine.Heat.get_report("s") == "# Portfolio Heatmap: s\n\n*No data available*\n"


def test_heat_report_layout() -> None:
    emit(closed(2.0), closed(-1.0), closed(-1.0), closed(4.0), closed(-0.125, symbol="ETHUSDT"))
    header = (
        "| Symbol | Total PNL | Sharpe | PF | Expect | WR | Avg Win | Avg Loss | Max DD "
        "| W Streak | L Streak | Trades |"
    )
    assert engine.Heat.get_report("s") == (
        "# Portfolio Heatmap: s\n"
        "\n"
        "**Total Symbols:** 2 | **Portfolio PNL:** +3.88% | **Portfolio Sharpe:** 0.38 "
        "| **Total Trades:** 5\n"
        "\n"
        f"{header}\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
        "| BTCUSDT | +4.00% | 0.47 | 3.00 | +1.00% | 50.0% | +3.00% | -1.00% | -2.00% "
        "| 1 | 2 | 4 |\n"
        "| ETHUSDT | -0.13% | N/A | N/A | N/A | 0.0% | N/A | -0.13% | -0.13% | 0 | 1 | 1 |\n"
    )


def test_heat_dump_paths(in_tmp: Path) -> None:
    emit(closed(1.0))
    assert engine.Heat.dump("s") == Path("dump/heatmap/s.md")
    assert (in_tmp / "dump/heatmap/s.md").read_text() == engine.Heat.get_report("s")
    assert engine.Heat.dump("s", "elsewhere") == Path("elsewhere/s.md")
    assert os.path.exists(in_tmp / "elsewhere/s.md")


# ---------------------------------------------------------------- Partial


def partial(
    level: int, *, symbol: str = "BTCUSDT", price: float = 105.0, backtest: bool = True
) -> PartialContract:
    return PartialContract(symbol, signal(symbol=symbol), price, level, backtest, T0 + level * MIN)


def test_partial_records_profit_and_loss_events_per_symbol() -> None:
    events.partial_profit_emitter.emit(partial(10))
    events.partial_loss_emitter.emit(partial(20, price=80.0, backtest=False))
    events.partial_profit_emitter.emit(partial(10, symbol="ETHUSDT"))
    events.run_started_emitter.emit(RunStarted("BTCUSDT", "s", True))

    stats = engine.Partial.get_data("BTCUSDT")

    assert (stats.total_events, stats.total_profit, stats.total_loss) == (2, 1, 1)
    first, second = stats.event_list
    assert (first.action, first.level, first.current_price, first.timestamp) == (
        "profit",
        10,
        105.0,
        T0 + 10 * MIN,
    )
    assert (first.strategy_name, first.signal_id, first.position, first.backtest) == (
        "s",
        "id-1",
        "long",
        True,
    )
    assert (second.action, second.level, second.backtest) == ("loss", 20, False)


def test_partial_keeps_the_last_250_events() -> None:
    for i in range(255):
        events.partial_profit_emitter.emit(partial(i))
    levels = [e.level for e in engine.Partial.get_data("BTCUSDT").event_list]
    assert levels == list(range(5, 255))


def test_partial_clear() -> None:
    events.partial_profit_emitter.emit(partial(10))
    events.partial_profit_emitter.emit(partial(10, symbol="ETHUSDT"))
    engine.Partial.clear("BTCUSDT")
    assert engine.Partial.get_data("BTCUSDT").total_events == 0
    assert engine.Partial.get_data("ETHUSDT").total_events == 1
    engine.Partial.clear()
    assert engine.Partial.get_data("ETHUSDT").total_events == 0


def test_empty_partial_report() -> None:
    assert engine.Partial.get_report("BTCUSDT") == (
        "# Partial Profit/Loss Report: BTCUSDT\n\nNo partial profit/loss events recorded yet.\n"
    )


def test_partial_report_layout() -> None:
    events.partial_profit_emitter.emit(partial(10, price=110.000000005))
    events.partial_loss_emitter.emit(partial(30, price=70.0, backtest=False))
    assert engine.Partial.get_report("BTCUSDT") == (
        "# Partial Profit/Loss Report: BTCUSDT\n"
        "\n"
        "| Action | Symbol | Signal ID | Position | Level % | Current Price | Timestamp | Mode |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- |\n"
        "| PROFIT | BTCUSDT | id-1 | LONG | +10% | 110.00000001 USD "
        "| 2024-01-01T00:10:00.000Z | Backtest |\n"
        "| LOSS | BTCUSDT | id-1 | LONG | -30% | 70.00000000 USD "
        "| 2024-01-01T00:30:00.000Z | Live |\n"
        "\n"
        "- **Total events:** 2\n"
        "- **Profit events:** 1\n"
        "- **Loss events:** 1\n"
    )


def test_partial_dump_paths(in_tmp: Path) -> None:
    events.partial_profit_emitter.emit(partial(10))
    assert engine.Partial.dump("BTCUSDT") == Path("dump/partial/BTCUSDT.md")
    text = (in_tmp / "dump/partial/BTCUSDT.md").read_text()
    assert text == engine.Partial.get_report("BTCUSDT")
    assert engine.Partial.dump("BTCUSDT", in_tmp / "p") == in_tmp / "p" / "BTCUSDT.md"


# ---------------------------------------------------------------- Performance


def measure(
    metric: str,
    duration: float,
    *,
    at: int = T0,
    previous: int | None = None,
    symbol: str = "BTCUSDT",
    strategy: str = "s",
) -> None:
    events.performance_emitter.emit(
        PerformanceContract(at, previous, metric, duration, strategy, "x", symbol, True)
    )


def test_nearest_rank_percentiles() -> None:
    ordered = [float(i) for i in range(1, 11)]
    assert (percentile(ordered, 50), percentile(ordered, 95), percentile(ordered, 99)) == (
        5.0,
        10.0,
        10.0,
    )
    assert percentile([7.0], 50) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([], 50) == 0.0


def test_performance_statistics_per_metric_type() -> None:
    measure("backtest_timeframe", 3.0, at=T0 + 10, previous=T0)
    measure("backtest_timeframe", 1.0, at=T0 + 40, previous=T0 + 10)
    measure("backtest_timeframe", 2.0)
    measure("backtest_total", 10.0, at=T0 + 50, previous=T0 + 40)

    stats = engine.Performance.get_data("BTCUSDT", "s")

    assert (stats.strategy_name, stats.total_events, stats.total_duration) == ("s", 4, 16.0)
    frames = stats.metric_stats["backtest_timeframe"]
    assert (frames.count, frames.total_duration, frames.avg_duration) == (3, 6.0, 2.0)
    assert (frames.min_duration, frames.max_duration) == (1.0, 3.0)
    assert frames.std_dev == math.sqrt(2 / 3)
    assert (frames.median, frames.p95, frames.p99) == (2.0, 3.0, 3.0)
    assert (frames.avg_wait_time, frames.min_wait_time, frames.max_wait_time) == (20.0, 10, 30)
    total = stats.metric_stats["backtest_total"]
    assert (total.count, total.avg_wait_time, total.std_dev) == (1, 10.0, 0.0)


def test_waits_are_zero_without_previous_timestamps() -> None:
    measure("live_tick", 1.0)
    ticks = engine.Performance.get_data("BTCUSDT", "s").metric_stats["live_tick"]
    assert (ticks.avg_wait_time, ticks.min_wait_time, ticks.max_wait_time) == (0.0, 0, 0)


def test_performance_keeps_the_last_10000_events() -> None:
    for i in range(10_005):
        measure("backtest_timeframe", float(i))
    stats = engine.Performance.get_data("BTCUSDT", "s")
    assert stats.total_events == 10_000
    assert stats.metric_stats["backtest_timeframe"].min_duration == 5.0


def test_performance_clear_forgets_only_what_it_is_asked_to() -> None:
    pairs = [("A", "s1"), ("A", "s2"), ("B", "s1"), ("B", "s2")]

    def fill() -> None:
        engine.Performance.clear()
        for sym, strat in pairs:
            measure("backtest_total", 1.0, symbol=sym, strategy=strat)

    def left() -> list[tuple[str, str]]:
        return [p for p in pairs if engine.Performance.get_data(*p).total_events]

    fill()
    engine.Performance.clear("A", "s1")
    assert left() == [("A", "s2"), ("B", "s1"), ("B", "s2")]
    fill()
    engine.Performance.clear(strategy_name="s1")
    assert left() == [("A", "s2"), ("B", "s2")]
    fill()
    engine.Performance.clear(symbol="B")
    assert left() == [("A", "s1"), ("A", "s2")]
    fill()
    engine.Performance.clear()
    assert left() == []


def test_a_backtest_measures_every_frame_and_signal_with_nobody_listening() -> None:
    setup(flat(T0, 30), once(long_dto(101.0, 99.0, 5)), end=T0 + 29 * MIN)
    (closed,) = run("s")
    stats = engine.Performance.get_data(SYMBOL, "s")
    assert stats.metric_stats["backtest_total"].count == 1
    assert stats.metric_stats["backtest_signal"].count == 1, "one signal, measured once"
    # 29 tickable frames; the signal's 5 minutes and its closing frame are skipped over
    frames = stats.metric_stats["backtest_timeframe"].count
    assert 0 < frames < 29
    assert closed.close_reason == "time_expired"
    waits = [e for e in stats.events if e.previous_timestamp is not None]
    assert all(e.timestamp >= e.previous_timestamp for e in waits)


def test_a_listener_hears_each_measurement_as_it_is_taken() -> None:
    setup(flat(T0, 30), once(), end=T0 + 29 * MIN)
    seen: list[Any] = []
    unsubscribe = engine.listen_performance(seen.append)
    try:
        run("s")
    finally:
        unsubscribe()
    stats = engine.Performance.get_data(SYMBOL, "s")
    # 30 frames over 30 candles; the first (T0) has no closed candle yet and is not ticked.
    assert stats.metric_stats["backtest_timeframe"].count == 29
    assert stats.metric_stats["backtest_total"].count == 1
    assert len(seen) == stats.total_events


def test_empty_performance_report() -> None:
    assert engine.Performance.get_report("BTCUSDT", "s") == (
        "# Performance Report: s\n\nNo performance metrics recorded yet.\n"
    )


def test_performance_report_layout() -> None:
    measure("backtest_timeframe", 1.0, at=T0 + 5, previous=T0)
    measure("backtest_timeframe", 2.0, at=T0 + 10, previous=T0 + 5)
    measure("backtest_total", 5.0)
    rows = table(
        (
            "Metric Type",
            "Count",
            "Total (ms)",
            "Avg (ms)",
            "Min (ms)",
            "Max (ms)",
            "Std Dev (ms)",
            "Median (ms)",
            "P95 (ms)",
            "P99 (ms)",
            "Avg Wait (ms)",
            "Min Wait (ms)",
            "Max Wait (ms)",
        ),
        [
            # metric, count, total, avg, min, max, std, median, p95, p99, waits avg/min/max
            [
                "backtest_total",
                "1",
                "5.00",
                "5.00",
                "5.00",
                "5.00",
                "0.00",
                "5.00",
                "5.00",
                "5.00",
                "0.00",
                "0.00",
                "0.00",
            ],
            [
                "backtest_timeframe",
                "2",
                "3.00",
                "1.50",
                "1.00",
                "2.00",
                "0.50",
                "1.00",
                "2.00",
                "2.00",
                "5.00",
                "5.00",
                "5.00",
            ],
        ],
    )
    assert engine.Performance.get_report("BTCUSDT", "s") == (
        "# Performance Report: s\n"
        "\n"
        "- **Total events:** 3\n"
        "- **Total execution time:** 8.00ms\n"
        "- **Number of metric types:** 2\n"
        "\n"
        "## Time Distribution\n"
        "\n"
        "- **backtest_total**: 62.5% (5.00ms total)\n"
        "- **backtest_timeframe**: 37.5% (3.00ms total)\n"
        "\n"
        "## Detailed Metrics\n"
        "\n"
        f"{rows}\n"
        "\n"
        "**Note:** All durations are in milliseconds. P95/P99 represent 95th and 99th "
        "percentile response times. Wait times show the interval between consecutive events "
        "of the same type.\n"
    )


def test_performance_dump_paths(in_tmp: Path) -> None:
    measure("backtest_total", 5.0)
    assert engine.Performance.dump("BTCUSDT", "s") == Path("dump/performance/s.md")
    text = (in_tmp / "dump/performance/s.md").read_text()
    assert text == engine.Performance.get_report("BTCUSDT", "s")
    assert engine.Performance.dump("BTCUSDT", "s", "perf") == Path("perf/s.md")
