"""The live screen shows a loop stopped by a state write failure in red, with its reason."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import RichLog

import engine
from engine.persist import PersistSignalAdapter
from tests.tui.test_live_screen import (
    START_MS,
    HeldClock,
    desk,
    held,
    live_screen,
    state_of,
    wait_for,
)
from tui.live_bridge import LoopState
from tui.theming import desk_color

__all__ = ["held"]  # the fixture, shared with the live screen's tests


class FullDisk(engine.TinyDBPersist):
    """Writes fail as on a full disk."""

    def write_value(self, key: str, value: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))


@pytest.fixture
def full_disk() -> Iterator[None]:
    engine.use_persist_signal_adapter(FullDisk)
    yield
    PersistSignalAdapter.reset()


@pytest.mark.usefixtures("full_disk")
async def test_a_state_write_failure_stops_the_loop_in_red(
    tmp_path: Path, held: Callable[[int, int], HeldClock]
) -> None:
    held(START_MS, 20)
    app = desk(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("l")
        await pilot.press("N")
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, lambda: state_of(app) is LoopState.FAILED, "the failed loop")
        screen = live_screen(app)
        assert screen.snapshots["bracket:BTCUSDT"].position is None  # nothing opened
        alerts = screen.query_one("#live-alerts", RichLog)
        red = desk_color(app.theme_variables, "error").hex.lower()
        in_red = "".join(
            seg.text
            for line in alerts.lines
            for seg in line
            if seg.style is not None
            and seg.style.color is not None
            and seg.style.color.get_truecolor().hex.lower() == red
        )
        assert (
            "bracket on BTCUSDT: failed (StateWriteError: could not write the live state" in in_red
        )
        assert "No space left on device" in in_red
