"""Hand-built candles and small wrappers around the public API, shared by the engine tests."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import engine
from engine import CandleArrays, CandleStore
from engine.core.config import reset_config
from engine.core.registration import exchanges, frames, risks, strategies

T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
MIN = 60_000
SYMBOL = "TESTUSDT"

Row = tuple[int, float, float, float, float, float]


def dt(ms: int) -> datetime:
    """Aware UTC datetime of epoch milliseconds."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def ms(when: datetime) -> int:
    return round(when.timestamp() * 1000)


def bar(
    ts: int,
    price: float,
    volume: float = 1.0,
    high: float | None = None,
    low: float | None = None,
) -> Row:
    """A one-minute candle opening at `ts`: open = close = price, optional wicks."""
    high = price if high is None else high
    low = price if low is None else low
    return (ts, price, high, low, price, volume)


def flat(start: int, count: int, price: float = 100.0, volume: float = 1.0) -> list[Row]:
    """`count` identical one-minute candles from `start`."""
    return [bar(start + i * MIN, price, volume) for i in range(count)]


def series(start: int, prices: Sequence[float], volume: float = 1.0) -> list[Row]:
    return [bar(start + i * MIN, p, volume) for i, p in enumerate(prices)]


def replace_bars(rows: list[Row], *new: Row) -> list[Row]:
    """Return `rows` with the candles of the same timestamps replaced by `new`."""
    by_ts = {r[0]: r for r in new}
    return [by_ts.get(r[0], r) for r in rows]


def store_of(rows: Sequence[Row], symbol: str = SYMBOL) -> CandleStore:
    store = CandleStore()
    store.put(symbol, CandleArrays.from_columns(*zip(*rows, strict=True)))
    return store


def user_get_candles(rows: Sequence[Row]) -> Callable[..., list[dict[str, Any]]]:
    """A plain-python exchange adapter: up to `limit` 1m candles opening at/after `since`."""
    keys = ("timestamp", "open", "high", "low", "close", "volume")

    def get_candles(symbol: str, interval: str, since: datetime, limit: int) -> list[dict]:
        assert interval == "1m", interval
        assert since.tzinfo is not None
        since_ms = ms(since)
        chunk = [r for r in rows if r[0] >= since_ms][:limit]
        return [dict(zip(keys, r, strict=True)) for r in chunk]

    return get_candles


def add_exchange(name: str, rows: Sequence[Row], *, user_code: bool = False, **extra: Any) -> None:
    """Register an exchange over in-memory candles (store fast path or plain user code)."""
    get = user_get_candles(rows) if user_code else store_of(rows).get_candles
    engine.add_exchange(
        exchange_name=name,
        get_candles=get,
        format_price=lambda s, p: f"{p:.2f}",
        format_quantity=lambda s, q: f"{q:.8f}",
        **extra,
    )


def add_frame(name: str, start_ms: int, end_ms: int, interval: str = "1m") -> None:
    engine.add_frame(
        frame_name=name, interval=interval, start_date=dt(start_ms), end_date=dt(end_ms)
    )


def run(strategy: str, exchange: str = "x", frame: str = "f", **kw: Any) -> list[Any]:
    return list(
        engine.Backtest.run(
            SYMBOL, strategy_name=strategy, exchange_name=exchange, frame_name=frame, **kw
        )
    )


def setup(
    rows: Sequence[Row],
    get_signal: Callable[..., Any],
    *,
    start: int = T0,
    end: int | None = None,
    interval: str = "1m",
    user_code: bool = False,
    name: str = "s",
    **strategy_fields: Any,
) -> None:
    """Register exchange `x`, frame `f` (start..end) and strategy `name`."""
    add_exchange("x", rows, user_code=user_code)
    add_frame("f", start, start if end is None else end)
    engine.add_strategy(
        strategy_name=name, interval=interval, get_signal=get_signal, **strategy_fields
    )


def once(*dtos: Any) -> Callable[[str, datetime], Any]:
    """A get_signal returning the given dtos on its first calls, then None."""
    queue = list(dtos)

    def get_signal(symbol: str, when: datetime) -> Any:
        return queue.pop(0) if queue else None

    return get_signal


def long_dto(tp: float, sl: float, minutes: int = 60, **extra: Any) -> dict[str, Any]:
    return {
        "position": "long",
        "price_take_profit": tp,
        "price_stop_loss": sl,
        "minute_estimated_time": minutes,
        **extra,
    }


def short_dto(tp: float, sl: float, minutes: int = 60, **extra: Any) -> dict[str, Any]:
    return {**long_dto(tp, sl, minutes, **extra), "position": "short"}


def vwap(rows: Iterable[Row]) -> float:
    """Upstream's VWAP, written out: Σ typical·volume / Σ volume, summed left to right."""
    acc = 0.0
    volume = 0.0
    rows = list(rows)
    for _, _, h, low, c, v in rows:
        acc += ((h + low + c) / 3) * v
    for r in rows:
        volume += r[5]
    return acc / volume


def reset_engine() -> None:
    """Forget every non-demo registration, the stored results and the config."""
    for registry in (strategies, exchanges, frames, risks):
        for schema in registry.list():
            name = getattr(schema, registry.name_field)
            if not name.startswith("demo"):
                registry.remove(name)
    reset_config()
    engine.Backtest.clear()
    engine.set_logger(None)


class Listeners:
    """Subscribes through `listen_*` and unsubscribes everything at teardown."""

    def __init__(self) -> None:
        self._off: list[Callable[[], None]] = []

    def __call__(self, listen: Callable[..., Callable[[], None]], *args: Any) -> list[Any]:
        """Subscribe a collector (last argument of `listen`); return the collected list."""
        got: list[Any] = []
        self._off.append(listen(*args, got.append))
        return got

    def add(self, unsubscribe: Callable[[], None]) -> Callable[[], None]:
        self._off.append(unsubscribe)
        return unsubscribe

    def close(self) -> None:
        for off in self._off:
            off()
        self._off.clear()


def write_candles_csv(path: Path, candles: CandleArrays) -> Path:
    """Write candles as `timestamp,open,high,low,close,volume`, floats exactly (`repr`)."""
    columns = (candles.timestamp, candles.open, candles.high, candles.low, candles.close)
    rows = zip(*(column.tolist() for column in columns), candles.volume.tolist(), strict=True)
    text = "".join(",".join(map(repr, row)) + "\n" for row in rows)
    path.write_text("timestamp,open,high,low,close,volume\n" + text)
    return path
