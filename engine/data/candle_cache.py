"""A local cache of downloaded candles: one npz file per exchange, symbol and timeframe.

Each file holds the candles and the time ranges already asked for, so a second download
of the same period sends no request, and gaps (minutes the exchange has no candle for)
are told apart from periods never downloaded.
"""

from __future__ import annotations

import json
import os
import re
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.data.cache import cache_dir
from engine.data.store import CandleArrays

_COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
Span = tuple[int, int]
"""A time range `[start_ms, end_ms)`."""


@dataclass(frozen=True, slots=True)
class Gap:
    """Candles missing inside a downloaded range: `count` candles from `start_ms`."""

    start_ms: int
    end_ms: int
    count: int


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """What the cache holds for one exchange, symbol and timeframe."""

    exchange: str
    symbol: str
    timeframe: str
    candles: CandleArrays
    spans: tuple[Span, ...]
    path: Path


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", name)


def cache_path(exchange: str, symbol: str, timeframe: str) -> Path:
    """Return the cache file of an exchange's symbol and timeframe."""
    return cache_dir() / "ccxt" / _safe(exchange) / _safe(symbol) / f"{_safe(timeframe)}.npz"


def merge_spans(spans: list[Span]) -> tuple[Span, ...]:
    """Return the union of ranges, sorted, touching ranges joined."""
    merged: list[Span] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def missing_spans(covered: tuple[Span, ...], start: int, end: int) -> list[Span]:
    """Return the parts of `[start, end)` not inside `covered`."""
    out: list[Span] = []
    cursor = start
    for lo, hi in covered:
        if hi <= cursor or lo >= end:
            continue
        if lo > cursor:
            out.append((cursor, min(lo, end)))
        cursor = max(cursor, hi)
    if cursor < end:
        out.append((cursor, end))
    return out


def find_gaps(timestamps: np.ndarray, start: int, end: int, step: int) -> tuple[Gap, ...]:
    """Return the runs of missing candles in `[start, end)` on a `step` grid."""
    inside = timestamps[(timestamps >= start) & (timestamps < end)]
    first = start + (-start) % step
    edges = np.concatenate(([first - step], inside, [end + (-end) % step]))
    jumps = np.flatnonzero(np.diff(edges) > step)
    return tuple(
        Gap(int(edges[i]) + step, int(edges[i + 1]), int((edges[i + 1] - edges[i]) // step) - 1)
        for i in jumps
    )


def load(exchange: str, symbol: str, timeframe: str) -> CacheEntry | None:
    """Return the cached candles of a symbol, None when nothing (readable) is cached."""
    path = cache_path(exchange, symbol, timeframe)
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            spans = tuple((int(a), int(b)) for a, b in meta["spans"])
            candles = CandleArrays.from_columns(*(data[name] for name in _COLUMNS))
    except (OSError, KeyError, ValueError, TypeError):
        return None
    return CacheEntry(exchange, meta.get("symbol", symbol), timeframe, candles, spans, path)


def save(
    exchange: str, symbol: str, timeframe: str, candles: CandleArrays, spans: tuple[Span, ...]
) -> Path:
    """Write the candles (sorted, one per timestamp) and covered ranges, atomically.

    A Ctrl+C arriving during the write is held until the file is in place, so an
    interrupted download never leaves a temp file instead of its pages.
    """
    order = np.unique(candles.timestamp, return_index=True)[1]
    unique = candles.take(order)
    path = cache_path(exchange, symbol, timeframe)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _interrupts_held():
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(
                    handle,
                    meta=np.array(
                        json.dumps({"symbol": symbol, "spans": [list(s) for s in spans]})
                    ),
                    **{name: getattr(unique, name) for name in _COLUMNS},
                )
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return path


@contextmanager
def _interrupts_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM for the block (delivered when it ends)."""
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def entries() -> list[CacheEntry]:
    """Return every cached exchange/symbol/timeframe, sorted by path."""
    root = cache_dir() / "ccxt"
    found = []
    for path in sorted(root.glob("*/*/*.npz")):
        exchange, timeframe = path.parent.parent.name, path.stem
        entry = load(exchange, path.parent.name, timeframe)
        if entry is not None:
            found.append(entry)
    return found


def _plain(symbol: str) -> str:
    """Return a symbol without separators, upper case (`btc/usdt` and `BTCUSDT` match)."""
    return re.sub(r"[^A-Za-z0-9]", "", symbol).upper()


def delete(exchange: str, symbol: str, timeframe: str = "1m") -> CacheEntry:
    """Remove the cache file of an exchange's symbol and timeframe; return what it held.

    The symbol matches with or without separators (`BTCUSDT` finds `BTC/USDT`).

    Raises:
        DataError: Nothing is cached under that name; the message lists what is cached.
    """
    from engine.core.errors import DataError

    cached = entries()
    for entry in cached:
        if (
            entry.exchange == exchange
            and entry.timeframe == timeframe
            and _plain(entry.symbol) == _plain(symbol)
        ):
            entry.path.unlink()
            return entry
    held = ", ".join(f"{e.exchange} {e.symbol} --timeframe {e.timeframe}" for e in cached)
    raise DataError(
        f"nothing cached for {exchange} {symbol} --timeframe {timeframe}; "
        + (f"the cache holds: {held}" if held else "the cache is empty")
    )
