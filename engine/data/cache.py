"""A disk cache of parsed candle files: the second load of a large CSV takes milliseconds."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from engine.data.store import CandleArrays

_COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
_VERSION = 1


def cache_dir() -> Path:
    """Return the cache folder: `$BACKTEST_DESK_CACHE`, else the XDG cache home."""
    explicit = os.environ.get("BACKTEST_DESK_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "backtest-desk"


def _entry(source: str) -> Path:
    stat = os.stat(source)
    key = f"{_VERSION}|{os.path.abspath(source)}|{stat.st_size}|{stat.st_mtime_ns}"
    return cache_dir() / "candles" / (hashlib.sha1(key.encode()).hexdigest() + ".npz")


def read(source: str) -> tuple[CandleArrays, tuple[str, ...], str] | None:
    """Return the cached parse of `source` if the file is unchanged since it was cached."""
    try:
        entry = _entry(source)
        with np.load(entry, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            candles = CandleArrays.from_columns(*(data[name] for name in _COLUMNS))
    except (OSError, KeyError, ValueError):
        return None
    return candles, tuple(meta["warnings"]), meta["format"]


def write(source: str, candles: CandleArrays, warnings: tuple[str, ...], layout: str) -> None:
    """Store a parse of `source` (atomically; a cache that cannot be written is skipped)."""
    try:
        entry = _entry(source)
        entry.parent.mkdir(parents=True, exist_ok=True)
        meta = json.dumps({"warnings": list(warnings), "format": layout})
        fd, tmp = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, meta=np.array(meta), **{n: getattr(candles, n) for n in _COLUMNS})
        os.replace(tmp, entry)
    except OSError:
        return
