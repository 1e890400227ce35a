"""Snapshots of the full-screen event log (`L`), in two themes, at 120×40 and 80×24."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tui.screenshots import SIZES, Scene, demo_app, play, settle

THEMES = ("desk-dark", "desk-light")
LOG_SCENE = Scene("log", ("L",))


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_log_screen(snap_compare: Any, desk_root: Path, size: tuple[int, int], theme: str) -> None:
    app = demo_app(desk_root)

    async def reach(pilot: Pilot[None]) -> None:
        pilot.app.theme = theme
        await settle(pilot)
        for n in range(40):  # more lines than fit: the newest show, the oldest scroll away
            app.desk.log_line(f"risk rejected: signal {n} would exceed the exposure cap")
        await play(pilot, LOG_SCENE)

    assert snap_compare(app, terminal_size=size, run_before=reach)
