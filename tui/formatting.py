"""Text for times, prices and statistics: the one place where epoch milliseconds become text.

Every timestamp the desk shows is UTC.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum

Clock = Callable[[], datetime]
"""A function returning the current time as an aware datetime (injected for determinism)."""

MISSING = "—"


def system_clock() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


def fixed_clock(moment: datetime) -> Clock:
    """Return a clock that always answers `moment` (snapshots, screenshots, tests)."""
    if moment.tzinfo is None:
        raise ValueError(f"moment {moment.isoformat()} has no timezone; pass an aware datetime")
    return lambda: moment


def to_datetime(timestamp_ms: int) -> datetime:
    """Return epoch milliseconds as an aware UTC datetime."""
    return datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)


def to_ms(moment: datetime) -> int:
    """Return an aware datetime as epoch milliseconds."""
    return round(moment.timestamp() * 1000)


def format_timestamp(timestamp_ms: int) -> str:
    """Return `2024-03-01 14:05` for epoch milliseconds (UTC)."""
    return to_datetime(timestamp_ms).strftime("%Y-%m-%d %H:%M")


def format_short_timestamp(timestamp_ms: int) -> str:
    """Return `03-01 14:05` for epoch milliseconds (UTC), for dense tables."""
    return to_datetime(timestamp_ms).strftime("%m-%d %H:%M")


def format_date(timestamp_ms: int) -> str:
    """Return `2024-03-01` for epoch milliseconds (UTC)."""
    return to_datetime(timestamp_ms).strftime("%Y-%m-%d")


def format_axis_time(timestamp_ms: int, span_ms: int) -> str:
    """Return a chart axis label for `timestamp_ms`, coarser when the visible span is long."""
    moment = to_datetime(timestamp_ms)
    if span_ms <= 2 * 86_400_000:
        return moment.strftime("%H:%M")
    if span_ms <= 120 * 86_400_000:
        return moment.strftime("%m-%d")
    return moment.strftime("%Y-%m")


def format_clock(moment: datetime) -> str:
    """Return `2024-01-12 14:05 UTC` for the header clock."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def format_log_time(moment: datetime) -> str:
    """Return `14:05:01` for log lines."""
    return moment.astimezone(UTC).strftime("%H:%M:%S")


def format_file_stamp(moment: datetime) -> str:
    """Return `20240112-140501` for file names (moved-aside state files)."""
    return moment.astimezone(UTC).strftime("%Y%m%d-%H%M%S")


def parse_date(text: str, *, end_of_day: bool = False) -> datetime:
    """Parse `YYYY-MM-DD` or `YYYY-MM-DD HH:MM` as a UTC datetime.

    Args:
        text: The date as typed.
        end_of_day: Read a bare date as its last minute (23:59), for the end of a range.

    Raises:
        ValueError: The text is not such a date; the message shows the expected shape.
    """
    cleaned = text.strip()
    try:
        return datetime.strptime(cleaned, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    except ValueError:
        pass
    try:
        day = datetime.strptime(cleaned, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        pass
    else:
        return day + timedelta(hours=23, minutes=59) if end_of_day else day
    raise ValueError(f"date {cleaned!r} is not YYYY-MM-DD (or YYYY-MM-DD HH:MM), e.g. 2024-03-01")


def format_price(price: float | None) -> str:
    """Return a price with as many decimals as its size needs (`42033.47`, `0.012345`)."""
    if price is None or not math.isfinite(price):
        return MISSING
    size = abs(price)
    if size >= 1000:
        return f"{price:.2f}"
    if size >= 1:
        return f"{price:.4f}"
    return f"{price:.6f}"


def format_compact_price(price: float) -> str:
    """Return a short axis label for a price (`42.6k`, `3 120`, `0.51`)."""
    size = abs(price)
    if size >= 10_000:
        return f"{price / 1000:.1f}k"
    if size >= 100:
        return f"{price:.0f}"
    return f"{price:.2f}"


def format_percent(value: float | None, *, signed: bool = True) -> str:
    """Return `+1.23 %` (or `1.23 %` when unsigned); `—` when the value is missing."""
    if value is None or not math.isfinite(value):
        return MISSING
    return f"{value:+.2f} %" if signed else f"{value:.2f} %"


def format_signed(value: float | None) -> str:
    """Return `+1.23` (a signed number with two decimals); `—` when missing."""
    if value is None or not math.isfinite(value):
        return MISSING
    return f"{value:+.2f}"


def format_ratio(value: float | None) -> str:
    """Return a ratio with three decimals (`-0.437`); `—` when missing."""
    if value is None or not math.isfinite(value):
        return MISSING
    return f"{value:.3f}"


def format_count(value: float | None) -> str:
    """Return an integer count with thin grouping (`43 200`); `—` when missing."""
    if value is None:
        return MISSING
    return f"{int(value):,}".replace(",", " ")


def format_money(value: float | None, *, signed: bool = False) -> str:
    """Return an amount with two decimals and thin grouping (`10 482.31`, `+1 250.00`)."""
    if value is None or not math.isfinite(value):
        return MISSING
    text = f"{value:+,.2f}" if signed else f"{value:,.2f}"
    return text.replace(",", " ")


def format_duration(duration_ms: float | None) -> str:
    """Return a duration in its two largest units (`3d 04h`, `5h 12m`, `42m`); `—` if missing."""
    if duration_ms is None or not math.isfinite(duration_ms):
        return MISSING
    minutes = int(duration_ms // 60_000)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m"


class StatKind(StrEnum):
    """How a statistic is shown and compared."""

    COUNT = "count"
    PERCENT = "percent"
    SIGNED_PERCENT = "signed_percent"
    RATIO = "ratio"
    MONEY = "money"
    SIGNED_MONEY = "signed_money"
    DURATION = "duration"


ACCOUNT_STATISTICS: tuple[tuple[str, str, StatKind, bool], ...] = (
    ("final_equity", "Final equity", StatKind.MONEY, True),
    ("return_percent", "Return", StatKind.SIGNED_PERCENT, True),
    ("cagr_percent", "CAGR", StatKind.SIGNED_PERCENT, True),
    ("max_drawdown_percent", "Max DD (of peak)", StatKind.PERCENT, False),
    ("max_drawdown_duration_ms", "Drawdown duration", StatKind.DURATION, False),
    ("exposure_percent", "Exposure", StatKind.PERCENT, False),
    ("fees_paid", "Fees paid", StatKind.MONEY, False),
    ("expectancy", "Expectancy/trade", StatKind.SIGNED_MONEY, True),
    ("best_trade_money", "Best trade", StatKind.SIGNED_MONEY, True),
    ("best_trade_percent", "Best trade %", StatKind.SIGNED_PERCENT, True),
    ("worst_trade_money", "Worst trade", StatKind.SIGNED_MONEY, True),
    ("worst_trade_percent", "Worst trade %", StatKind.SIGNED_PERCENT, True),
    ("longest_losing_streak", "Longest losing streak", StatKind.COUNT, False),
)
"""The account's figures in money (`engine.analytics.account`), first in every view of a run."""

SUM_OF_TRADES = "(sum of trade %)"
"""The label of backtest-kit's figures that add trade percentages instead of compounding."""

STATISTICS: tuple[tuple[str, str, StatKind, bool], ...] = (
    ("balance", "Starting balance", StatKind.MONEY, True),
    *ACCOUNT_STATISTICS,
    ("total_signals", "Closed signals", StatKind.COUNT, True),
    ("win_count", "Wins", StatKind.COUNT, True),
    ("loss_count", "Losses", StatKind.COUNT, False),
    ("win_rate", "Win rate", StatKind.PERCENT, True),
    ("avg_pnl", "Average PnL", StatKind.SIGNED_PERCENT, True),
    ("total_pnl", f"Total PnL {SUM_OF_TRADES}", StatKind.SIGNED_PERCENT, True),
    ("std_dev", "Std dev", StatKind.PERCENT, False),
    ("sharpe_ratio", "Sharpe", StatKind.RATIO, True),
    ("annualized_sharpe_ratio", "Sharpe (yearly)", StatKind.RATIO, True),
    ("sortino_ratio", "Sortino", StatKind.RATIO, True),
    ("certainty_ratio", "Certainty", StatKind.RATIO, True),
    ("profit_factor", "Profit factor", StatKind.RATIO, True),
    ("max_drawdown", f"Max drawdown {SUM_OF_TRADES}", StatKind.PERCENT, False),
    ("expected_yearly_returns", f"Yearly return {SUM_OF_TRADES}", StatKind.SIGNED_PERCENT, True),
    ("ambiguous_closes", "Ambiguous closes", StatKind.COUNT, False),
)
"""The statistics the desk keeps: field name, label, kind, and whether higher is better.

The account's figures come first (in money), then the starting balance, then backtest-kit's
figures; those that add trade percentages say so in their label.
"""


def format_stat(kind: StatKind, value: float | None) -> str:
    """Return a statistic's text according to its kind."""
    if kind is StatKind.COUNT:
        return format_count(value)
    if kind is StatKind.PERCENT:
        return format_percent(value, signed=False)
    if kind is StatKind.SIGNED_PERCENT:
        return format_percent(value)
    if kind is StatKind.MONEY:
        return format_money(value)
    if kind is StatKind.SIGNED_MONEY:
        return format_money(value, signed=True)
    if kind is StatKind.DURATION:
        return format_duration(value)
    return format_ratio(value)


def format_stat_delta(kind: StatKind, left: float | None, right: float | None) -> str:
    """Return the signed difference `right - left` of a statistic; `—` if either is missing."""
    if left is None or right is None:
        return MISSING
    delta = right - left
    if kind is StatKind.COUNT:
        return f"{int(delta):+d}"
    if kind in (StatKind.PERCENT, StatKind.SIGNED_PERCENT):
        return format_percent(delta)
    if kind in (StatKind.MONEY, StatKind.SIGNED_MONEY):
        return format_money(delta, signed=True)
    if kind is StatKind.DURATION:
        return ("-" if delta < 0 else "+") + format_duration(abs(delta))
    return f"{delta:+.3f}"


def format_progress(processed: int, total: int) -> str:
    """Return `63 % · 27 216 / 43 200 frames`."""
    percent = 100 * processed / total if total else 0.0
    return f"{percent:.0f} % · {format_count(processed)} / {format_count(total)} frames"


def format_noun(count: int, noun: str, plural: str | None = None) -> str:
    """Return `1 symbol`, `3 symbols`: the count with its noun in the right number.

    Args:
        count: How many.
        noun: The singular, e.g. `symbol`.
        plural: The plural when it is not the singular plus `s`, e.g. `strategies`.
    """
    word = noun if count == 1 else plural or f"{noun}s"
    return f"{count:,} {word}"


def run_headline(statistics: Mapping[str, float | None], trades: int) -> str:
    """Return a run's result in a line: `106 trades · return -34.45 % · equity 6 554.96`.

    Runs stored before the account model have no money figures: their line gives
    backtest-kit's sum of trade percentages, labelled as such.
    """
    count = format_noun(trades, "closed trade")
    if statistics.get("return_percent") is None:
        return f"{count} · {format_percent(statistics.get('total_pnl'))} {SUM_OF_TRADES}"
    return (
        f"{count} · return {format_percent(statistics.get('return_percent'))} · "
        f"equity {format_money(statistics.get('final_equity'))}"
    )
