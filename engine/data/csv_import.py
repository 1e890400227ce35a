"""Import one-minute candles from Binance kline files and plain OHLCV CSV files.

Two layouts are read, with or without a header row, as plain text, gzip or a zip holding
one CSV (as Binance distributes them):

- `timestamp,open,high,low,close,volume` ("ohlcv"), the open time in epoch milliseconds;
- Binance klines ("binance"): 12 columns starting with open time, open, high, low, close
  and volume; open times in milliseconds or, as in Binance spot files since 2025,
  microseconds (told apart per row by magnitude).

Malformed data raises `DataError` naming the file, the line, the column and the value.
Missing minutes are not errors: they come back as warnings.
"""

from __future__ import annotations

import codecs
import gzip
import io
import os
import stat
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from engine.core.errors import DataError
from engine.core.logger import engine_logger
from engine.data import cache
from engine.data.store import MINUTE_MS, CandleArrays

if TYPE_CHECKING:
    from engine.data.csv_stream import ColumnBlock

_log = engine_logger(__name__)

OHLCV_COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
BINANCE_COLUMNS = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "trades",
    "taker_buy_base",
    "taker_buy_quote",
    "ignore",
)
_FORMATS = {OHLCV_COLUMNS: "ohlcv", BINANCE_COLUMNS: "binance"}
_HEADER_ALIASES = ({"open", "o"}, {"high", "h"}, {"low", "l"}, {"close", "c"})
_MICROSECONDS_ABOVE = 1e14  # epoch ms stay below this until the year 5138
_MILLISECONDS_FROM = 1e11  # smaller open times are seconds (or garbage), not ms
_MAX_GAP_WARNINGS = 10
_HEAD_BYTES = 1 << 16  # read first to find the layout and estimate the row count
_FIX_NUMBER = "write a plain decimal number like 42000.5"
_ROW = np.dtype([("timestamp", np.int64), *((name, np.float64) for name in OHLCV_COLUMNS[1:])])
_NEWLINE, _COMMA = ord("\n"), ord(",")
_LAYOUT_HINT = (
    "use timestamp,open,high,low,close,volume (timestamp = open time in epoch ms) "
    "or a Binance kline file of 12 columns"
)


@dataclass(frozen=True, eq=False)
class LoadedCandles:
    """Candles read from a file, with warnings about missing minutes.

    Attributes:
        candles: The one-minute candles, sorted by open time (epoch ms).
        warnings: Human-readable notes on missing minutes (empty when there are none).
        source: The path the candles were read from.
        format: The file's layout: "binance" or "ohlcv".
    """

    candles: CandleArrays
    warnings: tuple[str, ...]
    source: str
    format: str


@dataclass(frozen=True, eq=False)
class _Table:
    """The data rows of a file: raw bytes, where each row sits, and its column names."""

    source: str
    raw: memoryview
    starts: np.ndarray
    ends: np.ndarray
    line_numbers: np.ndarray
    columns: tuple[str, ...]

    def line(self, row: int) -> str:
        """Return the text of data row `row`."""
        return str(self.raw[self.starts[row] : self.ends[row]], "utf-8", "replace")

    def fail(self, row: int, column: int, problem: str, fix: str) -> DataError:
        """Build the error for one bad field, quoting the value as written in the file.

        `problem` may name the row's other fields (`{open}`, `{low}`...) and
        `{previous_line}`, the line of the row before.
        """
        fields = [field.strip() for field in self.line(row).split(",")]
        named = dict(zip(OHLCV_COLUMNS, fields, strict=False))
        previous_line = self.line_numbers[row - 1] if row else 0
        return DataError(
            f"{self.source}, line {self.line_numbers[row]}, column {column + 1} "
            f"({self.columns[column]}): value {fields[column]!r} "
            f"{problem.format(previous_line=previous_line, **named)}; {fix}"
        )


def load_candles(path: str | os.PathLike[str], use_cache: bool = True) -> LoadedCandles:
    """Read one-minute candles from a Binance kline file or an OHLCV CSV file.

    The file is parsed in blocks straight into the candle arrays (see
    `engine.data.csv_stream`), so memory stays close to the arrays' size. A file the streaming
    reader does not take (blank lines, quotes, a bad value) is read again the slow way, which
    names the line, column and value at fault. A successful parse is cached on disk (see
    `engine.data.cache`), keyed by the file's path, size and modification time, so loading the
    same file again skips the parse.

    Args:
        path: A `.csv`, `.csv.gz` or `.zip` (holding one CSV) file.
        use_cache: Read and write the parse cache.

    Returns:
        The candles with warnings about missing minutes, the path and the detected layout.

    Raises:
        DataError: The file is missing, not a regular file, unreadable or malformed; the
            message names the line, column and value at fault and how to fix it.
    """
    source = os.fspath(path)
    _check_regular_file(source)
    cached = cache.read(source) if use_cache else None
    if cached is not None:
        return LoadedCandles(cached[0], cached[1], source, cached[2])
    loaded = _stream(source)
    if loaded is None:
        loaded = _load_slowly(source)
    if use_cache:
        cache.write(source, loaded.candles, loaded.warnings, loaded.format)
    rows = len(loaded.candles)
    _log.info("candles loaded", {"source": source, "rows": rows, "format": loaded.format})
    return loaded


def _check_regular_file(source: str) -> None:
    """Refuse a missing path, and a device, pipe or folder (`/dev/zero` would never end)."""
    try:
        mode = os.stat(source).st_mode
    except FileNotFoundError:
        raise DataError(f"{source}: no such file; check the path") from None
    except OSError as exc:
        raise DataError(f"{source}: cannot read the file ({exc}); check the file") from None
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "a device, pipe or socket"
        raise DataError(
            f"{source}: not a regular file ({kind}); give the path of a .csv, .csv.gz or "
            ".zip file of candles"
        )


def _load_slowly(source: str) -> LoadedCandles:
    """Read the whole file into memory and parse it, naming the first bad line precisely."""
    table = _table(source, _read_bytes(source))
    stamps, prices = _parse(table)
    timestamps = _check(table, stamps, prices)
    candles = CandleArrays.from_columns(timestamps, *prices.T)
    gaps = np.flatnonzero(np.diff(timestamps) > MINUTE_MS)
    warnings = _gap_warnings(source, timestamps, gaps, table.line_numbers.__getitem__)
    return LoadedCandles(candles, warnings, source, _FORMATS[table.columns])


def _stream(source: str) -> LoadedCandles | None:
    """Parse a clean file block by block into the arrays; None when it needs the slow way."""
    from engine.data import csv_stream  # arro3 loads only when a file is parsed

    try:
        open_text, size = csv_stream.opener(source)
        with open_text() as stream:
            head = stream.read(_HEAD_BYTES)
        first = head.split(b"\n", 1)[0].split(b"\r", 1)[0]
        if not first or len(first) == len(head) == _HEAD_BYTES or head.startswith(codecs.BOM_UTF8):
            return None
        fields = first.decode("utf-8").split(",")
        columns = next((names for names in _FORMATS if len(names) == len(fields)), None)
        has_header = not any(_is_number(field) for field in fields)
        if columns is None or (has_header and not _header_matches(fields)):
            return None
        rows_in_head = max(head.count(b"\n") - has_header, 1)
        buffer = csv_stream.ColumnBuffer(int(size / (len(head) / rows_in_head) * 1.05))
        check = _BlockCheck()
        for block in csv_stream.read_blocks(open_text, columns, skip_rows=int(has_header)):
            millis = check.clean(block)
            if millis is None:
                return None
            buffer.append((millis, *block[1:]))
    except Exception:  # arro3 raises Exception itself; the slow way names the fault
        return None
    timestamps, *prices = buffer.finish()
    if not len(timestamps) or (len(timestamps) > 2 and check.spacing > 1):
        return None
    first_line = 2 if has_header else 1
    gaps = np.asarray(check.gaps, dtype=np.int64)
    warnings = _gap_warnings(source, timestamps, gaps, lambda row: first_line + row)
    candles = CandleArrays.from_columns(timestamps, *prices)
    return LoadedCandles(candles, warnings, source, _FORMATS[columns])


def _header_matches(names: list[str]) -> bool:
    """Tell whether a header names open, high, low and close in the second to fifth columns."""
    return all(
        names[position].strip().strip("\"'").lower() in aliases
        for position, aliases in enumerate(_HEADER_ALIASES, start=1)
    )


class _BlockCheck:
    """The checks of `_check`, block by block, without the messages (the slow way gives them).

    It keeps what spans blocks: the last open time, the gaps found and the spacing of rows.
    """

    def __init__(self) -> None:
        self.rows = 0
        self.last_ms: int | None = None
        self.gaps: list[int] = []
        self.spacing = 0

    def clean(self, block: ColumnBlock) -> np.ndarray | None:
        """Return the block's open times in milliseconds, or None if any row is not clean."""
        stamps, open_, high, low, close, volume = block
        if not all(np.isfinite(column).all() for column in block[1:]):
            return None
        micro = stamps > _MICROSECONDS_ABOVE
        millis = stamps
        if micro.any():
            if (stamps[micro] % 1000 != 0).any():
                return None
            millis = np.where(micro, stamps // 1000, stamps)
        # With low > 0 and low <= open, close <= high, every price is positive and high >= low.
        bad = (
            (millis < _MILLISECONDS_FROM).any()
            or (millis % MINUTE_MS != 0).any()
            or (low <= 0).any()
            or (volume < 0).any()
            or any((high < price).any() or (low > price).any() for price in (open_, close))
        )
        if bad or not len(millis):
            return None if bad else millis
        step = np.diff(millis, prepend=millis[0] if self.last_ms is None else self.last_ms)
        if self.last_ms is None:
            step = step[1:]
        if (step <= 0).any():
            return None
        offset = self.rows if self.last_ms is None else self.rows - 1
        self.gaps.extend((np.flatnonzero(step > MINUTE_MS) + offset).tolist())
        if self.spacing != 1:  # once 1, it stays 1
            self.spacing = int(np.gcd.reduce(step // MINUTE_MS, initial=self.spacing))
        self.rows += len(millis)
        self.last_ms = int(millis[-1])
        return millis


def _read_bytes(source: str) -> bytes:
    """Return the file's content, unpacking gzip and zip archives and dropping a UTF-8 BOM."""
    try:
        with open(source, "rb") as file:
            data = file.read()
        if data.startswith(b"\x1f\x8b"):
            data = gzip.decompress(data)
        elif data.startswith(b"PK\x03\x04"):
            data = _unzip(source, data)
        return data.removeprefix(codecs.BOM_UTF8)
    except FileNotFoundError:
        raise DataError(f"{source}: no such file; check the path") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{source}: cannot read the file ({exc}); check the file") from None


def _unzip(source: str, data: bytes) -> bytes:
    """Return the one file inside a zip archive."""
    import zipfile  # only zip archives need it (1 MB of modules)

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = [
                name
                for name in archive.namelist()
                if not name.endswith("/") and not name.startswith("__MACOSX/")
            ]
            if len(names) != 1:
                raise DataError(
                    f"{source}: the zip archive holds {len(names)} files "
                    f"({', '.join(names) or 'none'}); put exactly one CSV file in it"
                )
            return archive.read(names[0])
    except zipfile.BadZipFile as exc:
        raise DataError(f"{source}: cannot read the file ({exc}); check the file") from None


def _is_number(text: str) -> bool:
    """Tell whether `text` reads as a number."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _table(source: str, data: bytes) -> _Table:
    """Locate the header and the data rows, checking every row has the same column count."""
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    blank_lines = next((index for index, byte in enumerate(data) if byte != _NEWLINE), len(data))
    if blank_lines == len(data):
        raise DataError(f"{source}: the file is empty; {_LAYOUT_HINT}")
    first_end = data.find(b"\n", blank_lines)
    if first_end < 0:
        first_end = len(data)
    first = data[blank_lines:first_end].decode("utf-8", "replace").split(",")
    columns = _layout(source, blank_lines + 1, len(first))
    has_header = not any(_is_number(field) for field in first)
    if has_header:
        _check_header(source, blank_lines + 1, first)
    raw = memoryview(data)[first_end + 1 if has_header else blank_lines :]
    buffer = np.frombuffer(raw, dtype=np.uint8)
    ends = np.flatnonzero(buffer == _NEWLINE)
    if len(raw) and raw[-1] != _NEWLINE:
        ends = np.append(ends, len(raw))
    starts = np.concatenate(([0], ends + 1))[: ends.size]
    rows = np.flatnonzero(ends > starts)
    if not rows.size:
        raise DataError(f"{source}: the file holds no candles; {_LAYOUT_HINT}")
    first_row_line = blank_lines + (2 if has_header else 1)
    table = _Table(source, raw, starts[rows], ends[rows], first_row_line + rows, columns)
    _check_column_counts(table, buffer)
    return table


def _layout(source: str, line: int, width: int) -> tuple[str, ...]:
    """Return the column names of the layout that has `width` columns."""
    for columns in _FORMATS:
        if len(columns) == width:
            return columns
    raise DataError(
        f"{source}, line {line}: found {width} columns where 6 or 12 belong; {_LAYOUT_HINT}"
    )


def _check_header(source: str, line: int, names: list[str]) -> None:
    """Check a header names open, high, low and close in the second to fifth columns."""
    for position, aliases in enumerate(_HEADER_ALIASES, start=1):
        if names[position].strip().strip("\"'").lower() not in aliases:
            raise DataError(
                f"{source}, line {line}: header column {position + 1} is "
                f"{names[position].strip()!r} where {OHLCV_COLUMNS[position]!r} belongs; "
                f"name and order the columns {','.join(OHLCV_COLUMNS)}"
            )


def _check_column_counts(table: _Table, buffer: np.ndarray) -> None:
    """Check every row has the layout's column count (commas counted per row, in C)."""
    commas = np.flatnonzero(buffer == _COMMA)
    counts = np.searchsorted(commas, table.ends) - np.searchsorted(commas, table.starts) + 1
    wrong = np.flatnonzero(counts != len(table.columns))
    if wrong.size:
        row = int(wrong[0])
        raise DataError(
            f"{table.source}, line {table.line_numbers[row]}: found {counts[row]} columns where "
            f"{len(table.columns)} belong ({','.join(table.columns)}): {table.line(row)!r}; "
            "give every row the same columns"
        )


def _parse(table: _Table) -> tuple[np.ndarray, np.ndarray]:
    """Parse open times as int64 and OHLCV as float64 rows of five, in C when data is clean."""
    try:
        rows = np.loadtxt(
            io.BytesIO(table.raw),
            delimiter=",",
            usecols=range(6),
            dtype=_ROW,
            comments=None,
            ndmin=1,
            encoding="utf-8",
        )
    except ValueError:
        return _parse_rows(table)
    # Every field is 8 bytes wide: view the five price columns in place instead of copying.
    prices = rows.view(np.float64).reshape(len(rows), len(OHLCV_COLUMNS))[:, 1:]
    return rows["timestamp"], prices


def _parse_rows(table: _Table) -> tuple[np.ndarray, np.ndarray]:
    """Parse row by row, raising on the first field that is not a number."""
    stamps = np.empty(len(table.starts), dtype=np.int64)
    prices = np.empty((len(table.starts), 5))
    for row in range(len(table.starts)):
        fields = table.line(row).split(",")
        try:
            stamps[row] = int(fields[0])
        except (ValueError, OverflowError):
            raise table.fail(
                row,
                0,
                "is not an integer open time",
                "write open times in epoch milliseconds like 1704067200000",
            ) from None
        for column in range(1, 6):
            try:
                prices[row, column - 1] = float(fields[column])
            except ValueError:
                raise table.fail(row, column, "is not a number", _FIX_NUMBER) from None
    return stamps, prices


_Check = tuple[np.ndarray, int, str, str]
"""A validation: mask of the failing rows, the column at fault, the problem and the fix."""


def _raise_first(table: _Table, checks: list[_Check]) -> None:
    """Raise for the earliest failing row; on one row, the check listed first wins."""
    failures = [
        (int(np.argmax(bad)), column, problem, fix)
        for bad, column, problem, fix in checks
        if bad.any()
    ]
    if failures:
        row, column, problem, fix = min(failures, key=lambda failure: failure[0])
        raise table.fail(row, column, problem, fix)


def _check(table: _Table, stamps: np.ndarray, prices: np.ndarray) -> np.ndarray:
    """Validate the candles and return their open times in epoch milliseconds."""
    _raise_first(
        table,
        [
            (~np.isfinite(prices[:, column - 1]), column, "is not a finite number", _FIX_NUMBER)
            for column in range(1, 6)
        ],
    )
    micro = stamps > _MICROSECONDS_ABOVE
    millis = np.where(micro, stamps // 1000, stamps)
    open_, high, low, close, volume = prices.T
    fix_row = "fix or delete the row"
    _raise_first(
        table,
        [
            (
                millis < _MILLISECONDS_FROM,
                0,
                "is not an open time in epoch milliseconds or microseconds",
                "write open times like 1704067200000 (2024-01-01T00:00:00Z)",
            ),
            (
                (millis % MINUTE_MS != 0) | (micro & (stamps % 1000 != 0)),
                0,
                "is not the start of a minute",
                "use one-minute candles, whose open times are whole minutes",
            ),
            *[
                (prices[:, column - 1] <= 0, column, "is not a positive price", fix_row)
                for column in range(1, 5)
            ],
            (volume < 0, 5, "is a negative volume", fix_row),
            (high < low, 2, "is below the low {low}", fix_row),
            (
                high < np.maximum(open_, close),
                2,
                "is below the open {open} or close {close}",
                fix_row,
            ),
            (
                low > np.minimum(open_, close),
                3,
                "is above the open {open} or close {close}",
                fix_row,
            ),
        ],
    )
    step = np.diff(millis)
    _raise_first(
        table,
        [
            (
                np.concatenate(([False], step == 0)),
                0,
                "repeats the open time on line {previous_line}",
                "delete the duplicate row",
            ),
            (
                np.concatenate(([False], step < 0)),
                0,
                "is earlier than the open time on line {previous_line}",
                "sort the rows by open time",
            ),
        ],
    )
    spacing = int(np.gcd.reduce(step // MINUTE_MS)) if step.size > 1 else 1
    if spacing > 1:
        raise DataError(
            f"{table.source}: the rows are spaced in multiples of {spacing} minutes, so these "
            f"look like {spacing}-minute candles; load one-minute candles (Binance: 1m klines)"
        )
    return millis


def _iso(ms: int) -> str:
    """Format epoch milliseconds as an ISO UTC time."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _gap_warnings(
    source: str, timestamps: np.ndarray, gaps: np.ndarray, line_of: Callable[[int], int]
) -> tuple[str, ...]:
    """Describe the missing minutes between rows: the first few gaps, then a count.

    `gaps` holds the rows followed by missing minutes; `line_of(row)` is a row's line number.
    """
    missing = (timestamps[gaps + 1] - timestamps[gaps]) // MINUTE_MS - 1
    warnings = []
    for row, count in zip(gaps[:_MAX_GAP_WARNINGS].tolist(), missing.tolist(), strict=False):
        first = _iso(int(timestamps[row]) + MINUTE_MS)
        last = _iso(int(timestamps[row + 1]) - MINUTE_MS)
        span = f"{count} missing minutes from {first} to {last}"
        if count == 1:
            span = f"1 missing minute at {first}"
        warnings.append(f"{source}: {span} (between lines {line_of(row)} and {line_of(row + 1)})")
    if gaps.size > _MAX_GAP_WARNINGS:
        warnings.append(
            f"{source}: {gaps.size - _MAX_GAP_WARNINGS} more gaps with "
            f"{int(missing[_MAX_GAP_WARNINGS:].sum())} missing minutes; "
            f"{gaps.size} gaps and {int(missing.sum())} missing minutes in total"
        )
    return tuple(warnings)
