"""How long the desk takes to handle a key while a 365-day backtest runs (headless Pilot).

Run: `.venv/bin/python bench/desk_responsiveness.py`. Prints the median and the worst key
latency (target: worst under 100 ms) and the run's duration. A key's latency is the time from
posting it until the desk has acted on it (the signals table's cursor moved).
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
from tui.widgets.signals_table import SignalsTable

POLL_SECONDS = 0.0005
BETWEEN_KEYS_SECONDS = 0.05


async def measure(frame_name: str) -> tuple[list[float], float, int]:
    """Return key latencies (seconds), the run's wall time and its closed signals."""
    root = Path(tempfile.mkdtemp(prefix="desk-bench-"))
    os.chdir(root)
    app = demo_app(root)
    app.state.last_request = RunRequest(
        strategy_name="bracket", symbol="BTCUSDT", exchange_name="demo", frame_name=frame_name
    )
    latencies: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await pilot.press("b")
        table = app.desk.query_one(SignalsTable)
        started = time.perf_counter()
        app.simulate_key("enter")
        while app.desk.running is None and app.desk.last_record is None:
            await asyncio.sleep(POLL_SECONDS)
        while table.row_count < 3 and app.desk.running is not None:
            await asyncio.sleep(POLL_SECONDS)
        key = "j"
        while app.desk.running is not None:
            before = table.cursor_row
            posted = time.perf_counter()
            app.simulate_key(key)
            while table.cursor_row == before and app.desk.running is not None:
                await asyncio.sleep(POLL_SECONDS)
            if table.cursor_row != before:
                latencies.append(time.perf_counter() - posted)
            key = "k" if key == "j" else "j"
            await asyncio.sleep(BETWEEN_KEYS_SECONDS)
        duration = time.perf_counter() - started
        await settle(pilot)
        closed = len(app.desk.closed)
    return latencies, duration, closed


def main() -> int:
    """Run the benchmark and print its figures."""
    frame = sys.argv[1] if len(sys.argv) > 1 else "demo-365d"
    latencies, duration, closed = asyncio.run(measure(frame))
    if not latencies:
        print("no key was measured: the run ended before the signals table filled")
        return 1
    ms = sorted(1000 * x for x in latencies)
    print(
        f"backtest: bracket BTCUSDT {frame}, {closed} closed signals, {duration:.1f} s in the desk"
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
