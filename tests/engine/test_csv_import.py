"""Importing candle files: Binance klines and OHLCV CSV, plain, gzip or zip."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from engine.core.errors import DataError
from engine.data import cache, csv_import, csv_stream
from engine.data.csv_import import LoadedCandles, load_candles

T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
MINUTE = 60_000
HEADER = "timestamp,open,high,low,close,volume"
BINANCE_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
    "taker_buy_volume,taker_buy_quote_volume,ignore"
)
ROWS = [
    (T0, "42000.00", "42077.27", "41958.10", "42065.04", "2.782438"),
    (T0 + MINUTE, "42065.04", "42072.35", "42022.57", "42025.00", "8.342959"),
    (T0 + 2 * MINUTE, "42025.00", "42028.60", "42003.90", "42014.94", "0"),
    (T0 + 3 * MINUTE, "42014.94", "42019.20", "41998.75", "42008.10", "4.596914"),
]


def ohlcv_lines(rows: list[tuple[object, ...]] = ROWS) -> list[str]:
    return [",".join(str(value) for value in row) for row in rows]


def binance_lines(scale: int = 1) -> list[str]:
    return [
        f"{ts * scale},{o},{h},{low},{c},{v},{(ts + MINUTE - 1) * scale},1.5,10,0.5,0.7,0"
        for ts, o, h, low, c, v in ROWS
    ]


def write(path: Path, lines: list[str], newline: str = "\n") -> Path:
    path.write_text(newline.join(lines) + newline)
    return path


def assert_rows(loaded: LoadedCandles) -> None:
    candles = loaded.candles
    assert candles.timestamp.tolist() == [row[0] for row in ROWS]
    assert candles.open.tolist() == [float(row[1]) for row in ROWS]
    assert candles.high.tolist() == [float(row[2]) for row in ROWS]
    assert candles.low.tolist() == [float(row[3]) for row in ROWS]
    assert candles.close.tolist() == [float(row[4]) for row in ROWS]
    assert candles.volume.tolist() == [float(row[5]) for row in ROWS]
    assert candles.timestamp.dtype == np.int64
    assert loaded.warnings == ()


def error_of(path: Path) -> str:
    with pytest.raises(DataError) as error:
        load_candles(path)
    return str(error.value)


def test_ohlcv_with_header(tmp_path: Path) -> None:
    path = write(tmp_path / "btc.csv", [HEADER, *ohlcv_lines()])
    loaded = load_candles(path)
    assert_rows(loaded)
    assert loaded.format == "ohlcv"
    assert loaded.source == str(path)


def test_ohlcv_without_header_and_with_crlf(tmp_path: Path) -> None:
    assert_rows(load_candles(write(tmp_path / "btc.csv", ohlcv_lines(), newline="\r\n")))


@pytest.mark.parametrize("header", [[], [BINANCE_HEADER]])
def test_binance_millisecond_open_times(tmp_path: Path, header: list[str]) -> None:
    loaded = load_candles(write(tmp_path / "BTCUSDT-1m-2024-01.csv", [*header, *binance_lines()]))
    assert_rows(loaded)
    assert loaded.format == "binance"


def test_binance_microsecond_open_times_become_milliseconds(tmp_path: Path) -> None:
    assert_rows(load_candles(write(tmp_path / "BTCUSDT-1m-2025-01.csv", binance_lines(1000))))


def test_binance_zip_as_distributed(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-1m-2024-01.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("BTCUSDT-1m-2024-01.csv", "\n".join(binance_lines()) + "\n")
    loaded = load_candles(path)
    assert_rows(loaded)
    assert loaded.format == "binance"


def test_gzipped_csv(tmp_path: Path) -> None:
    path = tmp_path / "btc.csv.gz"
    path.write_bytes(gzip.compress(("\n".join([HEADER, *ohlcv_lines()]) + "\n").encode()))
    assert_rows(load_candles(path))


def test_zip_with_several_files_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", "\n".join(ohlcv_lines()))
        archive.writestr("b.csv", "\n".join(ohlcv_lines()))
    message = error_of(path)
    assert str(path) in message
    assert "holds 2 files (a.csv, b.csv); put exactly one CSV file in it" in message


def test_missing_empty_and_header_only_files(tmp_path: Path) -> None:
    assert "no such file" in error_of(tmp_path / "nope.csv")
    assert "the file is empty" in error_of(write(tmp_path / "empty.csv", [""]))
    assert "holds no candles" in error_of(write(tmp_path / "header.csv", [HEADER]))


def test_error_message_names_file_line_column_value_and_fix(tmp_path: Path) -> None:
    rows = ohlcv_lines()
    rows[2] = rows[2].replace("42028.60", "abc")
    path = write(tmp_path / "bad.csv", [HEADER, *rows])
    assert error_of(path) == (
        f"{path}, line 4, column 3 (high): value 'abc' is not a number; "
        "write a plain decimal number like 42000.5"
    )


def test_line_numbers_count_blank_lines(tmp_path: Path) -> None:
    rows = ohlcv_lines()
    rows[3] = rows[3].replace("4.596914", "-1")
    path = write(tmp_path / "gappy.csv", ["", HEADER, rows[0], "", rows[1], rows[2], rows[3]])
    assert f"{path}, line 7, column 6 (volume): value '-1' is a negative volume" in error_of(path)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("42077.27", "nan", "column 3 (high): value 'nan' is not a finite number"),
        ("42065.04,2.78", "inf,2.78", "column 5 (close): value 'inf' is not a finite"),
        ("42065.04,2.78", "Infinity,2.78", "column 5 (close): value 'Infinity' is not a finite"),
        ("42000.00", "0", "column 2 (open): value '0' is not a positive price"),
        ("41958.10", "-3", "column 4 (low): value '-3' is not a positive price"),
        ("42065.04,2.78", "0,2.78", "column 5 (close): value '0' is not a positive price"),
        ("2.782438", "-0.5", "column 6 (volume): value '-0.5' is a negative volume"),
        (
            "42077.27,41958.10",
            "41900.00,41958.10",
            "column 3 (high): value '41900.00' is below the low 41958.10; fix or delete",
        ),
        (
            "42077.27",
            "42050.00",
            "column 3 (high): value '42050.00' is below the open 42000.00 or close 42065.04",
        ),
        (
            "41958.10",
            "42001.00",
            "column 4 (low): value '42001.00' is above the open 42000.00 or close 42065.04",
        ),
        (
            str(T0),
            str(T0 + 30_000),
            f"column 1 (timestamp): value '{T0 + 30_000}' is not the start of a minute",
        ),
        (
            str(T0),
            str(T0 * 1000 + 500),
            f"column 1 (timestamp): value '{T0 * 1000 + 500}' is not the start of a minute",
        ),
        (
            str(T0),
            "2024-01-01 00:00",
            "column 1 (timestamp): value '2024-01-01 00:00' is not an integer open time",
        ),
        (
            str(T0),
            str(T0 // 1000),
            f"value '{T0 // 1000}' is not an open time in epoch milliseconds or microseconds",
        ),
    ],
)
def test_bad_value_on_first_row(tmp_path: Path, old: str, new: str, expected: str) -> None:
    rows = ohlcv_lines()
    rows[0] = rows[0].replace(old, new, 1)
    path = write(tmp_path / "bad.csv", rows)
    message = error_of(path)
    assert message.startswith(f"{path}, line 1,")
    assert expected in message


def test_wrong_column_count(tmp_path: Path) -> None:
    rows = ohlcv_lines()
    rows[1] = rows[1].rsplit(",", 1)[0]
    path = write(tmp_path / "short.csv", [HEADER, *rows])
    message = error_of(path)
    assert message.startswith(f"{path}, line 3: found 5 columns where 6 belong")
    assert repr(rows[1]) in message


def test_unknown_layout(tmp_path: Path) -> None:
    path = write(tmp_path / "odd.csv", ["1,2,3", "4,5,6"])
    assert "line 1: found 3 columns where 6 or 12 belong" in error_of(path)


def test_header_in_the_wrong_order_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "swapped.csv", ["time,open,low,high,close,volume", *ohlcv_lines()])
    assert "header column 3 is 'low' where 'high' belongs" in error_of(path)


def test_duplicate_open_time(tmp_path: Path) -> None:
    rows = ohlcv_lines()
    rows[2] = rows[2].replace(str(T0 + 2 * MINUTE), str(T0 + MINUTE))
    path = write(tmp_path / "dup.csv", [HEADER, *rows])
    assert error_of(path) == (
        f"{path}, line 4, column 1 (timestamp): value '{T0 + MINUTE}' repeats the open time "
        "on line 3; delete the duplicate row"
    )


def test_unsorted_open_times(tmp_path: Path) -> None:
    rows = ohlcv_lines()
    rows[1], rows[2] = rows[2], rows[1]
    path = write(tmp_path / "unsorted.csv", [HEADER, *rows])
    assert error_of(path) == (
        f"{path}, line 4, column 1 (timestamp): value '{T0 + MINUTE}' is earlier than the open "
        "time on line 3; sort the rows by open time"
    )


def test_the_earliest_bad_row_is_reported(tmp_path: Path) -> None:
    rows = ohlcv_lines()
    rows[3] = rows[3].replace("42014.94", "0", 1)
    rows[1] = rows[1].replace("8.342959", "-8")
    message = error_of(write(tmp_path / "two.csv", rows))
    assert "column 6 (volume)" in message


def test_hourly_candles_are_refused(tmp_path: Path) -> None:
    rows = [(T0 + i * 60 * MINUTE, 1, 2, 0.5, 1.5, 10) for i in range(5)]
    message = error_of(write(tmp_path / "hourly.csv", ohlcv_lines(rows)))
    assert "multiples of 60 minutes" in message
    assert "load one-minute candles" in message


def test_gaps_are_warnings_with_iso_times(tmp_path: Path) -> None:
    minutes = [0, 1, 3, 10, 11]
    rows = [(T0 + m * MINUTE, 1, 2, 0.5, 1.5, 10) for m in minutes]
    path = write(tmp_path / "gaps.csv", [HEADER, *ohlcv_lines(rows)])
    loaded = load_candles(path)
    assert len(loaded.candles) == 5
    assert loaded.warnings == (
        f"{path}: 1 missing minute at 2024-01-01T00:02:00Z (between lines 3 and 4)",
        f"{path}: 6 missing minutes from 2024-01-01T00:04:00Z to 2024-01-01T00:09:00Z "
        "(between lines 4 and 5)",
    )


def test_many_gaps_are_summarised(tmp_path: Path) -> None:
    rows = [(T0 + 3 * i * MINUTE, 1, 2, 0.5, 1.5, 10) for i in range(25)]
    rows.append((T0 + 100 * MINUTE, 1, 2, 0.5, 1.5, 10))
    loaded = load_candles(write(tmp_path / "sparse.csv", ohlcv_lines(rows)))
    assert len(loaded.warnings) == 11
    assert loaded.warnings[-1].endswith(
        "15 more gaps with 55 missing minutes; 25 gaps and 75 missing minutes in total"
    )


def test_non_regular_files_are_refused(tmp_path: Path) -> None:
    message = error_of(Path("/dev/zero"))
    assert message == (
        "/dev/zero: not a regular file (a device, pipe or socket); give the path of a .csv, "
        ".csv.gz or .zip file of candles"
    )
    assert "not a regular file (a folder)" in error_of(tmp_path)


def big_rows(count: int, gap_after: int) -> list[tuple[int, str, str, str, str, str]]:
    """`count` candles a minute apart but for 5 minutes missing after row `gap_after`."""
    rows = []
    for row in range(count):
        minute = row + (5 if row > gap_after else 0)
        price = 40_000 + (row % 997) / 4
        rows.append(
            (
                T0 + minute * MINUTE,
                f"{price:.2f}",
                f"{price + 3:.2f}",
                f"{price - 2:.2f}",
                f"{price + 1:.2f}",
                f"{row % 13 / 8:.3f}",
            )
        )
    return rows


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".zip"])
def test_a_file_of_many_blocks_reads_every_row_and_names_gap_lines(
    tmp_path: Path, suffix: str
) -> None:
    rows = big_rows(30_000, gap_after=20_000)  # ~1.6 MB: the reader parses it in many blocks
    text = "\n".join([HEADER, *ohlcv_lines(rows)]) + "\n"
    path = tmp_path / f"big{suffix}"
    if suffix == ".csv":
        path.write_text(text)
    elif suffix == ".csv.gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("big.csv", text)
    loaded = load_candles(path, use_cache=False)
    assert loaded.candles.timestamp.tolist() == [row[0] for row in rows]
    assert loaded.candles.open.tolist() == [float(row[1]) for row in rows]
    assert loaded.candles.close.tolist() == [float(row[4]) for row in rows]
    assert loaded.candles.volume.tolist() == [float(row[5]) for row in rows]
    # Row 20,000 (0-based) sits on line 20,002 after the header; 5 minutes are missing after it.
    first_missing = T0 + 20_001 * MINUTE
    assert loaded.warnings == (
        f"{path}: 5 missing minutes from {iso(first_missing)} to "
        f"{iso(first_missing + 4 * MINUTE)} (between lines 20002 and 20003)",
    )


@pytest.mark.parametrize("read_bytes", [1, 40, 41, 97, 1000])
@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_reads_cut_anywhere_keep_every_row_of_a_crlf_file_without_a_last_newline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read_bytes: int, suffix: str
) -> None:
    rows = big_rows(300, gap_after=200)
    text = "\r\n".join([HEADER, *ohlcv_lines(rows)])  # no newline after the last row
    path = tmp_path / f"crlf{suffix}"
    path.write_bytes(gzip.compress(text.encode()) if suffix == ".csv.gz" else text.encode())
    monkeypatch.setattr(csv_stream, "READ_BYTES", read_bytes)  # rows are ~40 bytes long
    monkeypatch.setattr(csv_import, "_load_slowly", None)  # the block reader must take it
    loaded = load_candles(path, use_cache=False)
    assert loaded.candles.timestamp.tolist() == [row[0] for row in rows]
    assert loaded.candles.high.tolist() == [float(row[2]) for row in rows]
    assert loaded.candles.volume.tolist() == [float(row[5]) for row in rows]
    assert "(between lines 202 and 203)" in loaded.warnings[0]


def test_a_blank_line_far_into_a_big_file_keeps_the_gap_line_numbers_true(
    tmp_path: Path,
) -> None:
    lines = ohlcv_lines(big_rows(20_000, gap_after=15_000))
    lines.insert(10_000, "")  # a blank line 10,000 rows in: every later row is one line down
    path = write(tmp_path / "blank.csv", [HEADER, *lines])
    loaded = load_candles(path, use_cache=False)
    assert len(loaded.candles) == 20_000
    assert "(between lines 15003 and 15004)" in loaded.warnings[0]


def test_quoted_numbers_are_refused_in_a_big_file_as_in_a_small_one(tmp_path: Path) -> None:
    lines = ohlcv_lines(big_rows(20_000, gap_after=20_000))
    fields = lines[12_000].split(",")
    lines[12_000] = ",".join([fields[0], f'"{fields[1]}"', *fields[2:]])  # RFC 4180 quotes
    path = write(tmp_path / "quoted.csv", [HEADER, *lines])
    assert error_of(path).startswith(f"{path}, line 12002, column 2 (open): value '\"")


_PEAK_OF_A_LOAD = """
import sys
from engine.data.csv_import import load_candles
from engine.data import csv_stream  # the reader's libraries, loaded before measuring

def peak():  # bytes; ru_maxrss would carry the parent's peak across exec
    status = open("/proc/self/status").read()
    return int(status.split("VmHWM:")[1].split()[0]) * 1024

before = peak()
candles = load_candles(sys.argv[1], use_cache=False).candles
names = ("timestamp", "open", "high", "low", "close", "volume")
print(len(candles), peak() - before, sum(getattr(candles, name).nbytes for name in names))
"""


def test_a_load_grows_the_process_by_little_more_than_its_candle_arrays(tmp_path: Path) -> None:
    rows = big_rows(300_000, gap_after=300_000)  # 14.4 MB of arrays, 17 MB of text
    path = write(tmp_path / "big.csv", [HEADER, *ohlcv_lines(rows)])
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    output = subprocess.run(
        [sys.executable, "-c", _PEAK_OF_A_LOAD, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    count, grown, arrays = (int(word) for word in output.split())
    assert count == 300_000 and arrays == 300_000 * 48
    # The arrays, a few batches and the reader's buffers and code; reading the whole text at
    # once (np.loadtxt, or a table then a copy) would grow it by several times the arrays.
    assert arrays <= grown < arrays * 1.5


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_bad_row_far_into_a_big_file_is_named_by_its_line(tmp_path: Path) -> None:
    lines = ohlcv_lines(big_rows(30_000, gap_after=30_000))
    lines[25_000] = lines[25_000].replace(",", ",x", 1)
    path = write(tmp_path / "bad-big.csv", lines)
    assert error_of(path).startswith(f"{path}, line 25001, column 2 (open): value 'x")


def test_the_cache_keeps_the_most_recently_used_files_under_its_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKTEST_DESK_CACHE", str(tmp_path / "cache"))
    paths = [write(tmp_path / f"f{n}.csv", ohlcv_lines(big_rows(5_000, 5_000))) for n in range(3)]
    load_candles(paths[0])
    entries = list((tmp_path / "cache" / "candles").glob("*.candles"))
    assert len(entries) == 1
    entry_mb = entries[0].stat().st_size / 2**20
    monkeypatch.setenv("BACKTEST_DESK_CACHE_MAX_MB", str(2.5 * entry_mb))  # room for two
    load_candles(paths[1])
    os.utime(entries[0], (1, 1))  # the first file was used long ago...
    load_candles(paths[2])  # ...so the third one's entry pushes it out
    kept = {path.name for path in (tmp_path / "cache" / "candles").glob("*.candles")}
    assert len(kept) == 2
    assert entries[0].name not in kept


_KILLED_WRITER = """
import os, sys, time
from engine.data import cache
from engine.data.csv_import import load_candles

def stalled_save(file, meta, candles):
    file.write(b"half an entry")
    file.flush()
    os.write(1, b"writing\\n")
    time.sleep(60)

cache._save = stalled_save
load_candles(sys.argv[1])
"""


def test_a_writer_killed_mid_write_leaves_no_temp_after_the_next_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "cache"
    monkeypatch.setenv("BACKTEST_DESK_CACHE", str(folder))
    path = write(tmp_path / "btc.csv", [HEADER, *ohlcv_lines()])
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(path)],
        stdout=subprocess.PIPE,
        env=dict(os.environ),
        cwd=Path(__file__).resolve().parents[2],
    )
    assert child.stdout is not None
    assert child.stdout.readline() == b"writing\n"
    child.send_signal(signal.SIGKILL)
    child.wait()
    temps = list((folder / "candles").glob(".tmp-*"))
    assert len(temps) == 1  # the killed writer's half entry
    assert_rows(load_candles(path))
    assert list((folder / "candles").glob(".tmp-*")) == []
    assert len(list((folder / "candles").glob("*.candles"))) == 1
    assert_rows(load_candles(path))  # now from the entry the second load wrote


def test_a_cache_entry_cut_short_is_parsed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKTEST_DESK_CACHE", str(tmp_path / "cache"))
    path = write(tmp_path / "btc.csv", [HEADER, *ohlcv_lines()])
    load_candles(path)
    (entry,) = (tmp_path / "cache" / "candles").glob("*.candles")
    entry.write_bytes(entry.read_bytes()[:-8])  # the last volume is missing
    assert_rows(load_candles(path))
    assert_rows(load_candles(path))  # from the entry written again


def test_an_entry_of_another_file_under_the_same_name_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entry names are checksums: two keys may share one, so the entry's own key decides."""
    monkeypatch.setenv("BACKTEST_DESK_CACHE", str(tmp_path / "cache"))
    other = write(tmp_path / "other.csv", ohlcv_lines(big_rows(5_000, 5_000)))
    load_candles(other)
    (entry,) = (tmp_path / "cache" / "candles").glob("*.candles")
    path = write(tmp_path / "btc.csv", [HEADER, *ohlcv_lines()])
    os.replace(entry, cache._entry(str(path))[0])  # as if both keys had the same checksums
    assert_rows(load_candles(path))  # the file's own four rows, not the other's 5,000
    assert_rows(load_candles(path))  # then from its own entry


def test_a_damaged_zip_archive_is_refused_with_its_reason(tmp_path: Path) -> None:
    path = tmp_path / "btc.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("btc.csv", "\n".join([HEADER, *ohlcv_lines(big_rows(5_000, 5_000))]))
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF  # a byte of the compressed CSV: its checksum fails
    path.write_bytes(bytes(data))
    assert error_of(path).startswith(f"{path}: cannot read the file (")
