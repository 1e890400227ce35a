"""Crash test of `desk live`: SIGKILL at random moments, restart, check nothing is lost.

Runs `desk live` on the demo market with a fast simulated clock in a subprocess, kills it
with SIGKILL after a random delay (often in the middle of a state write), restarts it and
checks after every kill and restart:

* every state file parses (no half-written file survives a kill);
* no signal is lost: each opened or closed signal the run printed is in the saved history,
  at most one signal is open, and it is the one in the signal file;
* no signal is duplicated: no signal id is printed as opened (or closed) twice;
* the restarted run resumes the open signal with the same id, prices and times.

Finally a run is stopped with SIGINT (graceful) and must close its position and exit 0.

The strategy (tests/crash/callback_strategy.py, loaded with `--module`) logs every
lifecycle callback it gets. After the last run the log must show that each opened signal
got `on_open` at least once before any `on_close`, each closed signal got `on_close` at
least once, and every duplicate delivery carried the same key and the same prices (the
ones in the saved history). The duplicates are counted and printed.

    python tests/crash/crash_live.py --kills 50
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SYMBOL, STRATEGY = "BTCUSDT", "journaled"
MODULE = Path(__file__).with_name("callback_strategy.py")
CALLBACK_LOG = "callbacks.jsonl"


class CrashTestFailure(AssertionError):
    """An invariant did not hold."""


@dataclass
class Figures:
    kills: int = 0
    kills_during_writes: int = 0
    resumed_open: int = 0
    resumed_scheduled: int = 0
    recovery_fixes: int = 0
    printed: Counter[str] = field(default_factory=Counter)
    opened: int = 0
    closed: int = 0
    callbacks: int = 0
    duplicates: int = 0


def live_argv(state_dir: Path, speed: float) -> list[str]:
    """The `desk live --json` command of the crash tests: the logging strategy, fast clock."""
    return [
        sys.executable,
        "-m",
        "tui.cli",
        "live",
        "--module",
        str(MODULE),
        "--symbol",
        SYMBOL,
        "--strategy",
        STRATEGY,
        "--speed",
        str(speed),
        "--state-dir",
        str(state_dir),
        "--json",
        "--no-report",
    ]


class Child:
    """One `desk live` process whose stdout lines are collected by a thread."""

    def __init__(self, state_dir: Path, speed: float, log: Path) -> None:
        cmd = live_argv(state_dir, speed)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "CRASH_CALLBACK_LOG": str(state_dir.parent / CALLBACK_LOG),
        }
        self.err = open(log, "ab")  # noqa: SIM115 (closed in wait())
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=self.err, env=env, cwd=state_dir.parent
        )
        self.lines: list[dict[str, Any]] = []
        self.started = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.append(json.loads(raw))
            self.started.set()

    def wait(self, timeout: float) -> int:
        code = self.proc.wait(timeout)
        self.reader.join(timeout)
        self.err.close()
        return code


def check(condition: bool, message: str) -> None:
    if not condition:
        raise CrashTestFailure(message)


def read_store(path: Path) -> dict[str, Any]:
    """Parse a TinyDB state file the way a user's tool would; it must be valid."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise CrashTestFailure(f"{path} does not parse after a kill: {exc}") from None
    return {doc["key"]: doc["value"] for doc in data.get("values", {}).values()}


def snapshot(state: Path) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    data = state / "data"
    entity = f"{SYMBOL}_{STRATEGY}.json"
    for folder in ("signal", "schedule", "history", "partial"):
        for leftover in (data / folder).glob("*.corrupt-*"):
            raise CrashTestFailure(f"a state file was found corrupt: {leftover}")
    pending = read_store(data / "signal" / entity).get(SYMBOL)
    read_store(data / "schedule" / entity)
    read_store(data / "partial" / f"{SYMBOL}.json")
    return pending, read_store(data / "history" / entity)


def wait_for_a_write(state: Path, limit: float) -> None:
    """Return as soon as a state write is under way (its temp file exists), or after `limit`."""
    deadline = time.monotonic() + limit
    folders = [state / "data" / kind for kind in ("signal", "schedule", "history", "partial")]
    while time.monotonic() < deadline:
        for folder in folders:
            with os.scandir(folder) as entries:
                if any(e.name.startswith(".tmp-") for e in entries):
                    return


def temp_files(state: Path) -> int:
    return len(list((state / "data").glob("*/.tmp-*")))


def check_history(history: dict[str, Any], pending: dict[str, Any] | None) -> dict | None:
    """Check the saved history against the signal file; return what a restart must resume."""
    opened = {k.split(":")[0]: v for k, v in history.items() if k.endswith(":opened")}
    closed = {k.split(":")[0]: v for k, v in history.items() if k.endswith(":closed")}
    for sid, entry in closed.items():
        check(
            sid in opened or (pending is not None and pending["id"] == sid),
            f"signal {sid} closed but never recorded as opened",
        )
        if sid in opened:
            check(entry["signal"] == opened[sid]["signal"], f"signal {sid} changed while open")
    still_open = set(opened) - set(closed)
    allowed = {pending["id"]} if pending is not None else set()
    check(
        still_open <= allowed,
        f"open signals {sorted(still_open)} are not the saved pending one {sorted(allowed)}",
    )
    if pending is not None and pending["id"] in closed:
        return None  # closed, but killed before the signal file was cleared: recovery finishes
    return pending


def check_printed(lines: list[dict], history: dict[str, Any], seen: Counter[str]) -> None:
    for line in lines:
        if line["event"] not in ("opened", "closed", "cancelled"):
            continue
        result = line["result"]
        key = f"{result['signal']['id']}:{line['event']}"
        seen[key] += 1
        check(seen[key] == 1, f"{key} was printed twice (duplicated across restarts)")
        check(key in history, f"{key} was printed but is not in the saved history (lost)")
        check(history[key]["signal"] == result["signal"], f"{key} saved with other values")


def read_callbacks(path: Path) -> list[dict[str, Any]]:
    """Return the callback log, one call per line (each line is written whole)."""
    if not path.exists():
        return []
    try:
        return [json.loads(line) for line in path.read_text().splitlines()]
    except ValueError as exc:
        raise CrashTestFailure(f"the callback log {path} has a cut line: {exc}") from None


def check_callbacks(calls: list[dict[str, Any]], history: dict[str, Any]) -> int:
    """Check the delivery guarantees on the whole callback log; return the duplicates."""
    opened_first: set[str] = set()
    first_by_key: dict[str, dict[str, Any]] = {}
    for call in calls:
        sid, key = call["signal_id"], call["key"]
        check(key is not None, f"{call['callback']} of {sid} was given no delivery key")
        if call["callback"] == "on_open":
            opened_first.add(sid)
        if call["callback"] == "on_close":
            check(sid in opened_first, f"on_close of {sid} came before any on_open")
        first = first_by_key.setdefault(key, call)
        same = {k: v for k, v in call.items() if k != "redelivery"}
        check(
            same == {k: v for k, v in first.items() if k != "redelivery"},
            f"delivery {key} was given {same} after {first}",
        )
        check(first is call or call["redelivery"], f"duplicate {key} not marked a redelivery")
    delivered = {call["key"] for call in calls}
    for key, entry in history.items():
        sid, _, event = key.rpartition(":")
        if event in ("opened", "closed"):
            check(key in delivered, f"{key} is in the history but its callback never ran")
            price = first_by_key[key]["prices"][0]
            check(price == entry["current_price"], f"{key} delivered at {price}, saved {entry}")
    return len(calls) - len(first_by_key)


def start(state: Path, speed: float, log: Path, expected: dict | None, fig: Figures) -> Child:
    child = Child(state, speed, log)
    if not child.started.wait(60):
        child.proc.kill()
        raise CrashTestFailure(f"desk live did not start; see {log}")
    first = child.lines[0]
    check(first["event"] == "started", f"first line is not 'started': {first}")
    check(
        first["pending"] == expected,
        f"resumed {first['pending']} but the saved open signal was {expected}",
    )
    fig.resumed_open += expected is not None
    fig.resumed_scheduled += first["scheduled"] is not None
    fig.recovery_fixes += len(first["notes"])
    return child


def run(kills: int, seed: int, speed: float, folder: Path, max_wait: float = 1.2) -> Figures:
    rng = random.Random(seed)
    state = folder / "state"
    state.mkdir(parents=True, exist_ok=True)
    log = folder / "stderr.log"
    fig = Figures()
    expected: dict | None = None
    for _ in range(kills):
        child = start(state, speed, log, expected, fig)
        if fig.kills % 2:
            time.sleep(rng.uniform(0.0, max_wait))
        else:
            wait_for_a_write(state, rng.uniform(0.05, max_wait))
        os.kill(child.proc.pid, signal.SIGKILL)
        child.wait(30)
        fig.kills += 1
        fig.kills_during_writes += temp_files(state) > 0
        pending, history = snapshot(state)
        check_printed(child.lines[1:], history, fig.printed)
        expected = check_history(history, pending)
    child = start(state, speed, log, expected, fig)
    time.sleep(0.5)
    child.proc.send_signal(signal.SIGINT)
    code = child.wait(120)
    check(code == 0, f"graceful stop exited with {code}; see {log}")
    check(child.lines[-1]["event"] == "stopped", "the graceful stop did not finish the run")
    pending, history = snapshot(state)
    check_printed(child.lines[1:], history, fig.printed)
    check(pending is None, f"signal {pending} still open after a graceful stop")
    check(check_history(history, None) is None, "history inconsistent after the last run")
    fig.opened = sum(k.endswith(":opened") for k in history)
    fig.closed = sum(k.endswith(":closed") for k in history)
    check(fig.opened == fig.closed, "a signal was opened and never closed")
    calls = read_callbacks(folder / CALLBACK_LOG)
    fig.callbacks = len(calls)
    fig.duplicates = check_callbacks(calls, history)
    return fig


def report(fig: Figures) -> str:
    printed = sum(fig.printed.values())
    return (
        f"kills: {fig.kills} (during a state write: {fig.kills_during_writes}); restarts: "
        f"{fig.kills}; open positions resumed with same id, prices, times: {fig.resumed_open}; "
        f"scheduled resumed: {fig.resumed_scheduled}; recovery fixes: {fig.recovery_fixes}; "
        f"signals opened: {fig.opened}, closed: {fig.closed}; events printed: {printed}; "
        "lost: 0; duplicated: 0; corrupt files: 0; callbacks run: "
        f"{fig.callbacks}, of which duplicate deliveries (same key, same prices): "
        f"{fig.duplicates}; delivery violations: 0"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--speed", type=float, default=20000)
    parser.add_argument("--keep", help="run in this folder and keep it")
    args = parser.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="crash-live-"))
    started = time.perf_counter()
    try:
        fig = run(args.kills, args.seed, args.speed, folder)
    except CrashTestFailure as exc:
        print(f"FAILED (seed {args.seed}, folder {folder}): {exc}")
        return 1
    print(
        f"crash test passed (seed {args.seed}, {time.perf_counter() - started:.0f} s): "
        + report(fig)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
