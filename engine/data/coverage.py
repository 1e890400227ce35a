"""What a run may cover: the span of a symbol's candles, checked before any run starts.

A run only covers data that exists. A range outside a symbol's candles is refused with what
the data covers and what was asked; a range that overlaps them only in part is trimmed to
the data, with a warning, never padded. An unknown symbol is refused up front.
Exchanges backed by user code (no candle store) cannot say what they hold: their ranges
pass unchecked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from engine.core.errors import ConfigError
from engine.core.registration import frames
from engine.data.sources import CacheSource, download_hint, registered_sources
from engine.data.store import to_ms
from engine.sim.builtins import exchange_store


class Span(NamedTuple):
    """The open times of a symbol's first and last one-minute candles (epoch ms, UTC)."""

    first_ms: int
    last_ms: int


@dataclass(frozen=True, slots=True)
class FittedRange:
    """A run's range after the check: inside the data, and why it changed (if it did)."""

    start_ms: int
    end_ms: int
    warnings: tuple[str, ...] = ()


def stamp(ms: int) -> str:
    """Return `2024-03-01 12:00` (UTC) for epoch milliseconds."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def data_span(exchange_name: str, symbol: str) -> Span | None:
    """Return the span of `symbol`'s candles on an exchange, None when user code serves them.

    Raises:
        ConfigError: the exchange is not registered, or it has no such symbol (the message
            lists the symbols it has), or it holds no candles of it.
    """
    store = exchange_store(exchange_name)
    if store is None:
        return None
    symbols = store.symbols()
    if symbol not in symbols:
        raise ConfigError(
            f"exchange {exchange_name} has no symbol {symbol!r}; it has "
            f"{', '.join(symbols) or 'no symbols'}"
        )
    span = store.span(symbol)
    if span is None:
        raise ConfigError(f"exchange {exchange_name} holds no candles of {symbol}")
    return Span(*span)


def frame_span(frame_name: str) -> Span | None:
    """Return a registered frame's first and last time, None when unknown or open-ended."""
    for schema in frames.list():
        if schema.frame_name == frame_name and schema.start_date and schema.end_date:
            return Span(to_ms(schema.start_date), to_ms(schema.end_date))
    return None


def fit_range(exchange_name: str, symbol: str, start_ms: int, end_ms: int) -> FittedRange:
    """Check a run's range `[start_ms, end_ms]` against the data; trim a partial overlap.

    Raises:
        ConfigError: the symbol is unknown, or the range lies wholly outside its candles;
            the message says what the data covers and what was asked (and, for the ccxt
            cache, the `desk data download` command that fetches the range).
    """
    span = data_span(exchange_name, symbol)
    if span is None:
        return FittedRange(start_ms, end_ms)
    asked = f"{stamp(start_ms)} → {stamp(end_ms)}"
    covers = f"{stamp(span.first_ms)} → {stamp(span.last_ms)}"
    if end_ms < span.first_ms or start_ms > span.last_ms:
        hint = "choose dates inside it"
        if any(
            isinstance(s, CacheSource) and s.exchange_name == exchange_name
            for s in registered_sources()
        ):
            hint += f", or {download_hint(exchange_name, symbol, start_ms, end_ms)}"
        raise ConfigError(
            f"no candles of {symbol} on {exchange_name} from {asked}: the data covers "
            f"{covers} (UTC); {hint}"
        )
    start, end = max(start_ms, span.first_ms), min(end_ms, span.last_ms)
    if (start, end) == (start_ms, end_ms):
        return FittedRange(start, end)
    warning = (
        f"{symbol} on {exchange_name}: the data covers {covers}, so the run covers "
        f"{stamp(start)} → {stamp(end)} instead of {asked}"
    )
    return FittedRange(start, end, (warning,))
