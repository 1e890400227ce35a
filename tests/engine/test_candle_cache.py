"""The parse cache of candle files: same candles, refreshed when the file changes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from engine.data.csv_import import load_candles

ROWS = [
    (1704067200000, 100.0, 101.0, 99.0, 100.5, 3.0),
    (1704067260000, 100.5, 102.0, 100.0, 101.0, 2.0),
    (1704067380000, 101.0, 101.5, 100.5, 101.2, 1.0),
]


def write(path: Path, rows: list[tuple]) -> None:
    lines = ["timestamp,open,high,low,close,volume", *(",".join(map(str, r)) for r in rows)]
    path.write_text("\n".join(lines) + "\n")


def columns(loaded) -> list[np.ndarray]:
    c = loaded.candles
    return [c.timestamp, c.open, c.high, c.low, c.close, c.volume]


def test_second_load_comes_from_the_cache_and_is_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKTEST_DESK_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "c.csv"
    write(source, ROWS)
    first = load_candles(source)
    assert list((tmp_path / "cache" / "candles").glob("*.npz"))
    second = load_candles(source)
    for a, b in zip(columns(first), columns(second), strict=True):
        assert np.array_equal(a, b)
    assert second.warnings == first.warnings and "missing" in " ".join(first.warnings)
    assert second.format == "ohlcv"


def test_a_changed_file_is_parsed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKTEST_DESK_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "c.csv"
    write(source, ROWS)
    load_candles(source)
    changed = [*ROWS[:2], (1704067320000, 101.0, 103.0, 100.5, 102.0, 4.0)]
    write(source, changed)
    os.utime(source, ns=(1, 1))
    reloaded = load_candles(source)
    assert reloaded.candles.close.tolist() == [100.5, 101.0, 102.0]
    assert reloaded.warnings == ()


def test_an_unwritable_cache_does_not_stop_the_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("BACKTEST_DESK_CACHE", str(blocker))
    source = tmp_path / "c.csv"
    write(source, ROWS)
    assert len(load_candles(source).candles) == 3
