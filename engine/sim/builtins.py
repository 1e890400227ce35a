"""What the engine offers out of the box: the `demo` exchange and its frames."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

from engine.core.registration import add_exchange, add_frame, exchanges, frames
from engine.data.demo import DEMO_END_MS, DEMO_SYMBOLS, demo_store
from engine.data.store import CandleStore

DEMO_EXCHANGE = "demo"
DEMO_FRAMES = {"demo-7d": 7, "demo-30d": 30, "demo-90d": 90, "demo-365d": 365}


@cache
def shared_demo_store() -> CandleStore:
    """Return the demo market's store (one per process, generated lazily per symbol)."""
    return demo_store()


def register_demo() -> None:
    """Register the `demo` exchange and the `demo-*d` frames (idempotent)."""
    if not exchanges.has(DEMO_EXCHANGE):
        add_exchange(
            exchange_name=DEMO_EXCHANGE,
            get_candles=shared_demo_store().get_candles,
            format_price=lambda symbol, price: f"{price:.2f}",
            format_quantity=lambda symbol, quantity: f"{quantity:.8f}",
            note=f"embedded demo market: {', '.join(DEMO_SYMBOLS)}, one-minute candles of 2024",
        )
    end = datetime.fromtimestamp(DEMO_END_MS / 1000, tz=UTC) - timedelta(minutes=1)
    for name, days in DEMO_FRAMES.items():
        if not frames.has(name):
            add_frame(
                frame_name=name,
                interval="1m",
                start_date=end - timedelta(days=days) + timedelta(minutes=1),
                end_date=end,
                note=f"the last {days} days of the demo market",
            )


def exchange_store(exchange_name: str) -> CandleStore | None:
    """Return the candle store behind an exchange, or None when it is user code."""
    fn = exchanges.get(exchange_name, "exchange_store").get_candles
    owner = getattr(fn, "__self__", None)
    return owner if isinstance(owner, CandleStore) else None
