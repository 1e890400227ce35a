"""Live statistics and the live report against hand-computed figures.

See docs/semantics.md#live-statistics.
"""

from __future__ import annotations

import math

from engine.analytics.live_stats import MAX_EVENTS, LiveEventLog, live_statistics
from engine.analytics.reports.live import live_report
from engine.core.models import Action, ClosedResult, CloseReason, PnL, SignalRow, TickResult

T0 = 1_704_067_200_000
MIN = 60_000


def signal(sid: str, pending_at: int = T0, position: str = "long") -> SignalRow:
    return SignalRow(
        sid, 100.0, position, None, 101.0, 99.0, 600, "BTC", "x", "s", pending_at, pending_at, False
    )


def tick(action: Action, sid: str | None = None, price: float = 100.0) -> TickResult:
    return TickResult(action, signal(sid) if sid else None, price, "s", "x", "BTC")


def closed(sid: str, pnl: float, minutes: float, pending_at: int = T0) -> ClosedResult:
    return ClosedResult(
        Action.CLOSED,
        signal(sid, pending_at),
        101.0,
        "s",
        "x",
        "BTC",
        CloseReason.TAKE_PROFIT,
        pending_at + round(minutes * MIN),
        PnL(pnl, 100.0, 101.0),
    )


def test_hand_computed_statistics_and_report() -> None:
    log = LiveEventLog()
    log.add(tick(Action.IDLE), T0)
    log.add(tick(Action.OPENED, "a"), T0)
    log.add(tick(Action.ACTIVE, "a", 100.5), T0 + MIN)
    log.add(closed("a", 1.0, 60), T0 + 60 * MIN)
    log.add(tick(Action.OPENED, "b"), T0 + 61 * MIN)
    log.add(closed("b", -0.5, 120), T0 + 181 * MIN)
    stats = live_statistics(log.events)
    # the active event replaced the opened one, the closed event replaced that: 3 rows
    assert [e.action for e in stats.event_list] == ["idle", "closed", "closed"]
    assert (stats.total_events, stats.total_closed, stats.win_count, stats.loss_count) == (
        3,
        2,
        1,
        1,
    )
    assert stats.win_rate == 50.0 and stats.avg_pnl == 0.25 and stats.total_pnl == 0.5
    assert stats.std_dev == 0.75  # sqrt(((1 - .25)^2 + (-.5 - .25)^2) / 2)
    assert stats.sharpe_ratio == 0.25 / 0.75
    assert stats.annualized_sharpe_ratio == (0.25 / 0.75) * math.sqrt(365)
    assert stats.certainty_ratio == 2.0  # avg win 1.0 / |avg loss 0.5|
    assert stats.expected_yearly_returns == 0.25 * (365 / (90 / 1440))  # mean 90 min
    report = live_report("s", stats)
    assert report.startswith("# Live Trading Report: s\n\n| Timestamp | Action | Symbol |")
    assert (
        "| 2024-01-01T01:00:00.000Z | CLOSED | BTC | a | LONG | N/A | 101.00000000 USD | "
        "100.00000000 USD | 101.00000000 USD | 99.00000000 USD | +1.00% | take_profit | 60 |"
        in report
    )
    assert (
        "| 2024-01-01T00:00:00.000Z | IDLE | N/A | N/A | N/A | N/A | 100.00000000 USD | N/A |"
        in report
    )
    for line in (
        "- **Total events:** 3",
        "- **Closed signals:** 2",
        "- **Win rate:** 50.00% (1W / 1L) (higher is better)",
        "- **Average PNL:** +0.25% (higher is better)",
        "- **Total PNL:** +0.50% (higher is better)",
        "- **Standard Deviation:** 0.750% (lower is better)",
        "- **Sharpe Ratio:** 0.333 (higher is better)",
        "- **Annualized Sharpe Ratio:** 6.368 (higher is better)",
        "- **Certainty Ratio:** 2.000 (higher is better)",
        "- **Expected Yearly Returns:** +1460.00% (higher is better)",
    ):
        assert line in report.splitlines()


def test_idle_events_collapse_until_a_signal_comes() -> None:
    log = LiveEventLog()
    for i in range(3):
        log.add(tick(Action.IDLE, price=100.0 + i), T0 + i * MIN)
    assert [(e.action, e.current_price) for e in log.events] == [("idle", 102.0)]
    log.add(tick(Action.OPENED, "a"), T0 + 3 * MIN)
    log.add(tick(Action.IDLE), T0 + 4 * MIN)
    assert [e.action for e in log.events] == ["idle", "opened", "idle"]


def test_with_no_closed_signal_the_averages_are_zero_and_win_rate_undefined() -> None:
    log = LiveEventLog()
    log.add(tick(Action.OPENED, "a"), T0)
    stats = live_statistics(log.events)
    assert stats.win_rate is None and stats.avg_pnl == 0.0 and stats.sharpe_ratio == 0.0
    assert "**Win rate:** N/A" in live_report("s", stats)


def test_an_empty_log_and_the_250_event_cap() -> None:
    assert (
        live_report("s", live_statistics(()))
        == "# Live Trading Report: s\n\nNo events recorded yet.\n"
    )
    log = LiveEventLog()
    for i in range(MAX_EVENTS + 5):
        log.add(closed(f"id{i}", 0.1, 1, T0 + i * MIN), T0 + i * MIN)
    assert len(log.events) == MAX_EVENTS and log.events[0].signal_id == "id5"
