"""Timing of the engine's steps: `Performance.get_data`, `.get_report`, `.dump`.

See docs/semantics.md#performance.

The store keeps the last `MAX_EVENTS` measurements of each symbol and strategy. Runs never
clear it; `Performance.clear` forgets only what it is asked to (upstream clears everything).
Every backtest measures each signal, each visited frame and its total, listened to or not
(`Performance.get_data` always has them); live runs measure each tick.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from engine.analytics.reports.markdown import (
    bullets,
    document,
    fixed,
    save_pair_report,
    table,
)
from engine.core import events
from engine.core.events import PerformanceContract

MAX_EVENTS = 10_000


@dataclass(frozen=True, slots=True)
class MetricStats:
    """Durations (milliseconds) of one metric type, and the waits between its events.

    Percentiles are nearest-rank. A wait is the time from the previous measurement of the
    run (of any type) to this one; the wait figures are 0 when no event has a previous one.
    """

    metric_type: str
    count: int
    total_duration: float
    avg_duration: float
    min_duration: float
    max_duration: float
    std_dev: float
    median: float
    p95: float
    p99: float
    avg_wait_time: float
    min_wait_time: float
    max_wait_time: float


@dataclass(frozen=True, slots=True)
class PerformanceStatistics:
    """Every measurement of a strategy on a symbol, grouped by metric type."""

    strategy_name: str
    total_events: int
    total_duration: float
    metric_stats: Mapping[str, MetricStats]
    events: tuple[PerformanceContract, ...]


def percentile(ordered: Sequence[float], p: float) -> float:
    """Return the nearest-rank `p`-th percentile of ascending values (0 when empty)."""
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(len(ordered) * p / 100) - 1)]


def metric_stats(metric_type: str, group: Sequence[PerformanceContract]) -> MetricStats:
    """Compute the statistics of the measurements of one metric type (at least one)."""
    durations = sorted(e.duration for e in group)
    total = sum(durations)
    avg = total / len(durations)
    std = math.sqrt(sum((d - avg) * (d - avg) for d in durations) / len(durations))
    waits = [e.timestamp - e.previous_timestamp for e in group if e.previous_timestamp is not None]
    return MetricStats(
        metric_type=metric_type,
        count=len(group),
        total_duration=total,
        avg_duration=avg,
        min_duration=durations[0],
        max_duration=durations[-1],
        std_dev=std,
        median=percentile(durations, 50),
        p95=percentile(durations, 95),
        p99=percentile(durations, 99),
        avg_wait_time=sum(waits) / len(waits) if waits else 0.0,
        min_wait_time=min(waits, default=0),
        max_wait_time=max(waits, default=0),
    )


def performance_statistics(
    strategy_name: str, measured: Sequence[PerformanceContract]
) -> PerformanceStatistics:
    """Compute the statistics of a strategy's measurements, per metric type."""
    groups: dict[str, list[PerformanceContract]] = {}
    for event in measured:
        groups.setdefault(event.metric_type, []).append(event)
    return PerformanceStatistics(
        strategy_name=strategy_name,
        total_events=len(measured),
        total_duration=sum((e.duration for e in measured), 0.0),
        metric_stats=MappingProxyType({k: metric_stats(k, g) for k, g in groups.items()}),
        events=tuple(measured),
    )


@dataclass(frozen=True, slots=True)
class Measured:
    """A run's measurements as plain numbers: metric names and (started, ended) clock reads.

    Attributes:
        names: (strategy, exchange, symbol) of the run.
        metrics: the metric type of each measurement.
        times: `perf_counter` seconds, two per measurement (started, ended).
        wall_ms: add to `perf_counter` milliseconds to get epoch milliseconds.
        previous: the epoch ms of the measurement before the first one (None: none).
    """

    names: tuple[str, str, str]
    metrics: Sequence[str]
    times: Sequence[float]
    wall_ms: float
    previous: int | None

    def contracts(self, newest: int) -> list[PerformanceContract]:
        """Return the newest `newest` measurements as contracts, oldest first."""
        strategy, exchange, symbol = self.names
        first = max(0, len(self.metrics) - newest)
        previous = self.previous
        if first:
            previous = int(self.wall_ms + self.times[2 * first - 1] * 1000)
        out = []
        for i in range(first, len(self.metrics)):
            started, ended = self.times[2 * i], self.times[2 * i + 1]
            now = int(self.wall_ms + ended * 1000)
            duration = (ended - started) * 1000
            out.append(
                PerformanceContract(
                    now, previous, self.metrics[i], duration, strategy, exchange, symbol, True
                )
            )
            previous = now
        return out


class PerformanceUtils:
    """Read the timing measurements of runs (upstream's `Performance`)."""

    def __init__(self) -> None:
        self._events: dict[tuple[str, str], deque[PerformanceContract]] = {}
        self._batches: dict[tuple[str, str], list[Measured]] = {}
        self._lock = threading.Lock()

    def _record(self, event: PerformanceContract) -> None:
        key = (event.symbol, event.strategy_name)
        with self._lock:
            self._settle(key)
            stored = self._events.get(key)
            if stored is None:
                stored = self._events[key] = deque(maxlen=MAX_EVENTS)
            stored.append(event)

    def record_batch(self, batch: Measured) -> None:
        """Store a run's measurements taken while nobody listened (built when first read)."""
        strategy, _, symbol = batch.names
        with self._lock:
            self._batches.setdefault((symbol, strategy), []).append(batch)

    def _settle(self, key: tuple[str, str]) -> None:
        """Turn the batches of `key` into stored measurements (under the lock)."""
        for batch in self._batches.pop(key, ()):
            stored = self._events.get(key)
            if stored is None:
                stored = self._events[key] = deque(maxlen=MAX_EVENTS)
            stored.extend(batch.contracts(MAX_EVENTS))

    def get_data(self, symbol: str, strategy_name: str) -> PerformanceStatistics:
        """Return the statistics of the measurements of `strategy_name` on `symbol`."""
        with self._lock:
            self._settle((symbol, strategy_name))
            stored = list(self._events.get((symbol, strategy_name), ()))
        return performance_statistics(strategy_name, stored)

    def get_report(self, symbol: str, strategy_name: str) -> str:
        """Return the markdown report of the measurements of `strategy_name` on `symbol`."""
        return performance_report(strategy_name, self.get_data(symbol, strategy_name))

    def dump(
        self, symbol: str, strategy_name: str | None = None, path: str | Path = "./dump/performance"
    ) -> Path:
        """Write the report to `<path>/<strategy_name>.md` and return the file's path.

        Raises:
            ConfigError: called upstream's way, `dump(strategy_name)` (the message shows the
                Python call).
        """
        return save_pair_report(
            "Performance", symbol, strategy_name, path, self.get_report, "Performance report"
        )

    def clear(self, symbol: str | None = None, strategy_name: str | None = None) -> None:
        """Forget the measurements of `symbol` and/or `strategy_name` (all when neither)."""
        with self._lock:
            for store in (self._events, self._batches):
                for key in [
                    k for k in store if symbol in (None, k[0]) and strategy_name in (None, k[1])
                ]:
                    del store[key]


Performance = PerformanceUtils()
events.performance_emitter.subscribe(Performance._record, internal=True)


# ----- the markdown report ------------------------------------------------------------------

HEADER = (
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
)
NOTE = (
    "**Note:** All durations are in milliseconds. P95/P99 represent 95th and 99th percentile "
    "response times. Wait times show the interval between consecutive events of the same type."
)


def performance_report(strategy_name: str, stats: PerformanceStatistics) -> str:
    """Return the markdown report of a strategy's timing measurements."""
    title = f"# Performance Report: {strategy_name}"
    if stats.total_events == 0:
        return document(title, "No performance metrics recorded yet.")
    metrics = sorted(stats.metric_stats.values(), key=lambda m: -m.total_duration)
    summary = [
        f"**Total events:** {stats.total_events}",
        f"**Total execution time:** {fixed(stats.total_duration, 2)}ms",
        f"**Number of metric types:** {len(metrics)}",
    ]
    total = stats.total_duration
    shares = [
        f"**{m.metric_type}**: {fixed(m.total_duration / total * 100 if total else 0.0, 1)}% "
        f"({fixed(m.total_duration, 2)}ms total)"
        for m in metrics
    ]
    rows = [
        [
            m.metric_type,
            str(m.count),
            *(
                fixed(v, 2)
                for v in (
                    m.total_duration,
                    m.avg_duration,
                    m.min_duration,
                    m.max_duration,
                    m.std_dev,
                    m.median,
                    m.p95,
                    m.p99,
                    m.avg_wait_time,
                    m.min_wait_time,
                    m.max_wait_time,
                )
            ),
        ]
        for m in metrics
    ]
    return document(
        title,
        bullets(summary),
        "## Time Distribution\n\n" + bullets(shares),
        "## Detailed Metrics\n\n" + table(HEADER, rows),
        NOTE,
    )
