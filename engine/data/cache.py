"""A disk cache of parsed candle files: the second load of a large CSV takes milliseconds.

Entries live in `<cache dir>/candles`, one file per parsed file: a line of JSON (row count,
warnings, layout) and the six columns as raw little-endian arrays, written without a copy and
read as read-only views of the memory-mapped file (the cache only ever replaces or deletes an
entry, never rewrites one in place, so the mapping keeps its data). Their total size is capped at
`$BACKTEST_DESK_CACHE_MAX_MB` megabytes (default 2048): after each write the least recently
used entries go first (reading an entry marks it used). Each entry is written to a temp file
beside it and renamed into place, so a reader never sees half an entry; the temp file a killed
writer leaves behind is deleted on the cache's next use.
"""

from __future__ import annotations

import json
import mmap
import os
import time
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from engine.data.store import CandleArrays
from engine.persist.files import TEMP_PREFIX

_COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
_VERSION = 4
"""Version 3 pads the JSON line so that the columns start 8-byte aligned (mapped as they are);
version 4 names entries by two checksums of their key and keeps the key in the JSON line."""
_SUFFIX = ".candles"
_DTYPES = (np.dtype("<i8"), *(np.dtype("<f8") for _ in range(5)))
DEFAULT_MAX_MB = 2048
"""Size cap of the parse cache when `$BACKTEST_DESK_CACHE_MAX_MB` is not set."""
_STALE_AFTER_S = 3600
"""A temp file older than this is a dead writer's, whichever file it was for."""


def cache_dir() -> Path:
    """Return the cache folder: `$BACKTEST_DESK_CACHE`, else the XDG cache home."""
    explicit = os.environ.get("BACKTEST_DESK_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "backtest-desk"


def max_bytes() -> int:
    """Return the cap on the parse cache's size: `$BACKTEST_DESK_CACHE_MAX_MB` megabytes.

    A value that is not a number, or is negative, falls back to the default.
    """
    text = os.environ.get("BACKTEST_DESK_CACHE_MAX_MB", "")
    try:
        megabytes = float(text) if text else DEFAULT_MAX_MB
    except ValueError:
        megabytes = DEFAULT_MAX_MB
    return int((megabytes if megabytes >= 0 else DEFAULT_MAX_MB) * 1024 * 1024)


def _entry(source: str) -> tuple[Path, str]:
    """Return the entry's path and its key: the file's path, size and modification time.

    The name is two 32-bit checksums of the key (zlib's, which spares loading OpenSSL for a
    hash); the key itself is kept in the entry, so a name two keys share is never misread.
    """
    stat = os.stat(source)
    key = f"{_VERSION}|{os.path.abspath(source)}|{stat.st_size}|{stat.st_mtime_ns}"
    data = key.encode()
    name = f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}{_SUFFIX}"
    return cache_dir() / "candles" / name, key


def read(source: str) -> tuple[CandleArrays, tuple[str, ...], str] | None:
    """Return the cached parse of `source` if the file is unchanged since it was cached."""
    try:
        entry, key = _entry(source)
        with open(entry, "rb") as file:
            meta = json.loads(file.readline())
            if meta.get("key") != key:
                return None  # another file's entry under the same name: parse again
            rows = int(meta["rows"])
            start = file.tell()
            if os.fstat(file.fileno()).st_size != start + rows * 8 * len(_COLUMNS):
                return None  # cut short: parse the file again
            mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        columns = [
            np.frombuffer(mapped, dtype, count=rows, offset=start + i * rows * 8)
            for i, dtype in enumerate(_DTYPES)
        ]
        os.utime(entry)  # mark it recently used
        _remove_stale_temps(entry)
    except (OSError, KeyError, ValueError, TypeError):
        return None
    return CandleArrays.from_columns(*columns), tuple(meta["warnings"]), meta["format"]


def write(source: str, candles: CandleArrays, warnings: tuple[str, ...], layout: str) -> None:
    """Store a parse of `source` (atomically; a cache that cannot be written is skipped).

    Stale temp files are deleted first and the least recently used entries after, until the
    cache fits its cap (an entry larger than the cap is not kept).
    """
    try:
        entry, key = _entry(source)
        entry.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(entry)
        meta = {"key": key, "rows": len(candles), "warnings": list(warnings), "format": layout}
        temp = entry.with_name(f"{TEMP_PREFIX}{os.urandom(6).hex()}-{entry.name}")
        try:
            with open(temp, "wb") as file:
                _save(file, meta, candles)
            os.replace(temp, entry)
        finally:
            temp.unlink(missing_ok=True)
        evict(entry.parent, max_bytes())
    except OSError:
        return


def _save(file: BinaryIO, meta: dict[str, object], candles: CandleArrays) -> None:
    """Write the entry's content to the open temp file: the JSON line, then the columns.

    The line is padded with spaces to a multiple of 8 bytes, so each column a reader maps is
    aligned for its 8-byte values.
    """
    line = json.dumps(meta).encode()
    file.write(line + b" " * (-(len(line) + 1) % 8) + b"\n")
    for name, dtype in zip(_COLUMNS, _DTYPES, strict=True):
        file.write(np.ascontiguousarray(getattr(candles, name), dtype=dtype).data)


def _remove_stale_temps(entry: Path) -> None:
    """Delete temps of this entry (a killed writer's) and any temp older than an hour."""
    now = time.time()
    for temp in entry.parent.glob(f"{TEMP_PREFIX}*"):
        try:
            if temp.name.endswith(entry.name) or now - temp.stat().st_mtime > _STALE_AFTER_S:
                temp.unlink()
        except FileNotFoundError:
            continue


def evict(folder: Path, limit: int) -> list[Path]:
    """Delete the least recently used entries in `folder` until they total `limit` bytes.

    Entries of older cache versions count too (and go first, being older).

    Returns:
        The entries deleted, oldest first.
    """
    entries = []
    for path in folder.iterdir():
        if path.name.startswith(TEMP_PREFIX):
            continue
        try:
            info = path.stat()
        except FileNotFoundError:
            continue
        entries.append((info.st_mtime_ns, info.st_size, path))
    entries.sort()
    total = sum(size for _, size, _ in entries)
    removed = []
    for _, size, path in entries:
        if total <= limit:
            break
        path.unlink(missing_ok=True)
        total -= size
        removed.append(path)
    return removed
