"""Timeframes of a backtest period (docs/semantics.md#frames)."""

from __future__ import annotations

import numpy as np

from engine.core.intervals import interval_ms
from engine.core.logger import engine_logger
from engine.core.schemas import FrameSchema
from engine.data.store import to_ms

_log = engine_logger(__name__)


def timeframes(frame: FrameSchema, symbol: str) -> np.ndarray:
    """Return the frame's times (epoch ms): start, start + step, … while `<= end`."""
    assert frame.start_date is not None and frame.end_date is not None and frame.interval
    start, end = to_ms(frame.start_date), to_ms(frame.end_date)
    times = np.arange(start, end + 1, interval_ms(frame.interval), dtype=np.int64)
    _log.debug(
        "frame generated",
        {"frame_name": frame.frame_name, "symbol": symbol, "interval": frame.interval,
         "frames": len(times)},
    )  # fmt: skip
    callbacks = frame.callbacks
    if callbacks is not None and callbacks.on_timeframe is not None:
        from engine.sim.exchange import ms_to_datetime

        callbacks.on_timeframe(
            [ms_to_datetime(int(t)) for t in times.tolist()],
            frame.start_date,
            frame.end_date,
            frame.interval,
        )
    return times


def priced_timeframes(times: np.ndarray, first_known_ms: int | None) -> np.ndarray:
    """Drop the leading frame times at which no candle has closed yet.

    Without look-ahead a frame at time T sees the candles that closed by T; before the data's
    first candle closes there is no price, and every strategy asking for one would fail
    (`get_average_price` reports "no candles data"). A frame that lies wholly before the data
    keeps its times, so that the run reports the missing candles instead of doing nothing.

    Args:
        times: The frame's times (epoch ms), ascending.
        first_known_ms: When the first candle closes (`ClientExchange.first_known_ms`), or
            None when unknown.
    """
    if first_known_ms is None or len(times) == 0 or times[-1] < first_known_ms:
        return times
    return times[int(np.searchsorted(times, first_known_ms, side="left")) :]
