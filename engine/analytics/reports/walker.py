"""The walker report: upstream's comparison summary plus a ranking of every strategy."""

from __future__ import annotations

from engine.analytics.reports.markdown import bullets, document, fixed, table
from engine.core.events import WalkerResults

NOTE = (
    "**Note:** Higher values are better for all metrics except Standard Deviation "
    "(lower is better)."
)


def walker_report(results: WalkerResults) -> str:
    """Return the markdown comparison report of a walker on one symbol."""
    metric = results.metric
    facts = bullets(
        [
            f"**Symbol:** {results.symbol}",
            f"**Exchange:** {results.exchange_name}",
            f"**Frame:** {results.frame_name}",
            f"**Optimization Metric:** {metric}",
            f"**Strategies Tested:** {results.total_strategies}",
        ]
    )
    best = f"## Best Strategy: {results.best_strategy or 'N/A'}\n\n" + bullets(
        [f"**Best {metric}:** {fixed(results.best_metric, 2)}"]
    )
    rows = [
        [
            str(r.rank),
            r.strategy_name,
            fixed(r.metric_value, 3),
            str(r.stats.total_signals),
            fixed(r.stats.win_rate, 2, "%"),
            fixed(r.stats.total_pnl, 2, "%", signed=True),
            fixed(r.stats.sharpe_ratio, 3),
        ]
        for r in results.ranking
    ]
    header = ("Rank", "Strategy", metric, "Trades", "Win Rate", "Total PNL", "Sharpe")
    ranking = "## Ranking\n\n" + table(header, rows)
    title = f"# Walker Comparison Report: {results.walker_name}"
    return document(title, facts, best, ranking, NOTE)
