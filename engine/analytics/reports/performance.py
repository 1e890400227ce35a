"""The performance report: totals, time share per metric type, then their statistics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.analytics.reports.markdown import bullets, document, fixed, table

if TYPE_CHECKING:
    from engine.analytics.performance import PerformanceStatistics

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
