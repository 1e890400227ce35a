"""How long the desk takes to handle a key while a 365-day backtest runs (headless Pilot).

Run: `.venv/bin/python bench/desk_responsiveness.py [frame] [runs]` (default demo-365d, 5
runs one after another, so that enough keys are pressed). Prints the median, p95 and worst
key latency (target: worst under 100 ms) and the runs' duration. A key's latency is the time
from posting it until the desk has acted on it (the registry tree's cursor moved).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui.runs import RunRequest
from tui.screenshots import demo_app, settle
from tui.widgets.registry_tree import RegistryTree

POLL_SECONDS = 0.0005
BETWEEN_KEYS_SECONDS = 0.05


async def measure(frame_name: str, runs: int) -> tuple[list[float], float, int]:
    """Return key latencies (seconds), the runs' wall time and the last run's closed signals.

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
    return latencies, duration, closed


def main() -> int:
    """Run the benchmark and print its figures."""
    frame = sys.argv[1] if len(sys.argv) > 1 else "demo-365d"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    latencies, duration, closed = asyncio.run(measure(frame, runs))
    if not latencies:
        print("no key was measured: the run ended before the signals table filled")
        return 1
    ms = sorted(1000 * x for x in latencies)
    print(
        f"backtest: {runs} runs of bracket BTCUSDT {frame}, {closed} closed signals each, "
        f"{duration:.1f} s in the desk"
    )
    print(f"keys handled while it ran: {len(ms)}")
    print(
        f"key latency: median {statistics.median(ms):.1f} ms, "
        f"p95 {ms[int(0.95 * (len(ms) - 1))]:.1f} ms, worst {ms[-1]:.1f} ms "
        "(target: worst < 100 ms)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
