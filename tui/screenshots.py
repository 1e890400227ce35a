"""Screens of the desk rendered from a demo session: `python -m tui.screenshots`.

The same demo factory and scenes serve the snapshot tests: a fixed clock, the demo market
(seeded), and a history of two real runs made by pressing the keys a user would press.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from textual.pilot import Pilot
from textual.worker import WorkerCancelled

from engine.core.registration import exchanges
from tui.app import DeskApp, make_app
from tui.formatting import fixed_clock
from tui.keymap import KEYMAP_FILE

DEMO_SEED = 20250102
DEMO_MOMENT = datetime(2025, 1, 2, 9, 30, tzinfo=UTC)
"""The time the demo desk shows (after the demo market's year)."""

BROKEN_MODULE = "broken_strategies.py"
BROKEN_SOURCE = '''"""A strategy module with a mistake, to show how the desk reports it."""

from engine import add_strategy

add_strategy(strategy_name="broken", interval="5m", get_signal=lambda symbol, when: None)
raise RuntimeError("exchange key missing: set MY_EXCHANGE_KEY")
'''
SIZES = ((120, 40), (80, 24))


@dataclass(frozen=True)
class Scene:
    """A screen of the desk and the keys that reach it from the main screen."""

    name: str
    keys: tuple[str, ...] = ()
    broken_module: bool = False
    cached_data: bool = False


SCENES = (
    Scene("main"),
    Scene("launcher", ("b",)),
    Scene("report", ("r",)),
    Scene("reports", ("R",)),
    Scene("history", ("H",)),
    Scene("history-delete", ("H", "d")),
    Scene("run", ("H", "enter")),
    Scene("compare", ("H", "j", "space", "k", "c")),
    Scene("help", ("question_mark",)),
    Scene("theme", ("t",)),
    Scene("module-error", (), broken_module=True),
    Scene("walker", ("w", "w")),
    Scene("heatmap", ("m", "a")),
    Scene("alerts", ("A",)),
    Scene("data", ("D",), cached_data=True),
)


def seed_demo_cache() -> None:
    """Put three days of demo BTC/USDT in the candle cache as a `binance` download.

    Thirty minutes are missing on the second day from 14:00, and the first day's minutes of
    hour 3 traded nothing, so the data screen's gap calendar has something to show.
    """
    from engine.data import candle_cache
    from engine.data.demo import generate

    start, day, minute = 1_704_067_200_000, 86_400_000, 60_000
    candles = generate("BTCUSDT", start, start + 3 * day)
    gap = start + day + 14 * 60 * minute
    keep = (candles.timestamp < gap) | (candles.timestamp >= gap + 30 * minute)
    quiet = (candles.timestamp >= start + 3 * 60 * minute) & (
        candles.timestamp < start + 4 * 60 * minute
    )
    candles.volume[quiet] = 0.0
    candle_cache.save(
        "binance", "BTC/USDT", "1m", candles.take(keep.nonzero()[0]), ((start, start + 3 * day),)
    )


def demo_app(root: Path, *, broken_module: bool = False, cached_data: bool = False) -> DeskApp:
    """Return the desk over a demo state under `root` (run it with `root` as the working dir).

    Reports go to `./dump` (relative, as for a user), so paths on screen do not depend on
    where `root` is. `cached_data` seeds the candle cache first (`seed_demo_cache`).
    """
    if cached_data:
        seed_demo_cache()
    module = None
    if broken_module:
        (root / BROKEN_MODULE).write_text(BROKEN_SOURCE, encoding="utf-8")
        module = BROKEN_MODULE
    return make_app(
        state_dir=root / "state",
        module=module,
        clock=fixed_clock(DEMO_MOMENT),
        config_dir=root / "themes",
        keymap_path=root / KEYMAP_FILE,
        dump_dir=Path("dump"),
        signal_id_seed=DEMO_SEED,
    )


async def settle(pilot: Pilot[None]) -> None:
    """Wait until workers (runs, chart loads) finished and their messages were handled."""
    for _ in range(3):
        try:
            await pilot.app.workers.wait_for_complete()
        except WorkerCancelled:
            continue  # a newer chart load replaced an older one (exclusive workers)
        await pilot.pause()


async def play(pilot: Pilot[None], scene: Scene) -> None:
    """Press the scene's keys, letting the desk settle after each, and drop the toasts."""
    await settle(pilot)
    for key in scene.keys:
        await pilot.press(key)
        await settle(pilot)
    pilot.app.clear_notifications()
    await pilot.pause()


async def prepare_history(root: Path) -> None:
    """Make two runs by keys (bracket, then limit from the registry tree) on demo-7d.

    Must run with `root` as the working directory. Report files get the demo clock's time
    so that the reports list looks the same on every machine; the demo desk seeds the signal
    ids of its runs.
    """
    app = demo_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("b", "enter")
        await settle(pilot)
        await pilot.press("6", "j", "enter")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
    stamp = DEMO_MOMENT.timestamp()
    for report in Path("dump").rglob("*.md"):
        os.utime(report, (stamp, stamp))


async def render(root: Path, scene: Scene, size: tuple[int, int], theme: str | None) -> str:
    """Return the SVG of a scene at a size, in a theme (None: the default)."""
    app = demo_app(root, broken_module=scene.broken_module, cached_data=scene.cached_data)
    async with app.run_test(size=size) as pilot:
        if theme is not None:
            app.theme = theme
        await play(pilot, scene)
        return app.export_screenshot(title=f"backtest-desk · {scene.name}")


async def write_screenshots(
    target: Path, shots: Sequence[tuple[Scene, tuple[int, int], str | None]]
) -> list[Path]:
    """Render the shots into `target` (`<scene>[-<w>x<h>][-<theme>].svg`)."""
    target = target.resolve()
    target.mkdir(parents=True, exist_ok=True)
    written = []
    home = Path.cwd()
    cache = os.environ.get("BACKTEST_DESK_CACHE")
    with tempfile.TemporaryDirectory(prefix="desk-shots-") as temp:
        prepared = Path(temp) / "prepared"
        prepared.mkdir()
        os.chdir(prepared)
        os.environ["BACKTEST_DESK_CACHE"] = str(Path(temp) / "cache")  # never the user's
        try:
            await prepare_history(prepared)
            for number, (scene, size, theme) in enumerate(shots):
                root = Path(temp) / f"shot-{number}"  # a scene may run a backtest: its own copy
                shutil.copytree(prepared, root)
                os.chdir(root)
                os.environ["BACKTEST_DESK_CACHE"] = str(root / "cache")
                known = set(exchanges.names())
                svg = await render(root, scene, size, theme)
                for name in set(exchanges.names()) - known:  # e.g. the data scene's cache
                    exchanges.remove(name)
                suffix = "" if size == SIZES[0] else f"-{size[0]}x{size[1]}"
                suffix += f"-{theme}" if theme else ""
                path = target / f"{scene.name}{suffix}.svg"
                path.write_text(svg, encoding="utf-8")
                written.append(path)
        finally:
            os.chdir(home)
            if cache is None:
                os.environ.pop("BACKTEST_DESK_CACHE", None)
            else:
                os.environ["BACKTEST_DESK_CACHE"] = cache
    return written


def default_shots() -> list[tuple[Scene, tuple[int, int], str | None]]:
    """Every scene at 120×40, the main screen and launcher at 80×24, the main screen themed."""
    shots: list[tuple[Scene, tuple[int, int], str | None]] = [(s, SIZES[0], None) for s in SCENES]
    by_name = {s.name: s for s in SCENES}
    shots += [(by_name["main"], SIZES[1], None), (by_name["launcher"], SIZES[1], None)]
    shots += [
        (by_name["main"], SIZES[0], "desk-light"),
        (by_name["main"], SIZES[0], "desk-high-contrast"),
    ]
    return shots


def main(argv: Sequence[str] | None = None) -> int:
    """Write the screenshots to `screenshots/` (or the folder given as the only argument)."""
    args = list(sys.argv[1:] if argv is None else argv)
    target = Path(args[0]) if args else Path("screenshots")
    for path in asyncio.run(write_screenshots(target, default_shots())):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
