"""Backtest speed: the `bracket` workload on 30 and 365 days, both profiles.

Usage:
    python bench/backtest_speed.py [--candles FILE] [--symbol BTCUSDT] [--repeat 3]
        [--against DIR] [--fixed-costs] [--rss-days N]

Without --candles the demo market is used. Each measurement runs in a fresh child process
(so peak RSS is its own) and prints import, load and run time, frames per second, closed
signals, peak RSS and the whole process's wall time. A plain-Python loop that computes the
same bracket trades without the engine runs in the same session as the baseline; ratios
against it are what to compare across machines. Rows are measured in alternating rounds.

The row "bracket floor, no engine" (bench/bracket_floor.py) is the least any Python engine
does per bracket trade: call a user's `get_signal`, scan the next candles with numpy, record
the trade. What the engine costs beyond it is validation, ids, fees, events and statistics.

Two rows show what a frame costs: a 1-minute strategy whose `get_signal` returns None, in
both profiles (with `--against DIR`, also with DIR's engine, and the 1.4.10 bracket too).

Four rows run `sma_rsi`'s rules: the built-in on the indicator API (TA-Lib computed once per
run), `sma_rsi_plain` (bench/sma_rsi_plain.py), the same rules with numpy maths on
`get_candles`, `sma_rsi_lists`, the same with plain-Python sums, and their own plain-Python
baseline, which their ratios are against.

Two rows show what `async def` costs: the bracket strategy with its `get_signal` wrapped in
an `async def` twin, and (with `--against DIR`, a checkout of another commit, e.g. made with
`git worktree add DIR <commit>`) the same sync run with that commit's engine, to show that
sync code runs at the same speed. What the always-on performance figures cost is measured
in one process by bench/overhead.py (subprocess rows swing more than that cost).

`--fixed-costs` runs only the fixed costs below (against the baseline's process); with
`--against DIR` each whole-process row also runs DIR's process, in the same alternating rounds.

Fixed costs (after the table): the whole `desk backtest --json` process on a 365-day CSV (the
--candles file, else the demo year written to a temp CSV) with the parse cache warm and cold,
and, with `--rss-days N` (e.g. 1826, five years), the peak RSS of loading an N-day CSV cold
against the size of its candle arrays, split into what the engine's imports, the CSV reader's
libraries and the parse take (with `--against DIR`, also with DIR's engine).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROFILES = ("backtest-kit-1.4.10", "default")


def cache_bytecode(folder: str) -> None:
    """Let every measured child import the project from `.pyc` files, as an installed copy does.

    With PYTHONDONTWRITEBYTECODE set (as on some CI machines) each child would compile the
    project's sources again; children inherit this environment, so they read (and write) their
    bytecode under `folder`, which is filled once here, unmeasured.
    """
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = folder
    argv = [sys.executable, "-m", "compileall", "-q", str(ROOT / "engine"), str(ROOT / "tui")]
    subprocess.run(argv, check=True)


def child(args: argparse.Namespace) -> None:
    """Measure one run in this process and print JSON."""
    started = time.perf_counter()
    sys.path.insert(0, args.root or str(ROOT))
    import engine
    from engine.data.csv_import import load_candles
    from engine.data.store import CandleStore
    from engine.strategies import register_builtin_strategies

    imported = time.perf_counter()
    if args.candles:
        store = CandleStore()
        store.put(args.symbol, load_candles(args.candles).candles)
    else:
        from engine.sim.builtins import shared_demo_store

        store = shared_demo_store()
    timestamps = store.arrays(args.symbol).timestamp
    loaded = time.perf_counter()
    first = datetime.fromtimestamp(int(timestamps[0]) / 1000, tz=UTC)
    end = min(
        first + timedelta(days=args.days) - timedelta(minutes=1),
        datetime.fromtimestamp(int(timestamps[-1]) / 1000, tz=UTC),
    )
    if args.floor:
        import bracket_floor  # bench/bracket_floor.py, beside this script

        run_started = time.perf_counter()
        signals, frames = bracket_floor.floor(store.arrays(args.symbol), args.days)
    elif args.baseline:
        run_started = time.perf_counter()
        if args.strategy == "sma_rsi":
            import sma_rsi_plain  # bench/sma_rsi_plain.py, beside this script

            signals, frames = sma_rsi_plain.baseline(store.arrays(args.symbol), args.days)
        else:
            signals, frames = baseline(store.arrays(args.symbol), args.days)
    else:
        register_builtin_strategies()
        engine.add_exchange(
            exchange_name="bench",
            get_candles=store.get_candles,
            format_price=lambda s, p: f"{p:.2f}",
            format_quantity=lambda s, q: f"{q:.8f}",
        )
        engine.add_frame(frame_name="bench", interval="1m", start_date=first, end_date=end)
        strategy = args.strategy
        if strategy in ("sma_rsi_plain", "sma_rsi_lists"):
            import sma_rsi_plain  # bench/sma_rsi_plain.py, beside this script

            lists = strategy == "sma_rsi_lists"
            engine.add_strategy(sma_rsi_plain.LISTS_SCHEMA if lists else sma_rsi_plain.SCHEMA)
        if args.async_twin:
            from engine.strategies import bracket

            async def twin(symbol: str, when: datetime) -> Any:
                return bracket.get_signal(symbol, when)

            strategy = "bracket-async"
            engine.add_strategy({**bracket.SCHEMA, "strategy_name": strategy, "get_signal": twin})
        if args.returns_none:
            strategy = "returns-none"
            engine.add_strategy(strategy_name=strategy, interval="1m", get_signal=nothing)
        run_started = time.perf_counter()
        results = engine.Backtest.run(
            args.symbol,
            strategy_name=strategy,
            exchange_name="bench",
            frame_name="bench",
            profile=args.profile,
        )
        signals = sum(1 for r in results if r.action == "closed")
        frames = int((end - first).total_seconds() // 60) + 1
    run_time = time.perf_counter() - run_started
    print(
        json.dumps(
            {
                "import": imported - started,
                "load": loaded - imported,
                "run": run_time,
                "signals": signals,
                "frames": frames,
                "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def nothing(symbol: str, when: datetime) -> None:
    """A 1-minute strategy that never signals: what the engine costs per frame."""


def write_demo_csv(path: Path, days: int, symbol: str = "BTCUSDT") -> None:
    """Write `days` of the demo market's one-minute candles from 2024-01-01 as an OHLCV CSV."""
    sys.path.insert(0, str(ROOT))
    from engine.data.demo import DAY_MS, DEMO_START_MS, generate

    candles = generate(symbol, DEMO_START_MS, DEMO_START_MS + days * DAY_MS)
    columns = (candles.timestamp, candles.open, candles.high, candles.low, candles.close)
    with path.open("w") as file:
        file.write("timestamp,open,high,low,close,volume\n")
        rows = zip(*(c.tolist() for c in (*columns, candles.volume)), strict=True)
        file.writelines(
            f"{ts},{o:.2f},{h:.2f},{lo:.2f},{c:.2f},{v:.5f}\n" for ts, o, h, lo, c, v in rows
        )


def peak_rss_mb() -> float:
    """Return this process's peak RSS in MB since its exec (`ru_maxrss` keeps the parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_child(path: str, root: str) -> None:
    """Load `path` with an empty cache and print the peak RSS against the candle arrays.

    The CSV reader (`engine.data.csv_stream` and its library) is imported first (the load
    would import it), so that what its libraries take and what the parse adds are told apart.
    `root` is the checkout whose engine loads it.
    """
    sys.path.insert(0, root)
    from engine.data.csv_import import load_candles

    before = peak_rss_mb()
    started = time.perf_counter()
    import engine.data.csv_stream  # noqa: F401

    imported = time.perf_counter()
    libraries = peak_rss_mb()
    candles = load_candles(path).candles
    load = time.perf_counter() - started
    peak = peak_rss_mb()
    names = ("timestamp", "open", "high", "low", "close", "volume")
    arrays = sum(getattr(candles, name).nbytes for name in names) / 2**20
    print(
        json.dumps(
            {
                "rows": len(candles),
                "load": load,
                "import": imported - started,
                "before_mb": before,
                "libraries_mb": libraries,
                "peak_mb": peak,
                "arrays_mb": arrays,
            }
        )
    )


def write_csv_in_a_child(path: str, days: int, symbol: str) -> None:
    """Write the demo CSV in a child process, so this one's memory stays small."""
    argv = [sys.executable, __file__, "--write-csv", path, "--days", str(days), "--symbol", symbol]
    subprocess.run(argv, check=True)


def desk_process(csv: str, symbol: str, cache: str, root: str) -> dict[str, Any]:
    """Time one whole `desk backtest --json` process (1.4.10 profile) of the checkout `root`.

    The process reads its parse cache from `cache` and runs in `root`, so `-m tui.cli`
    imports that checkout.
    """
    env = {**os.environ, "BACKTEST_DESK_CACHE": cache, "PYTHONPATH": root}
    argv = ["backtest", "--candles", csv, "--symbol", symbol, "--profile", PROFILES[0], "--json"]
    started = time.perf_counter()
    output = subprocess.run(
        [sys.executable, "-m", "tui.cli", *argv], check=True, capture_output=True, env=env, cwd=root
    ).stdout
    elapsed = time.perf_counter() - started
    return {"process": elapsed, "signals": len(json.loads(output)["signals"])}


def fixed_costs(args: argparse.Namespace, base_process: float) -> None:
    """Print the whole-process rows (warm and cold cache) and the cold-load RSS row.

    With `--against DIR` DIR's own process runs in the same alternating rounds.
    """
    roots = {"": str(ROOT)} | ({f" @ {args.against}": args.against} if args.against else {})
    with tempfile.TemporaryDirectory() as folder:
        csv = args.candles
        if not csv:
            csv = str(Path(folder) / "demo-365d.csv")
            write_csv_in_a_child(csv, 365, args.symbol)
        warm = str(Path(folder) / "warm-cache")
        runs: dict[str, list[dict[str, Any]]] = {}
        for at, root in roots.items():
            desk_process(csv, args.symbol, warm, root)  # fills the warm cache (and bytecode)
            runs |= {f"warm{at}": [], f"cold{at}": []}
        for _ in range(args.repeat):  # alternating rounds
            for at, root in roots.items():
                runs[f"warm{at}"].append(desk_process(csv, args.symbol, warm, root))
                with tempfile.TemporaryDirectory() as empty:
                    runs[f"cold{at}"].append(desk_process(csv, args.symbol, empty, root))
        width = max(40, *(len(label) + 30 for label in runs))
        title = f"whole process, {csv}:"
        print(f"\n{title:<{width}}{'process s':>10}{'signals':>9}{'process/base':>14}")
        for label, rows in runs.items():
            best = min(rows, key=lambda r: r["process"])
            print(
                f"{f'desk backtest --json, cache {label}':<{width}}{best['process']:>10.3f}"
                f"{best['signals']:>9}{best['process'] / base_process:>14.2f}"
            )
        if args.rss_days:
            rss_rows(args, Path(folder))


def rss_rows(args: argparse.Namespace, folder: Path) -> None:
    """Print the cold-load peak RSS of an `--rss-days` CSV, also with DIR's engine (`--against`)."""
    big = folder / f"demo-{args.rss_days}d.csv"
    write_csv_in_a_child(str(big), args.rss_days, args.symbol)
    roots = [str(ROOT), *([args.against] if args.against else [])]
    figures: dict[str, list[dict[str, Any]]] = {root: [] for root in roots}
    for _ in range(args.repeat):  # alternating rounds
        for root in roots:
            with tempfile.TemporaryDirectory() as empty:
                env = {**os.environ, "BACKTEST_DESK_CACHE": empty}
                output = subprocess.run(
                    [sys.executable, __file__, "--rss-child", str(big), "--root", root],
                    check=True,
                    capture_output=True,
                    text=True,
                    env=env,
                ).stdout
            figures[root].append(json.loads(output))
    size_mb = big.stat().st_size / 2**20
    for root, runs in figures.items():
        best = min(runs, key=lambda f: f["peak_mb"])
        load = min(f["load"] for f in runs)
        grown = best["peak_mb"] - best["before_mb"]
        parse = best["peak_mb"] - best["libraries_mb"]
        arrays = best["arrays_mb"]
        engine = "" if root == str(ROOT) else f" @ {root}"
        print(
            f"\n{args.rss_days}-day CSV{engine} ({best['rows']:,} rows, {size_mb:.0f} MB), cold "
            f"load {load:.3f} s (importing the CSV reader {best['import']:.3f} s): candle arrays "
            f"{arrays:.0f} MB, process peak RSS {best['peak_mb']:.0f} MB = "
            f"{best['peak_mb'] / arrays:.2f}x the arrays; the load's own growth {grown:.0f} MB "
            f"= {grown / arrays:.2f}x: the CSV reader's libraries "
            f"{best['libraries_mb'] - best['before_mb']:.0f} MB, the parse {parse:.0f} MB = "
            f"{parse / arrays:.2f}x (RSS before the load {best['before_mb']:.0f} MB)"
        )


def baseline(candles: Any, days: int) -> tuple[int, int]:
    """The same bracket trades (1.4.10 rules) as a tuned plain-Python loop over lists."""
    ts = candles.timestamp.tolist()
    high, low, close, vol = (
        candles.high.tolist(),
        candles.low.tolist(),
        candles.close.tolist(),
        candles.volume.tolist(),
    )
    typical = [(h + lo + c) / 3 * v for h, lo, c, v in zip(high, low, close, vol, strict=True)]
    n = min(len(ts), days * 1440)
    i, closed = 0, 0
    while i < n:
        window = range(max(0, i - 4), i + 1)
        volume = sum(vol[j] for j in window)
        price = (
            sum(typical[j] for j in window) / volume
            if volume
            else sum(close[j] for j in window) / len(window)
        )
        long = ts[i] // 3_600_000 % 2 == 0
        tp, sl = (price * 1.01, price * 0.993) if long else (price * 0.99, price * 1.007)
        end = min(i + 120, len(ts))
        exit_at = end - 1
        for j in range(i + 4, end):
            if (high[j] >= tp or low[j] <= sl) if long else (low[j] <= tp or high[j] >= sl):
                exit_at = j
                break
        closed += 1
        i = exit_at + 1
    return closed, n


def frame_cost_rows(root: list[str]) -> list[tuple[str, list[str], bool]]:
    """Return the returns-None rows of both profiles, run with the engine at `root`.

    With `root` (`--root DIR`) the 1.4.10 bracket of that engine too: the before figures.
    """
    at = " @ DIR" if root else ""
    rows = [
        (f"engine {p.removeprefix('backtest-kit-')}, returns None{at}", extra, False)
        for p in PROFILES
        for extra in [["--profile", p, "--returns-none", *root]]
    ]
    if root:
        rows.append((f"engine {PROFILES[0]}{at}", ["--profile", PROFILES[0], *root], False))
    return rows


def measure(extra: list[str], cold: bool = False) -> dict[str, Any]:
    """Run one child and return its figures plus the whole process's wall time.

    `cold` gives the child an empty candle cache, so the CSV is parsed again.
    """
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as empty:
        if cold:
            env["BACKTEST_DESK_CACHE"] = empty
        started = time.perf_counter()
        output = subprocess.run(
            [sys.executable, __file__, "--child", *extra],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        ).stdout
        figures = json.loads(output.strip().splitlines()[-1])
        figures["process"] = time.perf_counter() - started
    return figures


def main() -> None:
    """Run every configuration and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--candles", help="a CSV of one-minute candles (default: demo market)")
    parser.add_argument("--symbol", default="BTCUSDT")
    parser.add_argument("--repeat", type=int, default=3, help="runs per row; the best is shown")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--floor", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--days", type=int, default=365, help=argparse.SUPPRESS)
    parser.add_argument("--profile", default="default", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--async-twin", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--returns-none", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--strategy", default="bracket", help=argparse.SUPPRESS)
    parser.add_argument("--rss-child", help=argparse.SUPPRESS)
    parser.add_argument("--write-csv", help=argparse.SUPPRESS)
    parser.add_argument(
        "--rss-days", type=int, help="also measure the cold-load peak RSS of an N-day CSV"
    )
    parser.add_argument(
        "--against",
        metavar="DIR",
        help="also run the sync bracket, and the whole process, with the engine in DIR",
    )
    parser.add_argument(
        "--fixed-costs",
        action="store_true",
        help="measure only the whole-process rows (and --rss-days), after the baseline",
    )
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if args.rss_child:
        rss_child(args.rss_child, args.root or str(ROOT))
        return
    if args.write_csv:
        write_demo_csv(Path(args.write_csv), args.days, args.symbol)
        return
    bytecode = tempfile.TemporaryDirectory()
    cache_bytecode(bytecode.name)
    source = ["--candles", args.candles] if args.candles else []
    source += ["--symbol", args.symbol]
    print(f"data: {args.candles or 'demo market'} {args.symbol}; best of {args.repeat} runs")
    header = (
        f"{'workload':<40}{'import s':>9}{'load s':>8}{'run s':>8}{'frames/s':>12}"
        f"{'signals':>9}{'RSS MB':>8}{'process s':>10}{'run/base':>9}"
    )
    if args.fixed_costs:
        base = min(measure([*source, "--baseline"])["process"] for _ in range(args.repeat))
        print(f"plain-Python baseline process (365 d): {base:.3f} s")
        fixed_costs(args, base)
        return
    print(header)
    baseline_run: dict[tuple[str, int], float] = {}
    baseline_process: dict[int, float] = {}
    for days in (30, 365):
        rows = [("plain-Python baseline", ["--baseline"], False)]
        rows += [(f"engine {p}", ["--profile", p], False) for p in PROFILES]
        rows.append(("bracket floor, no engine", ["--floor"], False))
        rows.append(("engine default, async get_signal", ["--async-twin"], False))
        rows += frame_cost_rows([])
        sma_rsi = ["--strategy", "sma_rsi"]
        rows.append(("sma_rsi plain-Python baseline", ["--baseline", *sma_rsi], False))
        rows.append(("sma_rsi default, indicator API", sma_rsi, False))
        rows.append(("sma_rsi_plain default, get_candles", ["--strategy", "sma_rsi_plain"], False))
        rows.append(("sma_rsi_lists default, get_candles", ["--strategy", "sma_rsi_lists"], False))
        if args.against:
            rows.append((f"engine default @ {args.against}", ["--root", args.against], False))
            rows += frame_cost_rows(["--root", args.against])
        if args.candles:
            rows.append((f"engine {PROFILES[0]}, cold", ["--profile", PROFILES[0]], True))
        runs: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in rows}
        for _ in range(args.repeat):  # alternating rounds: noise hits every row alike
            for label, extra, cold in rows:
                runs[label].append(measure([*source, "--days", str(days), *extra], cold))
        for label, extra, _ in rows:
            best = min(runs[label], key=lambda r: r["run"])
            best["process"] = min(r["process"] for r in runs[label])
            # sma_rsi rows compare with the sma_rsi baseline, every other row with the bracket's
            kind = "sma_rsi" if "--strategy" in extra else "bracket"
            if "--baseline" in extra:
                baseline_run[(kind, days)] = best["run"]
                if kind == "bracket":
                    baseline_process[days] = best["process"]
            base = baseline_run.get((kind, days))
            ratio = best["run"] / base if base else math.nan
            print(
                f"{f'{days:>3} d {label}':<40}{best['import']:>9.3f}{best['load']:>8.3f}"
                f"{best['run']:>8.3f}{best['frames'] / best['run']:>12,.0f}{best['signals']:>9}"
                f"{best['rss_mb']:>8.0f}{best['process']:>10.3f}{ratio:>9.2f}"
            )
    fixed_costs(args, baseline_process[365])


if __name__ == "__main__":
    main()
