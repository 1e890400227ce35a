"""What the result stores show while a run goes on, whichever thread reads them.

Between two yielded results of a run, `Backtest.get_data` and `Heat.get_data` hold every
closed result so far, in the order they closed; a store cleared during the run goes on
with the closes that follow; a reader on another thread (as the desk reads) only ever sees
a prefix of the run's closes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

import engine
from engine.analytics.heat import heatmap_statistics
from engine.analytics.stats import backtest_statistics
from engine.core.config import PROFILES
from tests.engine.helpers import SYMBOL
from tests.engine.test_fused_trades import register

pytestmark = pytest.mark.usefixtures("clean_engine")


@pytest.fixture(autouse=True)
def empty_heat() -> Iterator[None]:
    """No heatmap trade of another test, before and after."""
    engine.Heat.clear()
    yield
    engine.Heat.clear()


def run(profile: str) -> Iterator[Any]:
    return engine.Backtest.run(
        SYMBOL, strategy_name="s", exchange_name="x", frame_name="f", profile=profile, seed=3
    )


@pytest.mark.parametrize("profile", PROFILES)
def test_between_two_yields_the_stores_hold_every_close_so_far(profile: str) -> None:
    register(21, "1m")
    closed: list[Any] = []
    for result in run(profile):
        closed += [result] if result.action == "closed" else []
        assert engine.Backtest.get_data(SYMBOL, "s") == backtest_statistics(closed)
        pnls = [r.pnl.pnl_percentage for r in closed]
        assert engine.Heat.get_data("s") == heatmap_statistics({SYMBOL: pnls} if pnls else {})
    assert len(closed) > 20  # the run traded


@pytest.mark.parametrize("profile", PROFILES)
def test_stores_cleared_during_a_run_keep_the_closes_that_follow(profile: str) -> None:
    register(22, "1m")
    closed: list[Any] = []
    for result in run(profile):
        closed += [result] if result.action == "closed" else []
        if len(closed) == 3 and result.action == "closed":
            engine.Backtest.clear(SYMBOL, "s")
            engine.Heat.clear("s")
    after = closed[3:]
    assert len(after) > 10
    assert engine.Backtest.get_data(SYMBOL, "s") == backtest_statistics(after)
    pnls = [r.pnl.pnl_percentage for r in after]
    assert engine.Heat.get_data("s") == heatmap_statistics({SYMBOL: pnls})


def test_a_reader_on_another_thread_sees_only_prefixes_of_the_closes() -> None:
    register(23, "1m")
    seen: list[tuple[tuple[Any, ...], int]] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            signals = engine.Backtest.get_data(SYMBOL, "s").signal_list
            seen.append((signals, engine.Heat.get_data("s").portfolio_total_trades))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        closed = [r for r in run(PROFILES[-1]) if r.action == "closed"]
    finally:
        done.set()
        reader.join()
    assert len(seen) > 1 and len(closed) > 20
    counts = [len(signals) for signals, _ in seen]
    assert counts == sorted(counts)  # never a close lost or reordered
    for signals, trades in seen:
        assert list(signals) == closed[: len(signals)]
        assert trades <= len(closed)
