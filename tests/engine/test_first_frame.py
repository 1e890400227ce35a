"""A frame that starts at the data's first candle: no false error before a price exists."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pytest

import engine
from engine.sim.frame import priced_timeframes
from tests.engine.helpers import MIN, T0, Listeners, flat, run, setup, vwap

pytestmark = pytest.mark.usefixtures("clean_engine")


def average_prices(seen: list[tuple[int, float]]) -> Any:
    """A get_signal that records (time, average price) at every call and never signals."""

    def get_signal(symbol: str, when: datetime) -> None:
        seen.append((round(when.timestamp() * 1000), engine.get_average_price(symbol)))

    return get_signal


def test_a_run_from_the_first_candle_reports_no_error_and_starts_when_a_candle_closed(
    listen: Listeners,
) -> None:
    rows = flat(T0, 30)
    seen: list[tuple[int, float]] = []
    setup(rows, average_prices(seen), end=T0 + 29 * MIN)
    errors = listen(engine.listen_error)
    run("s")
    assert errors == []
    # The first call is at T0 + 1 min, priced by the one candle that closed by then.
    assert seen[0] == (T0 + MIN, vwap(rows[:1]))
    assert [when for when, _ in seen] == [T0 + i * MIN for i in range(1, 30)]


def test_the_1_4_10_profile_still_ticks_the_first_candle_with_its_look_ahead() -> None:
    rows = flat(T0, 30)
    seen: list[tuple[int, float]] = []
    setup(rows, average_prices(seen), end=T0 + 29 * MIN)
    run("s", profile="backtest-kit-1.4.10")
    assert seen[0] == (T0, vwap(rows[:1]))
    assert len(seen) == 30


def test_a_frame_before_the_data_still_reports_the_missing_candles(listen: Listeners) -> None:
    seen: list[tuple[int, float]] = []
    setup(flat(T0 + 60 * MIN, 30), average_prices(seen), end=T0 + 9 * MIN)
    errors = listen(engine.listen_error)
    run("s")
    assert seen == []
    assert len(errors) == 10
    assert "no candles data" in str(errors[0])


def test_priced_timeframes_drops_only_the_times_before_the_first_close() -> None:
    times = np.arange(T0, T0 + 5 * MIN, MIN, dtype=np.int64)
    assert priced_timeframes(times, T0 + MIN).tolist() == [T0 + i * MIN for i in range(1, 5)]
    assert priced_timeframes(times, T0 - MIN).tolist() == times.tolist()
    assert priced_timeframes(times, None).tolist() == times.tolist()
    assert priced_timeframes(times, T0 + 10 * MIN).tolist() == times.tolist()
