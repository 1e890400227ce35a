"""Walker speed: 4 strategies × 4 demo symbols × 90 days, serial versus a process pool.

Usage:
    python bench/walker_speed.py [--frame demo-90d] [--repeat 1]

Strategies: bracket, limit, sma_rsi and `bollinger` (below: a mean-reversion entry on
5-minute Bollinger bands, the kind of numpy indicator users write). Each mode runs in a
fresh child process (import time excluded, pool start-up included) and prints its wall
time, the CPU time of its whole process tree and of its busiest process, and peak memory
(the main process, the largest worker, the sum over all processes). Both modes must give
identical rankings. On a machine busy with other work the wall speed-up understates what
idle cores give; the critical-path ratio (serial CPU over the busiest process's CPU) does not.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

import engine
from engine.core.registration import strategies
from engine.sim.api import get_average_price, get_candles

ROOT = Path(__file__).resolve().parent.parent
SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT"]
STRATEGIES = ["bracket", "limit", "sma_rsi", "bollinger"]
PERIOD = 20


def bollinger(symbol: str, when: datetime) -> dict[str, Any] | None:
    """Buy below the lower band, sell above the upper one; target the mean."""
    candles = get_candles(symbol, "5m", PERIOD)
    if len(candles) < PERIOD:
        return None
    closes = np.array([c.close for c in candles])
    mean, std = float(closes.mean()), float(closes.std())
    price = get_average_price(symbol)
    if std == 0 or abs(price - mean) < 2 * std:
        return None
    reach = max(abs(mean - price), price * 0.002)
    side = 1 if price < mean else -1
    return {
        "position": "long" if side > 0 else "short",
        "price_take_profit": price + side * reach,
        "price_stop_loss": price - side * 1.5 * reach,
        "minute_estimated_time": 240,
        "note": f"{PERIOD}×5m Bollinger",
    }


def register() -> None:
    """Register the bench strategies (idempotent: workers may import this file twice)."""
    from engine.strategies import register_builtin_strategies

    register_builtin_strategies()
    if not strategies.has("bollinger"):
        engine.add_strategy(strategy_name="bollinger", interval="5m", get_signal=bollinger)


register()


class ProcessTree:
    """Samples peak memory (VmHWM) and CPU time of a process and its descendants (Linux).

    It runs in the bench's parent, so the measured process has no extra thread (the pool
    may fork) and pool workers that are grandchildren (forkserver) are seen too.
    """

    def __init__(self, root: int) -> None:
        self.root = root
        self.peaks: dict[int, float] = {}
        self.cpu: dict[int, float] = {}

    def sample(self) -> None:
        tick = os.sysconf("SC_CLK_TCK")
        for pid in _tree(self.root):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            self.cpu[pid] = (int(stat[11]) + int(stat[12])) / tick
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) / 1024
                    self.peaks[pid] = max(self.peaks.get(pid, 0.0), peak)


def _tree(root: int) -> list[int]:
    """Return `root` and its descendants, from /proc/<pid>/task/<tid>/children."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        for children in Path(f"/proc/{pid}/task").glob("*/children"):
            try:
                todo.extend(int(c) for c in children.read_text().split())
            except OSError:
                continue
    return found


def child(mode: str, frame: str) -> None:
    """Run the walker once in this process and print JSON figures."""
    engine.add_walker(
        walker_name="bench", exchange_name="demo", frame_name=frame, strategies=STRATEGIES
    )
    executor = engine.SerialExecutor() if mode == "serial" else None
    print("ready", flush=True)
    cpu, started = time.process_time(), time.perf_counter()
    rows = list(
        engine.Walker.run_symbols(
            SYMBOLS, walker_name="bench", executor=executor, modules=[__file__]
        )
    )
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    payload = {
        "wall": wall,
        "main_cpu": cpu,
        "signals": sum(r.stats.total_signals for r in rows),
        "rows": [[r.symbol, r.strategy_name, r.stats.total_signals, r.metric_value] for r in rows],
    }
    print(json.dumps(payload), flush=True)


def measure(mode: str, frame: str) -> dict[str, Any]:
    """Run one mode in a fresh child; add the CPU and memory of its process tree."""
    command = [sys.executable, __file__, "--child", mode, "--frame", frame]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        process.stdout.readline()  # "ready": imports done, the run starts
        tree = ProcessTree(process.pid)
        tree.sample()
        while process.poll() is None:
            tree.sample()
            time.sleep(0.05)
        figures = json.loads(process.stdout.read().strip().splitlines()[-1])
    if process.returncode:
        raise SystemExit(f"the {mode} run failed")
    others = [pid for pid in tree.peaks if pid != process.pid]
    figures["cpu"] = figures["main_cpu"] + sum(tree.cpu[pid] for pid in others)
    figures["busiest"] = max([figures["main_cpu"], *(tree.cpu[pid] for pid in others)])
    figures["main_mb"] = tree.peaks.get(process.pid, 0.0)
    figures["worker_mb"] = max((tree.peaks[pid] for pid in others), default=0.0)
    figures["processes"] = 1 + len(others)
    figures["all_mb"] = sum(tree.peaks.values())
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frame", default="demo-90d", help="a demo frame (default: demo-90d)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per mode; the best is shown")
    parser.add_argument("--child", choices=["serial", "pool"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.frame)
        return
    jobs = len(STRATEGIES) * len(SYMBOLS)
    print(
        f"walker: {len(STRATEGIES)} strategies × {len(SYMBOLS)} symbols = {jobs} backtests on "
        f"{args.frame}, {os.cpu_count()} cores, best of {args.repeat}"
    )
    print(
        f"{'mode':<14}{'wall s':>8}{'cpu s':>8}{'busiest s':>10}{'signals':>9}{'processes':>11}"
        f"{'main MB':>9}{'worker MB':>11}{'all MB':>8}"
    )
    best: dict[str, dict[str, Any]] = {}
    for mode in ("serial", "pool"):
        runs = [measure(mode, args.frame) for _ in range(args.repeat)]
        best[mode] = run = min(runs, key=lambda r: r["wall"])
        print(
            f"{'process pool' if mode == 'pool' else 'serial':<14}{run['wall']:>8.2f}"
            f"{run['cpu']:>8.2f}{run['busiest']:>10.2f}{run['signals']:>9}{run['processes']:>11}{run['main_mb']:>9.0f}"
            f"{run['worker_mb']:>11.0f}{run['all_mb']:>8.0f}"
        )
    if best["serial"]["rows"] != best["pool"]["rows"]:
        raise SystemExit("the process pool's results differ from the serial run's")
    serial, pool = best["serial"], best["pool"]
    print(f"speed-up: {serial['wall'] / pool['wall']:.2f}× wall (identical results)")
    print(
        f"critical path: {serial['busiest'] / pool['busiest']:.2f}× (serial CPU over the busiest "
        "pool process's CPU: the wall speed-up on idle cores, other load on the machine aside)"
    )


if __name__ == "__main__":
    main()
