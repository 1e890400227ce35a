"""Scheduled-signal statistics: `Schedule.get_data`, `.get_report`, `.dump`.

See docs/semantics.md#schedule-statistics.

The store keeps the last `MAX_EVENTS` scheduled and cancelled signals of each symbol and
strategy, fed by the engine's results; a new run of the pair starts it afresh.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.analytics.reports.markdown import (
    bullets,
    document,
    fixed,
    iso,
    price,
    save_pair_report,
    table,
)
from engine.analytics.stats import safe
from engine.core import events
from engine.core.jsformat import js_round
from engine.core.models import Action, CancelledResult, TickResult

MAX_EVENTS = 250
_KEPT = frozenset((Action.SCHEDULED, Action.CANCELLED))


@dataclass(frozen=True, slots=True)
class ScheduleEvent:
    """A signal waiting for its entry price (`scheduled`) or given up (`cancelled`).

    `timestamp` is when it was scheduled, or when it was cancelled; a cancelled event also
    has `close_timestamp` and `duration` (minutes waited, rounded).
    """

    timestamp: int
    action: Action
    symbol: str
    signal_id: str
    position: str
    note: str | None
    current_price: float
    price_open: float
    take_profit: float
    stop_loss: float
    close_timestamp: int | None = None
    duration: int | None = None


@dataclass(frozen=True, slots=True)
class ScheduleStatistics:
    """Scheduled and cancelled signals of one strategy on one symbol.

    `total_scheduled` counts the signals still waiting or activated (not cancelled).
    `cancellation_rate` is the percentage of all scheduled signals that were cancelled
    (upstream divides by `total_scheduled` and can exceed 100 %); `avg_wait_time` is the mean
    wait of the cancelled ones in minutes. Both are `None` when undefined.
    """

    event_list: tuple[ScheduleEvent, ...]
    total_events: int
    total_scheduled: int
    total_cancelled: int
    cancellation_rate: float | None
    avg_wait_time: float | None


def schedule_statistics(event_list: Sequence[ScheduleEvent]) -> ScheduleStatistics:
    """Compute the statistics of a list of schedule events."""
    scheduled = sum(1 for e in event_list if e.action is Action.SCHEDULED)
    waits = [e.duration for e in event_list if e.duration is not None]  # cancelled ones
    cancelled = len(waits)
    return ScheduleStatistics(
        event_list=tuple(event_list),
        total_events=len(event_list),
        total_scheduled=scheduled,
        total_cancelled=cancelled,
        cancellation_rate=(
            safe(cancelled / (scheduled + cancelled) * 100) if scheduled + cancelled else None
        ),
        avg_wait_time=safe(sum(waits) / cancelled) if cancelled else None,
    )


def _event(result: TickResult | CancelledResult) -> ScheduleEvent:
    s = result.signal
    assert s is not None
    close: int | None = None
    duration: int | None = None
    if isinstance(result, CancelledResult):
        close = result.close_timestamp
        duration = js_round((close - s.scheduled_at) / 60000)
    return ScheduleEvent(
        s.scheduled_at if close is None else close,
        result.action,
        result.symbol,
        s.id,
        s.position,
        s.note,
        result.current_price,
        s.price_open,
        s.price_take_profit,
        s.price_stop_loss,
        close,
        duration,
    )


class ScheduleUtils:
    """Read the scheduled and cancelled signals of runs (upstream's `Schedule`)."""

    def __init__(self) -> None:
        self._events: dict[tuple[str, str], list[ScheduleEvent]] = {}
        self._lock = threading.Lock()

    def _record(self, result: Any) -> None:
        action = result.action
        if action not in _KEPT:
            return
        event = _event(result)
        with self._lock:
            stored = self._events.setdefault((result.symbol, result.strategy_name), [])
            if action is Action.CANCELLED:
                for i, old in enumerate(stored):
                    if old.signal_id == event.signal_id:
                        stored[i] = event
                        return
            stored.append(event)
            if len(stored) > MAX_EVENTS:
                del stored[0]

    def get_data(self, symbol: str, strategy_name: str) -> ScheduleStatistics:
        """Return the statistics of `strategy_name`'s scheduled signals on `symbol`."""
        with self._lock:
            stored = list(self._events.get((symbol, strategy_name), ()))
        return schedule_statistics(stored)

    def get_report(self, symbol: str, strategy_name: str) -> str:
        """Return the markdown report of `strategy_name`'s scheduled signals on `symbol`."""
        return schedule_report(strategy_name, self.get_data(symbol, strategy_name))

    def dump(
        self, symbol: str, strategy_name: str | None = None, path: str | Path = "./dump/schedule"
    ) -> Path:
        """Write the report to `<path>/<strategy_name>.md` and return the file's path.

        Raises:
            ConfigError: called upstream's way, `dump(strategy_name)` (the message shows the
                Python call).
        """
        return save_pair_report(
            "Schedule", symbol, strategy_name, path, self.get_report, "Schedule report"
        )

    def clear(self, symbol: str | None = None, strategy_name: str | None = None) -> None:
        """Forget the stored events of `symbol` and/or `strategy_name` (all when neither)."""
        with self._lock:
            for key in [
                k for k in self._events if symbol in (None, k[0]) and strategy_name in (None, k[1])
            ]:
                del self._events[key]

    def _on_run_started(self, run: events.RunStarted) -> None:
        self.clear(run.symbol, run.strategy_name)


Schedule = ScheduleUtils()
events.result_emitter.subscribe(Schedule._record)
events.run_started_emitter.subscribe(Schedule._on_run_started)


# ----- the markdown report ------------------------------------------------------------------

HEADER = (
    "Timestamp",
    "Action",
    "Symbol",
    "Signal ID",
    "Position",
    "Note",
    "Current Price",
    "Entry Price",
    "Take Profit",
    "Stop Loss",
    "Wait Time (min)",
)


def schedule_report(strategy_name: str, stats: ScheduleStatistics) -> str:
    """Return the markdown report of a strategy's scheduled signals."""
    title = f"# Scheduled Signals Report: {strategy_name}"
    if stats.total_events == 0:
        return document(title, "No scheduled signals recorded yet.")
    rows = [
        [
            iso(e.timestamp),
            e.action.upper(),
            e.symbol,
            e.signal_id,
            e.position.upper(),
            e.note if e.note is not None else "N/A",
            price(e.current_price),
            price(e.price_open),
            price(e.take_profit),
            price(e.stop_loss),
            str(e.duration) if e.duration is not None else "N/A",
        ]
        for e in stats.event_list
    ]
    summary = [
        f"**Total events:** {stats.total_events}",
        f"**Scheduled signals:** {stats.total_scheduled}",
        f"**Cancelled signals:** {stats.total_cancelled}",
        f"**Cancellation rate:** {fixed(stats.cancellation_rate, 2, '%')} (lower is better)",
        "**Average wait time (cancelled):** "
        + (
            f"{fixed(stats.avg_wait_time, 2)} minutes" if stats.avg_wait_time is not None else "N/A"
        ),
    ]
    return document(title, table(HEADER, rows), bullets(summary))
