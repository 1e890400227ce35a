"""Parse the numeric columns of a CSV file in blocks, with arro3's CSV reader (arrow-rs).

arro3-io was measured against pyarrow 26 (`read_csv` on 512 KB chunks of whole lines, the
reader used before) on one-minute candle files of one year (31 MB, 525,600 rows) and five
years (154 MB, 2.6 M rows), each parsed into the same preallocated arrays, in alternating
rounds on a 2-core machine:

- parse: about the same, 0.12 s for one year (both) and 0.60 s against 0.54 s for five;
- import: 0.005 s against 0.04 s, and 9 MB resident against 26 MB (pyarrow's extension
  modules link its Parquet, Dataset, Acero and Substrait libraries, which a CSV reader never
  uses);
- the peak RSS of a process loading the five-year file cold (`bench/backtest_speed.py
  --rss-days 1826`): 168 MB against 187 MB, 1.39x the 120 MB of candle arrays against 1.56x.

polars 2.1 (`scan_csv(...).collect_batches()`), measured earlier, parsed them in 0.20 s and
0.76 s, took 0.24-0.35 s to import and peaked at 368 MB on the five-year file. Batches of
8,192 rows parsed the five-year file faster than 4,096 or 16,384.

The reader is strict (no null values, no field count but the layout's): anything it does not
take raises, and the caller then reads the file the slow way, which names the line at fault.
Two things arrow-rs accepts that the slow way does not are refused here: quoted fields, and
blank lines, which it skips (the slow way skips them too, but then a row's line number is
not its index plus the header).
"""

from __future__ import annotations

import contextlib
import functools
import gzip
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any, cast

import numpy as np
from arro3.core import DataType, Field, Schema
from arro3.io import read_csv

if TYPE_CHECKING:
    import zipfile

BATCH_ROWS = 8192
"""Rows per block (measured fastest, above)."""
READ_BYTES = 1 << 20
"""The most bytes handed to the reader per read (it asks for 8 KB)."""
_GROWTH = 1.5
_PRICE_COLUMNS = 5

Opener = Callable[[], Any]
"""Returns a new binary stream over the file's text (unpacked if it is gzip or zip)."""

ColumnBlock = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""Open times (int64) and open, high, low, close, volume (float64) of one block of rows."""


def opener(source: str) -> tuple[Opener, int]:
    """Return how to open the text of `source` and an estimate of its size in bytes.

    Raises:
        OSError: The file cannot be read.
        ValueError: A zip archive is damaged or does not hold exactly one file.
    """
    with open(source, "rb") as file:
        magic = file.read(4)
        file.seek(0, 2)
        size = file.tell()
    if magic.startswith(b"\x1f\x8b"):
        return (lambda: gzip.open(source, "rb")), size * 3
    if magic == b"PK\x03\x04":
        import zipfile  # only zip archives need it (1 MB of modules)

        try:
            with zipfile.ZipFile(source) as archive:
                members = [
                    info
                    for info in archive.infolist()
                    if not info.filename.endswith("/") and not info.filename.startswith("__MACOSX/")
                ]
        except zipfile.BadZipFile as exc:
            raise ValueError(f"a damaged zip archive: {exc}") from exc
        if len(members) != 1:
            raise ValueError("the zip archive does not hold exactly one file")
        return functools.partial(_open_member, source, members[0]), members[0].file_size
    return (lambda: open(source, "rb")), size


@contextlib.contextmanager
def _open_member(source: str, member: zipfile.ZipInfo) -> Iterator[IO[bytes]]:
    """Open the one file of a zip archive, closing the archive with it.

    A damaged archive (a bad checksum found while reading) raises ValueError.
    """
    import zipfile

    try:
        with zipfile.ZipFile(source) as archive, archive.open(member) as stream:
            yield stream
    except zipfile.BadZipFile as exc:
        raise ValueError(f"a damaged zip archive: {exc}") from exc


class _CheckedText:
    """The file's text as the CSV reader reads it: lines counted, quoted fields refused.

    The file is read `READ_BYTES` at a time and checked once per read; the reader's small
    reads are served from that.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._data = b""
        self._at = 0
        self.lines = 0
        self.ends_with_newline = True

    def read(self, size: int = -1) -> bytes:
        """Return up to `size` next bytes (fewer is fine: a stream's usual contract)."""
        if self._at >= len(self._data):
            self._data, self._at = self._stream.read(READ_BYTES), 0
            if not self._data:
                return b""
            if self._data.find(b'"') >= 0:
                raise ValueError("a quoted field (the slow way reads it)")
            self.lines += self._data.count(b"\n")
            self.ends_with_newline = self._data.endswith(b"\n")
        stop = len(self._data) if size < 0 else self._at + size
        piece = self._data[self._at : stop]
        self._at += len(piece)
        return piece

    def seek(self, offset: int, whence: int = 0) -> int:
        """Refuse to move: the reader only asks that the method exists."""
        raise OSError("the CSV text is read once, from its start")


def read_blocks(open_text: Opener, names: tuple[str, ...], skip_rows: int) -> Iterator[ColumnBlock]:
    """Yield the first six columns of every block of rows, as numpy arrays.

    Args:
        open_text: Opens the file's text.
        names: The names of all columns of the layout; the first is the open time.
        skip_rows: Lines to skip before the first row (1 for a header).

    Raises:
        Exception: A row is not the layout's column count, a value of the first six columns
            is not a number, a field is quoted, or a line is blank.
    """
    kept = [DataType.int64(), *(DataType.float64() for _ in range(_PRICE_COLUMNS))]
    fields = [Field(name, kind, nullable=False) for name, kind in zip(names, kept, strict=False)]
    fields += [Field(name, DataType.utf8(), nullable=True) for name in names[len(kept) :]]
    with open_text() as stream:
        text = _CheckedText(stream)
        rows = 0
        schema = Schema(fields)
        # A file-like object: arro3 reads it and asks that it has `seek`.
        readable = cast(IO[bytes], text)
        batches = read_csv(readable, schema, has_header=bool(skip_rows), batch_size=BATCH_ROWS)
        for batch in batches:
            rows += batch.num_rows
            columns = [np.asarray(batch.column(index)) for index in range(len(kept))]
            yield (columns[0], columns[1], columns[2], columns[3], columns[4], columns[5])
    if rows + skip_rows != text.lines + (not text.ends_with_newline):
        raise ValueError("blank lines (the slow way reads them)")


class ColumnBuffer:
    """Six growing columns, preallocated from an estimate of the row count.

    Rows are copied in block by block; `finish` shrinks the arrays to the rows received, in
    place. Pages of the estimate that no row reached are never touched, so they cost no
    memory.
    """

    def __init__(self, capacity: int) -> None:
        capacity = max(capacity, 1024)
        self.rows = 0
        self.columns = [np.empty(capacity, np.int64)]
        self.columns += [np.empty(capacity, np.float64) for _ in range(_PRICE_COLUMNS)]

    def append(self, block: ColumnBlock) -> None:
        """Copy one block of rows in, growing the columns geometrically when full."""
        count = len(block[0])
        needed = self.rows + count
        if needed > len(self.columns[0]):
            size = max(needed, int(len(self.columns[0]) * _GROWTH))
            for column in self.columns:
                column.resize(size, refcheck=False)
        for column, values in zip(self.columns, block, strict=True):
            column[self.rows : needed] = values
        self.rows = needed

    def finish(self) -> ColumnBlock:
        """Return the columns cut to the rows appended (in place, without a copy)."""
        for column in self.columns:
            column.resize(self.rows, refcheck=False)
        timestamp, open_, high, low, close, volume = self.columns
        return timestamp, open_, high, low, close, volume
