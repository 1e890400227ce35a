"""How long the desk takes to handle a key while a 365-day backtest runs (headless Pilot).

Run: `.venv/bin/python bench/desk_responsiveness.py [frame] [runs]` (default demo-365d, 5
runs one after another, so that enough keys are pressed). Prints the median, p95 and worst
key latency (target: worst under 100 ms) and the runs' duration. A key's latency is the time
from posting it until the desk has acted on it (the registry tree's cursor moved).

Then it opens the blotter of the last run (every trade) and measures its keys the same way:
scrolling (`j`, page down and up, last and first), sorting by every column and reversing
(`→`, `s`, `s`), and typing a filter (`short`, erased, `tp`); a key counts when the table
shows its effect.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual.app import App
from textual.pilot import Pilot

from tui.runs import RunRequest
from tui.screens.blotter import BlotterScreen
from tui.screenshots import demo_app, settle
from tui.widgets.registry_tree import RegistryTree
from tui.widgets.trade_table import COLUMNS, TradeTable

POLL_SECONDS = 0.0005
BETWEEN_KEYS_SECONDS = 0.05


async def _timed_key(app: App[None], key: str, done: Callable[[], bool]) -> float:
    """Press `key`; return the seconds until `done()` holds."""
    posted = time.perf_counter()
    app.simulate_key(key)
    while not done():
        await asyncio.sleep(POLL_SECONDS)
    latency = time.perf_counter() - posted
    await asyncio.sleep(BETWEEN_KEYS_SECONDS)
    return latency


async def measure_blotter(pilot: Pilot[None]) -> tuple[list[float], list[float], int]:
    """Open the blotter; return scroll and sort/filter key latencies and the trades shown."""
    app = pilot.app
    await pilot.press("T")
    await settle(pilot)
    assert isinstance(app.screen, BlotterScreen)
    table = app.screen.query_one(TradeTable)

    def moved(before: int) -> Callable[[], bool]:  # or it stays at the first or last row
        edge = before in (0, table.shown_count - 1)
        return lambda: table.cursor_row != before or edge

    def at_row(row: int) -> Callable[[], bool]:
        return lambda: table.cursor_row == row

    def sorted_by(key: str, descending: bool) -> Callable[[], bool]:
        return lambda: table.sort_key == key and table.descending == descending

    def at_column(column: int) -> Callable[[], bool]:
        return lambda: table.cursor_column == column

    def filtered(words: tuple[str, ...]) -> Callable[[], bool]:
        return lambda: table.filter_words == words

    scrolls = [await _timed_key(app, "j", at_row(row)) for row in range(1, 201)]
    for key in ["pagedown"] * 20 + ["pageup"] * 20:
        scrolls.append(await _timed_key(app, key, moved(table.cursor_row)))
    scrolls.append(await _timed_key(app, "G", at_row(table.shown_count - 1)))
    scrolls.append(await _timed_key(app, "g", at_row(0)))
    sorts: list[float] = []
    for column in range(table.cursor_column - 1, -1, -1):
        await _timed_key(app, "left", at_column(column))
    for column, spec in enumerate(COLUMNS):
        if column:
            sorts.append(await _timed_key(app, "right", at_column(column)))
        sorts.append(await _timed_key(app, "s", sorted_by(spec.key, False)))
        sorts.append(await _timed_key(app, "s", sorted_by(spec.key, True)))
    await pilot.press("slash")
    typed = ""
    for key in [*"short", *["backspace"] * 5, *"tp"]:
        typed = typed[:-1] if key == "backspace" else typed + key
        sorts.append(await _timed_key(app, key, filtered(tuple(typed.split()))))
    return scrolls, sorts, len(table.trades)


@dataclass
class Figures:
    """What the benchmark measured (latencies in seconds)."""

    run_keys: list[float]
    duration: float
    closed: int
    blotter_scrolls: list[float]
    blotter_sorts: list[float]
    blotter_trades: int


async def measure(frame_name: str, runs: int) -> Figures:
    """Return key latencies during the runs, the runs' wall time and the blotter's figures.

    Keys move the cursor of the registry tree (focused), so every key during a run counts,
    from the first frame to the last, while signals stream into the other panes. Each key moves
    the cursor one line (down, or up from the last line); a key counts when the cursor got there.
    """
    root = Path(tempfile.mkdtemp(prefix="desk-bench-"))
    os.chdir(root)
    app = demo_app(root)
    app.state.last_request = RunRequest(
        strategy_name="bracket", symbol="BTCUSDT", exchange_name="demo", frame_name=frame_name
    )
    latencies: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        tree = app.desk.query_one(RegistryTree)
        started = time.perf_counter()
        for _ in range(runs):
            await pilot.press("b")
            app.simulate_key("enter")
            while app.desk.running is None:
                await asyncio.sleep(POLL_SECONDS)
            tree.focus()
            while app.desk.running is not None:
                before = tree.cursor_line
                key, target = (
                    ("down", before + 1) if before < tree.last_line else ("up", before - 1)
                )
                posted = time.perf_counter()
                app.simulate_key(key)
                while tree.cursor_line != target and app.desk.running is not None:
                    await asyncio.sleep(POLL_SECONDS)
                if tree.cursor_line == target:
                    latencies.append(time.perf_counter() - posted)
                await asyncio.sleep(BETWEEN_KEYS_SECONDS)
            await settle(pilot)
        duration = time.perf_counter() - started
        closed = len(app.desk.closed)
        scrolls, sorts, trades = await measure_blotter(pilot)
    return Figures(latencies, duration, closed, scrolls, sorts, trades)


def describe(seconds: list[float]) -> str:
    """Return `median 1.0 ms, p95 2.0 ms, worst 3.0 ms` for latencies in seconds."""
    ms = sorted(1000 * x for x in seconds)
    return (
        f"median {statistics.median(ms):.1f} ms, p95 {ms[int(0.95 * (len(ms) - 1))]:.1f} ms, "
        f"worst {ms[-1]:.1f} ms"
    )


def main() -> int:
    """Run the benchmark and print its figures."""
    frame = sys.argv[1] if len(sys.argv) > 1 else "demo-365d"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    figures = asyncio.run(measure(frame, runs))
    if not figures.run_keys:
        print("no key was measured: the run ended before the signals table filled")
        return 1
    print(
        f"backtest: {runs} runs of bracket BTCUSDT {frame}, {figures.closed} closed signals "
        f"each, {figures.duration:.1f} s in the desk"
    )
    print(f"keys handled while it ran: {len(figures.run_keys)}")
    print(f"key latency: {describe(figures.run_keys)} (target: worst < 100 ms)")
    print(f"blotter of {figures.blotter_trades} trades:")
    print(f"  scroll keys ({len(figures.blotter_scrolls)}): {describe(figures.blotter_scrolls)}")
    print(
        f"  sort and filter keys ({len(figures.blotter_sorts)}): "
        f"{describe(figures.blotter_sorts)} (target: worst < 100 ms)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
