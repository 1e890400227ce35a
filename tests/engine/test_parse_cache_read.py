"""The parse cache's read side: entries are mapped, not copied, and read back exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.data import cache
from engine.data.csv_import import load_candles

HEADER = "timestamp,open,high,low,close,volume"
T0 = 1_704_067_200_000


def write_csv(path: Path, rows: int) -> Path:
    lines = [
        f"{T0 + i * 60_000},{100 + i * 0.25},{101 + i * 0.25},{99 + i * 0.25},"
        f"{100.5 + i * 0.25},{i % 7 + 0.125}"
        for i in range(rows)
    ]
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    return path


@pytest.mark.parametrize("rows", [1, 3, 1000])
def test_a_cached_load_gives_the_parsed_columns_as_aligned_read_only_views(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: int
) -> None:
    monkeypatch.setenv("BACKTEST_DESK_CACHE", str(tmp_path / "cache"))
    path = write_csv(tmp_path / "btc.csv", rows)
    parsed = load_candles(path).candles
    cached = cache.read(str(path))
    assert cached is not None
    candles = cached[0]
    for name in ("timestamp", "open", "high", "low", "close", "volume"):
        column = getattr(candles, name)
        assert column.tobytes() == getattr(parsed, name).tobytes()  # bit for bit
        assert column.dtype == (np.int64 if name == "timestamp" else np.float64)
        assert column.flags.aligned and column.flags.c_contiguous
        assert not column.flags.writeable and not column.flags.owndata  # a view of the map
    assert candles.timestamp.tolist() == [T0 + i * 60_000 for i in range(rows)]


def test_arrays_read_from_an_entry_outlive_its_eviction_and_replacement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKTEST_DESK_CACHE", str(tmp_path / "cache"))
    path = write_csv(tmp_path / "btc.csv", 500)
    expected = load_candles(path).candles.close.copy()
    held = load_candles(path).candles  # from the cache: a view of the entry's file
    folder = tmp_path / "cache" / "candles"
    (entry,) = folder.glob("*.candles")
    assert cache.evict(folder, 0) == [entry]  # deleted while mapped
    assert np.array_equal(held.close, expected)
    load_candles(path)  # parsed again: a new entry replaces it
    again = load_candles(path).candles
    assert np.array_equal(held.close, expected) and np.array_equal(again.close, expected)
