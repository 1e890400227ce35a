"""What the always-on performance figures cost a backtest, measured in one process.

Usage:
    python bench/overhead.py [--days 365] [--rounds 15]

Runs the 365-day bracket backtest on the demo market over and over in one process,
alternating two variants round by round (so machine noise hits both alike): as shipped, and
with the run's timer switched off (here only). Prints the fastest and the median run of
each and their ratio. Within a few per cent is what "always on" must cost.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import engine
from engine.sim import backtest
from engine.sim.builtins import shared_demo_store
from engine.strategies import register_builtin_strategies


def main() -> None:
    """Measure and print the two variants."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    store = shared_demo_store()
    first_ms = int(store.arrays("BTCUSDT").timestamp[0])
    first = datetime.fromtimestamp(first_ms / 1000, tz=UTC)
    end = first + timedelta(days=args.days) - timedelta(minutes=1)
    register_builtin_strategies()
    engine.add_exchange(
        exchange_name="bench",
        get_candles=store.get_candles,
        format_price=lambda s, p: f"{p:.2f}",
        format_quantity=lambda s, q: f"{q:.8f}",
    )
    engine.add_frame(frame_name="bench", interval="1m", start_date=first, end_date=end)
    shipped = (backtest._Timer.emit, backtest._Timer.flush)
    silent = (lambda self, metric, started: None, lambda self: None)

    def run(timer: tuple[object, object]) -> float:
        backtest._Timer.emit, backtest._Timer.flush = timer  # type: ignore[assignment]
        started = time.perf_counter()
        for _ in engine.Backtest.run(
            "BTCUSDT", strategy_name="bracket", exchange_name="bench", frame_name="bench"
        ):
            pass
        return time.perf_counter() - started

    run(shipped)  # warm up: the candles' first use, lazy imports
    times: dict[str, list[float]] = {"timings on (shipped)": [], "timings off": []}
    for _ in range(args.rounds):
        times["timings on (shipped)"].append(run(shipped))
        times["timings off"].append(run(silent))
    backtest._Timer.emit, backtest._Timer.flush = shipped  # type: ignore[method-assign]
    print(f"bracket, demo BTCUSDT, {args.days} days, {args.rounds} alternating rounds")
    for label, values in times.items():
        print(
            f"  {label:<22} fastest {min(values):.3f} s   median {statistics.median(values):.3f} s"
        )
    on, off = times.values()
    fastest, median = min(on) / min(off), statistics.median(on) / statistics.median(off)
    print(f"  on / off: fastest {fastest:.3f}, median {median:.3f}")


if __name__ == "__main__":
    main()
