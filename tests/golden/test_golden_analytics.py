"""Schedule, heatmap and partial stores reproduce the reference runs (docs/semantics.md#golden).

Left out, as docs/semantics.md#profiles says: the schedule cancellation rate and the heatmap
max drawdown (both fixed in every profile), and signal ids (random upstream).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import engine
from engine.analytics.heat import HeatRow
from engine.analytics.schedule import ScheduleEvent
from engine.core.config import reset_config
from tests.golden import reference as ref

KINDS = ("bracket", "limit", "wide")
CASES = [
    pytest.param(kind, minutes, marks=[pytest.mark.slow] if minutes == 43200 else [])
    for kind in KINDS
    for minutes in (4320, 43200)
]


@pytest.fixture(autouse=True)
def clean_engine() -> Iterator[None]:
    ref.reset_registries()
    engine.use_profile("backtest-kit-1.4.10")
    engine.Heat.clear()
    engine.Partial.clear()
    yield
    ref.reset_registries()
    engine.Heat.clear()
    engine.Partial.clear()
    engine.Schedule.clear()
    reset_config()


def run_reference(kind: str, minutes: int) -> None:
    ref.setup(minutes, fast=True)
    engine.add_strategy(
        strategy_name=kind,
        interval=ref.INTERVALS[kind],
        get_signal=ref.make_strategy(kind, ref.Recorder()),
    )
    for _ in engine.Backtest.run(
        ref.SYMBOL, strategy_name=kind, exchange_name="ref", frame_name="ref"
    ):
        pass


def schedule_event_dict(e: ScheduleEvent) -> dict[str, Any]:
    row = {
        "timestamp": e.timestamp,
        "action": str(e.action),
        "symbol": e.symbol,
        "position": e.position,
        "note": e.note,
        "currentPrice": e.current_price,
        "priceOpen": e.price_open,
        "takeProfit": e.take_profit,
        "stopLoss": e.stop_loss,
    }
    if e.close_timestamp is not None:
        row["closeTimestamp"] = e.close_timestamp
        row["duration"] = e.duration
    return row


def heat_row_dict(r: HeatRow) -> dict[str, Any]:
    return {
        "symbol": r.symbol,
        "totalPnl": r.total_pnl,
        "sharpeRatio": r.sharpe_ratio,
        "totalTrades": r.total_trades,
        "winCount": r.win_count,
        "lossCount": r.loss_count,
        "winRate": r.win_rate,
        "avgPnl": r.avg_pnl,
        "stdDev": r.std_dev,
        "profitFactor": r.profit_factor,
        "avgWin": r.avg_win,
        "avgLoss": r.avg_loss,
        "maxWinStreak": r.max_win_streak,
        "maxLossStreak": r.max_loss_streak,
        "expectancy": r.expectancy,
    }


def peak_to_trough(pnls: list[float]) -> float:
    """Largest fall of cumulative PnL (from 0) below its running maximum."""
    curve = [0.0]
    for p in pnls:
        curve.append(curve[-1] + p)
    return max(max(curve[: i + 1]) - value for i, value in enumerate(curve))


def depth_below_zero(pnls: list[float]) -> float:
    """Upstream's heatmap "max drawdown": deepest cumulative PnL below zero (the TRAP)."""
    cum = deepest = 0.0
    for p in pnls:
        cum += p
        if cum <= 0:
            deepest = max(deepest, abs(cum))
    return deepest


def without_id_column(report: str) -> list[str]:
    """Table lines of a report with the Signal ID column removed."""
    rows = [line.split(" | ") for line in report.splitlines() if line.startswith("| ")]
    column = rows[0].index("Signal ID")
    return [" | ".join(cells[:column] + cells[column + 1 :]) for cells in rows]


@pytest.mark.parametrize(("kind", "minutes"), CASES)
def test_schedule_statistics_match_the_reference(kind: str, minutes: int) -> None:
    run = ref.golden(f"{kind}-7-{minutes}")["runs"][0]
    run_reference(kind, minutes)

    stats = engine.Schedule.get_data(ref.SYMBOL, kind)

    expected = run["scheduleStatistics"]
    assert stats.total_events == expected["totalEvents"]
    assert stats.total_scheduled == expected["totalScheduled"]
    assert stats.total_cancelled == expected["totalCancelled"]
    assert stats.avg_wait_time == expected["avgWaitTime"]
    everything = expected["totalScheduled"] + expected["totalCancelled"]
    fixed_rate = expected["totalCancelled"] / everything * 100 if everything else None
    assert stats.cancellation_rate == fixed_rate
    assert [schedule_event_dict(e) for e in stats.event_list] == [
        {k: v for k, v in e.items() if k != "signalId"} for e in run["scheduleEvents"]
    ]


def test_cancellation_rate_is_a_share_of_all_scheduled_signals() -> None:
    """Golden limit-3d: upstream reports 14/32 = 43.75 %; 14 of the 46 scheduled were cancelled."""
    run_reference("limit", 4320)
    stats = engine.Schedule.get_data(ref.SYMBOL, "limit")
    assert (stats.total_scheduled, stats.total_cancelled) == (32, 14)
    assert stats.cancellation_rate == 14 / 46 * 100


def test_schedule_report_rows_match_the_reference() -> None:
    run = ref.golden("limit-7-4320")["runs"][0]
    run_reference("limit", 4320)

    ours = engine.Schedule.get_report(ref.SYMBOL, "limit")

    assert without_id_column(ours) == without_id_column(run["reports"]["schedule"])


@pytest.mark.parametrize(("kind", "minutes"), CASES)
def test_heatmap_matches_the_reference(kind: str, minutes: int) -> None:
    run = ref.golden(f"{kind}-7-{minutes}")["runs"][0]
    run_reference(kind, minutes)

    heat = engine.Heat.get_data(kind)

    expected = run["heatmap"]
    assert [heat_row_dict(r) for r in heat.symbols] == [
        {k: v for k, v in row.items() if k != "maxDrawdown"} for row in expected["symbols"]
    ]
    assert heat.total_symbols == expected["totalSymbols"]
    assert heat.portfolio_total_pnl == expected["portfolioTotalPnl"]
    assert heat.portfolio_sharpe_ratio == expected["portfolioSharpeRatio"]
    assert heat.portfolio_total_trades == expected["portfolioTotalTrades"]
    pnls = [r["pnl"]["pnlPercentage"] for r in run["results"] if r["action"] == "closed"]
    assert [r.max_drawdown for r in heat.symbols] == [peak_to_trough(pnls)]
    assert [row["maxDrawdown"] for row in expected["symbols"]] == [depth_below_zero(pnls)]


def test_heatmap_accumulates_across_runs() -> None:
    """Runs never clear the heatmap (docs/semantics.md#heatmap: 13 → 26 trades upstream)."""
    run_reference("wide", 4320)
    first = engine.Heat.get_data("wide").portfolio_total_trades
    for _ in engine.Backtest.run(
        ref.SYMBOL, strategy_name="wide", exchange_name="ref", frame_name="ref"
    ):
        pass
    assert engine.Heat.get_data("wide").portfolio_total_trades == 2 * first == 6


@pytest.mark.slow
def test_partial_events_match_the_reference() -> None:
    partial = ref.golden("wide-7-43200")["partial"]
    run_reference("wide", 43200)

    stats = engine.Partial.get_data(ref.SYMBOL)

    ours = [
        {
            "action": str(e.action),
            "strategyName": e.strategy_name,
            "position": e.position,
            "level": e.level,
            "currentPrice": e.current_price,
            "timestamp": e.timestamp,
            "backtest": e.backtest,
        }
        for e in stats.event_list
    ]
    assert ours == [{k: v for k, v in e.items() if k != "signalId"} for e in partial["events"]]
    assert (stats.total_events, stats.total_profit, stats.total_loss) == (
        partial["totalEvents"],
        partial["totalProfit"],
        partial["totalLoss"],
    )
    report = engine.Partial.get_report(ref.SYMBOL)
    assert without_id_column(report) == without_id_column(partial["report"])
