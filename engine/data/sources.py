"""Candle sources a process registers as exchanges: candle files and the local ccxt cache.

A source is a small picklable description (`FileSource`, `CacheSource`). Registering one
adds an exchange backed by a `CandleStore`, so runs take the array fast path, and records
it, so that worker processes (the desk's run process, a walker's pool) register the same
exchanges before they run (`engine.sim.parallel.WorkerSetup`).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from engine.core.errors import ConfigError, DataError
from engine.core.registration import add_exchange, exchanges
from engine.data import candle_cache
from engine.data.csv_import import load_candles
from engine.data.store import CandleArrays, CandleStore

_SYMBOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/:_.-]*$")


def symbol_of_file(path: str | os.PathLike[str]) -> str:
    """Return the symbol a candle file's name gives: its name up to the first `-` or `.`.

    `BTCUSDT-1m-2024-01.zip` (Binance's file names) and `btcusdt.csv` both give `BTCUSDT`.
    """
    name = Path(path).name
    return re.split(r"[-.]", name, maxsplit=1)[0].upper()


def parse_candle_arg(text: str) -> tuple[str, str]:
    """Return `(symbol, path)` of a `--candles` argument: `FILE` or `SYMBOL=FILE`.

    Raises:
        ConfigError: the symbol part is empty or not a symbol, or the file name gives none.
    """
    symbol, sep, path = text.partition("=")
    if not sep:
        symbol, path = symbol_of_file(text), text
        if not _SYMBOL.match(symbol):
            raise ConfigError(
                f"--candles {text!r}: the file name gives no symbol; write SYMBOL=FILE, "
                "e.g. --candles BTCUSDT=btc.csv"
            )
        return symbol, path
    symbol = symbol.strip()
    if not symbol or not _SYMBOL.match(symbol) or not path:
        raise ConfigError(
            f"--candles {text!r}: expected FILE or SYMBOL=FILE, e.g. --candles BTCUSDT=btc.csv"
        )
    return symbol, path


@dataclass(frozen=True, slots=True)
class FileSource:
    """Candle files served as one exchange: `files` pairs each symbol with its file."""

    exchange_name: str
    files: tuple[tuple[str, str], ...]

    def describe(self) -> str:
        """Return the exchange's note: where its candles come from."""
        return "candle files: " + ", ".join(f"{s}={p}" for s, p in self.files)


@dataclass(frozen=True, slots=True)
class CacheSource:
    """The local ccxt cache of one exchange id, served offline as an exchange of that name.

    `stamp` pairs each cached symbol with its file's modification time, so a process whose
    registration is older than the cache (a download since) registers it again.
    """

    exchange_name: str
    stamp: tuple[tuple[str, int], ...]

    def describe(self) -> str:
        """Return the exchange's note: where its candles come from."""
        return f"ccxt {self.exchange_name}, local cache (offline): " + ", ".join(
            s for s, _ in self.stamp
        )


Source = FileSource | CacheSource
DAY_MS = 86_400_000
_registered: dict[str, tuple[Source, CandleStore]] = {}
_lock = threading.Lock()


def cache_source(exchange_id: str) -> CacheSource:
    """Describe what the local cache holds for `exchange_id` (one-minute candles)."""
    stamp = []
    folder = candle_cache.cache_path(exchange_id, "-", "1m").parent.parent
    for path in sorted(folder.glob("*/1m.npz")):
        symbol = _cached_symbol(path)
        if symbol is not None:
            stamp.append((symbol, path.stat().st_mtime_ns))
    return CacheSource(exchange_id, tuple(stamp))


def _cached_symbol(path: Path) -> str | None:
    """Return the symbol a cache file holds candles of (its metadata only), None if unreadable."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
    except (OSError, KeyError, ValueError):
        return None
    symbol = meta.get("symbol") if isinstance(meta, dict) else None
    return symbol if isinstance(symbol, str) else None


def _cached_span(exchange_id: str, symbol: str) -> tuple[int, int] | None:
    """Return the first and last open time a cache file holds, reading its timestamps only."""
    try:
        path = candle_cache.cache_path(exchange_id, symbol, "1m")
        with np.load(path, allow_pickle=False) as data:
            ts = data["timestamp"]
    except (OSError, KeyError, ValueError):
        return None
    return (int(ts.min()), int(ts.max())) if len(ts) else None


def cached_exchange_ids() -> list[str]:
    """Return the ccxt exchange ids with one-minute candles in the local cache."""
    root = candle_cache.cache_path("-", "-", "1m").parent.parent.parent
    return sorted({p.parent.parent.name for p in root.glob("*/*/1m.npz")})


def _store(source: Source) -> CandleStore:
    if isinstance(source, FileSource):
        paths = dict(source.files)

        def load_file(symbol: str) -> CandleArrays:
            return load_candles(paths[symbol]).candles

        return CandleStore(load_file, paths)

    def load_cached(symbol: str) -> CandleArrays:
        entry = candle_cache.load(source.exchange_name, symbol, "1m")
        if entry is None:
            raise DataError(
                f"the local cache has no one-minute candles of {symbol} on "
                f"{source.exchange_name} any more; {download_hint(source.exchange_name, symbol)}"
            )
        return entry.candles

    return CandleStore(
        load_cached,
        [s for s, _ in source.stamp],
        span_hint=lambda symbol: _cached_span(source.exchange_name, symbol),
    )


def register_source(source: Source, loaded: Mapping[str, CandleArrays] | None = None) -> None:
    """Register `source` as an exchange (again if it changed); workers will do the same.

    Args:
        source: What to serve.
        loaded: Candles of its symbols read already (the rest load on first use).

    Raises:
        ConfigError: another exchange, not a source, already has the name.
    """
    name = source.exchange_name
    with _lock:
        owned = _owned(name)
        if owned == source:
            return
        if exchanges.has(name) and owned is None:
            raise ConfigError(
                f"exchange {name} is already registered (by a module); "
                "give the candle source another name"
            )
        store = _store(source)
        for symbol, candles in (loaded or {}).items():
            store.put(symbol, candles)
        exchanges.remove(name)
        add_exchange(
            exchange_name=name,
            get_candles=store.get_candles,
            format_price=lambda symbol, price: f"{price:.8g}",
            format_quantity=lambda symbol, quantity: f"{quantity:.8f}",
            note=source.describe(),
        )
        _registered[name] = (source, store)


def registered_sources() -> tuple[Source, ...]:
    """Return the sources this process registered that are still registered."""
    with _lock:
        return tuple(s for s in map(_owned, list(_registered)) if s is not None)


def _owned(name: str) -> Source | None:
    """Return the source serving exchange `name`, None when none does (or a module does)."""
    found = _registered.get(name)
    if found is None or not exchanges.has(name):
        return None
    getter = exchanges.get(name, "sources").get_candles
    return found[0] if getattr(getter, "__self__", None) is found[1] else None


def register_cache(exchange_id: str) -> bool:
    """Register the local cache of `exchange_id` unless a module owns that name.

    Returns whether the exchange now serves the cache.
    """
    if exchanges.has(exchange_id) and _owned(exchange_id) is None:
        return False
    source = cache_source(exchange_id)
    if not source.stamp:
        return False
    register_source(source)
    return True


def download_hint(
    exchange_id: str, symbol: str, start_ms: int | None = None, end_ms: int | None = None
) -> str:
    """Return the `desk data download` command that fetches the candles asked for.

    The range is widened to whole UTC days: the day of `start_ms` to the day after `end_ms`.
    """
    start = _day(start_ms - start_ms % DAY_MS) if start_ms is not None else "YYYY-MM-DD"
    end = _day(end_ms - end_ms % DAY_MS + DAY_MS) if end_ms is not None else "YYYY-MM-DD"
    return (
        f"download them with: desk data download {exchange_id} {symbol} --start {start} --end {end}"
    )


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d")
