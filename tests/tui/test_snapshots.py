"""Snapshots of every screen of the desk, in two themes, at 120×40 and 80×24.

Deterministic: a fixed clock, the seeded demo market, runs made by keys in a prepared
history, report files stamped with the demo clock, relative paths on screen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tui.screenshots import SCENES, SIZES, Scene, demo_app, play

THEMES = ("desk-dark", "desk-light")


class TestScreens:
    @pytest.mark.parametrize("theme", THEMES)
    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
    @pytest.mark.parametrize("scene", SCENES, ids=lambda s: s.name)
    def test_screen(
        self, snap_compare: Any, desk_root: Path, scene: Scene, size: tuple[int, int], theme: str
    ) -> None:
        app = demo_app(desk_root, broken_module=scene.broken_module, cached_data=scene.cached_data)

        async def reach(pilot: Pilot[None]) -> None:
            pilot.app.theme = theme
            await play(pilot, scene)

        assert snap_compare(app, terminal_size=size, run_before=reach)
