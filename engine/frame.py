"""Timeframes of a backtest period (SPEC §4)."""

from __future__ import annotations

import numpy as np

from engine.data.store import to_ms
from engine.intervals import interval_ms
from engine.schemas import FrameSchema


def timeframes(frame: FrameSchema, symbol: str) -> np.ndarray:
    """Return the frame's times (epoch ms): start, start + step, … while `<= end`."""
    assert frame.start_date is not None and frame.end_date is not None and frame.interval
    start, end = to_ms(frame.start_date), to_ms(frame.end_date)
    times = np.arange(start, end + 1, interval_ms(frame.interval), dtype=np.int64)
    callbacks = frame.callbacks
    if callbacks is not None and callbacks.on_timeframe is not None:
        from engine.exchange import ms_to_datetime

        callbacks.on_timeframe(
            [ms_to_datetime(int(t)) for t in times.tolist()],
            frame.start_date,
            frame.end_date,
            frame.interval,
        )
    return times
