"""backtest-kit 1.4.10's reference scenarios, rebuilt with our API (docs/semantics.md#golden)."""

from __future__ import annotations

import csv
import gzip
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import engine
from engine import CandleArrays, CandleStore
from engine.core.registration import exchanges, frames, risks, strategies

HERE = Path(__file__).parent
SYMBOL = "BTCUSDT"


def golden(name: str) -> dict[str, Any]:
    with gzip.open(HERE / f"{name}.json.gz", "rt") as f:
        return json.load(f)


def load_rows(minutes: int) -> list[tuple[int, float, float, float, float, float]]:
    with gzip.open(HERE / "data" / f"btc-7-{minutes}.csv.gz", "rt") as f:
        reader = csv.reader(f)
        next(reader)
        return [(int(r[0]), *map(float, r[1:])) for r in reader]  # type: ignore[misc]


def reference_get_candles(rows: list[tuple]) -> Callable[..., list[dict[str, Any]]]:
    """The exchange contract of the reference run, as plain user code (the generic path)."""
    index = {r[0]: i for i, r in enumerate(rows)}
    first = rows[0][0]

    def get_candles(symbol: str, interval: str, since: datetime, limit: int) -> list[dict]:
        since_ms = int(since.timestamp() * 1000)
        step = {"1m": 1, "3m": 3, "5m": 5, "15m": 15, "30m": 30, "1h": 60}[interval] * 60_000
        if step == 60_000:
            start = index.get(since_ms, 0 if since_ms < first else len(rows))
            chunk = rows[start : start + limit]
            keys = ("timestamp", "open", "high", "low", "close", "volume")
            return [dict(zip(keys, r, strict=True)) for r in chunk]
        bucket = -(-since_ms // step) * step
        out = []
        while len(out) < limit and bucket <= rows[-1][0]:
            inside = [
                r
                for r in rows[max(0, (bucket - first) // 60_000) :][: step // 60_000]
                if bucket <= r[0] < bucket + step
            ]
            if inside:
                out.append(
                    {
                        "timestamp": bucket,
                        "open": inside[0][1],
                        "high": max(r[2] for r in inside),
                        "low": min(r[3] for r in inside),
                        "close": inside[-1][4],
                        "volume": sum(r[5] for r in inside),
                    }
                )
            bucket += step
        return out

    return get_candles


def is_long(when: datetime) -> bool:
    return math.floor(int(when.timestamp() * 1000) / 3_600_000) % 2 == 0


@dataclass
class Recorder:
    """What the reference run logs: get_signal call times, errors, partial events."""

    calls: list[int] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    validation: list[BaseException] = field(default_factory=list)
    partial: list[dict[str, Any]] = field(default_factory=list)


def make_strategy(kind: str, recorder: Recorder) -> Callable[[str, datetime], dict | None]:
    def get_signal(symbol: str, when: datetime) -> dict:
        recorder.calls.append(int(when.timestamp() * 1000))
        price = engine.get_average_price(symbol)
        long = is_long(when)
        if kind == "bracket":
            return {
                "position": "long" if long else "short",
                "price_take_profit": price * 1.01 if long else price * 0.99,
                "price_stop_loss": price * 0.993 if long else price * 1.007,
                "minute_estimated_time": 120,
                "note": "bracket",
            }
        if kind == "limit":
            open_ = price * 0.997 if long else price * 1.003
            return {
                "position": "long" if long else "short",
                "price_open": open_,
                "price_take_profit": open_ * 1.01 if long else open_ * 0.99,
                "price_stop_loss": open_ * 0.993 if long else open_ * 1.007,
                "minute_estimated_time": 120,
                "note": "limit",
            }
        return {
            "position": "long" if long else "short",
            "price_take_profit": price * 1.15 if long else price * 0.85,
            "price_stop_loss": price * 0.85 if long else price * 1.15,
            "minute_estimated_time": 1440,
            "note": "wide",
        }

    return get_signal


INTERVALS = {"bracket": "5m", "limit": "5m", "wide": "1h"}


def reset_registries() -> None:
    for registry in (strategies, frames, risks):
        for schema in registry.list():
            name = getattr(schema, registry.name_field)
            if not name.startswith("demo"):
                registry.remove(name)
    for schema in exchanges.list():
        if schema.exchange_name != "demo":
            exchanges.remove(schema.exchange_name)


def setup(minutes: int, fast: bool) -> tuple[list[tuple], str]:
    """Register the reference exchange and frame; `fast` uses the columnar store."""
    rows = load_rows(minutes)
    if fast:
        store = CandleStore()
        store.put(SYMBOL, CandleArrays.from_columns(*zip(*rows, strict=False)))
        get = store.get_candles
    else:
        get = reference_get_candles(rows)
    engine.add_exchange(
        exchange_name="ref",
        get_candles=get,
        format_price=lambda s, p: f"{p:.2f}",
        format_quantity=lambda s, q: f"{q:.8f}",
    )
    engine.add_frame(
        frame_name="ref",
        interval="1m",
        start_date=datetime.fromtimestamp(rows[0][0] / 1000, tz=UTC),
        end_date=datetime.fromtimestamp(rows[-1][0] / 1000, tz=UTC),
    )
    return rows, "ref"


def result_row(r: Any) -> dict[str, Any]:
    s = r.signal
    closed = r.action == "closed"
    return {
        "action": str(r.action),
        "position": s.position,
        "priceOpen": s.price_open,
        "priceTakeProfit": s.price_take_profit,
        "priceStopLoss": s.price_stop_loss,
        "minuteEstimatedTime": s.minute_estimated_time,
        "scheduledAt": s.scheduled_at,
        "pendingAt": s.pending_at,
        "isScheduled": s.is_scheduled,
        "closeTimestamp": getattr(r, "close_timestamp", None),
        "closeReason": str(r.close_reason)
        if closed
        else ("active" if r.action == "active" else None),
        "priceClose": r.current_price,
        "pnl": {
            "pnlPercentage": r.pnl.pnl_percentage,
            "priceOpen": r.pnl.price_open,
            "priceClose": r.pnl.price_close,
        }
        if closed
        else None,
    }


GOLDEN_RESULT_KEYS = (
    "action",
    "position",
    "priceOpen",
    "priceTakeProfit",
    "priceStopLoss",
    "minuteEstimatedTime",
    "scheduledAt",
    "pendingAt",
    "isScheduled",
    "closeTimestamp",
    "closeReason",
    "priceClose",
    "pnl",
)


def golden_row(g: dict[str, Any]) -> dict[str, Any]:
    row = {k: g[k] for k in GOLDEN_RESULT_KEYS}
    if row["action"] == "cancelled":
        row["closeReason"] = None
    return row


def statistics_dict(stats: Any) -> dict[str, Any]:
    return {
        "totalSignals": stats.total_signals,
        "winCount": stats.win_count,
        "lossCount": stats.loss_count,
        "winRate": stats.win_rate,
        "avgPnl": stats.avg_pnl,
        "totalPnl": stats.total_pnl,
        "stdDev": stats.std_dev,
        "sharpeRatio": stats.sharpe_ratio,
        "annualizedSharpeRatio": stats.annualized_sharpe_ratio,
        "certaintyRatio": stats.certainty_ratio,
        "expectedYearlyReturns": stats.expected_yearly_returns,
    }
