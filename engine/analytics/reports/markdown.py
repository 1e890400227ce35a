"""Shared pieces of the markdown reports: tables, numbers, dates."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.core.jsformat import to_fixed
from engine.core.logger import engine_logger

_log = engine_logger(__name__)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Return a markdown table."""
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def iso(ms: int) -> str:
    """Return epoch milliseconds as `2024-01-01T00:51:00.000Z`."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def fixed(value: float | None, digits: int, suffix: str = "", signed: bool = False) -> str:
    """Return `value` rounded like JavaScript's toFixed, or `N/A` for a missing value."""
    if value is None:
        return "N/A"
    sign = "+" if signed and value > 0 else ""
    return f"{sign}{to_fixed(value, digits)}{suffix}"


def price(value: float) -> str:
    """Return a price as `42033.47000000 USD`."""
    return f"{to_fixed(value, 8)} USD"


def document(title: str, *sections: str) -> str:
    """Join a title and non-empty sections with blank lines, ending with a newline."""
    return "\n\n".join([title, *(s for s in sections if s)]) + "\n"


def bullets(lines: Sequence[str]) -> str:
    """Return summary lines as a markdown list, so each stays on its own line when rendered."""
    return "\n".join(f"- {line}" for line in lines)


def save_pair_report(
    utility: str,
    symbol: str,
    strategy_name: str | None,
    folder: str | Path,
    report_of: Callable[[str, str], str],
    label: str,
) -> Path:
    """Write the report of a symbol and strategy to `<folder>/<strategy_name>.md`.

    The `dump` of `Backtest`, `Live`, `Schedule` and `Performance`. Upstream's
    `dump(strategyName)` has no symbol; here results are kept per symbol and strategy, so
    `dump("name")` arrives with the strategy in the symbol's place.

    Raises:
        ConfigError: `strategy_name` is missing; the message shows the Python call.
    """
    if strategy_name is None:
        from engine.core.errors import ConfigError

        raise ConfigError(
            f"{utility}.dump needs the symbol and the strategy (results are kept per symbol "
            f'here): upstream\'s dump("{symbol}") reads {utility}.dump("BTCUSDT", "{symbol}") '
            f'in Python, optionally with a folder: {utility}.dump("BTCUSDT", "{symbol}", '
            f'"{folder}")'
        )
    return save_report(folder, strategy_name, report_of(symbol, strategy_name), label)


def save_report(folder: str | Path, name: str, text: str, label: str) -> Path:
    """Write `text` to `<folder>/<name>.md` (creating folders) and log where it went."""
    target = Path(folder) / f"{name}.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    _log.log(f"{label} saved: {target}")
    return target


def trade_summary(stats: Any) -> list[str]:
    """Return the summary lines backtest and live reports share (win rate to yearly returns).

    `stats` has upstream's statistic fields: win_rate, win_count, loss_count, avg_pnl,
    total_pnl, std_dev, sharpe_ratio, annualized_sharpe_ratio, certainty_ratio and
    expected_yearly_returns.
    """
    win_rate = (
        f"{fixed(stats.win_rate, 2, '%')} ({stats.win_count}W / {stats.loss_count}L)"
        if stats.win_rate is not None
        else "N/A"
    )
    return [
        f"**Win rate:** {win_rate} (higher is better)",
        f"**Average PNL:** {fixed(stats.avg_pnl, 2, '%', signed=True)} (higher is better)",
        f"**Total PNL:** {fixed(stats.total_pnl, 2, '%', signed=True)} (higher is better)",
        f"**Standard Deviation:** {fixed(stats.std_dev, 3, '%')} (lower is better)",
        f"**Sharpe Ratio:** {fixed(stats.sharpe_ratio, 3)} (higher is better)",
        "**Annualized Sharpe Ratio:** "
        f"{fixed(stats.annualized_sharpe_ratio, 3)} (higher is better)",
        f"**Certainty Ratio:** {fixed(stats.certainty_ratio, 3)} (higher is better)",
        "**Expected Yearly Returns:** "
        f"{fixed(stats.expected_yearly_returns, 2, '%', signed=True)} (higher is better)",
    ]
