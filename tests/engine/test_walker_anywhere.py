"""The walker from anywhere a porting user runs it: never an empty ranking without an error.

Each case runs a real script in a child process (a script without a main guard, a thread,
`Walker.background`), prints the ranking and the signals its listeners heard, and is
compared with the same walker on `SerialExecutor`, which runs everything in the caller.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pytest

import engine
from engine.sim.walker import walkers
from engine.strategies import register_builtin_strategies

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("clean_engine")

STRATEGIES = """
import engine
from engine.strategies import bracket

for hours in (1, 2, 3):
    engine.add_strategy(
        {**bracket.SCHEMA, "strategy_name": f"bracket-{hours}h"},
        get_signal=lambda symbol, when, h=hours: (
            bracket.get_signal(symbol, when) if when.hour % h == 0 else None
        ),
    )
"""

WALK = """
import json, sys, threading, time
import engine
import engine.core.loader
from engine.sim.parallel import SerialExecutor
from engine.strategies import register_builtin_strategies

register_builtin_strategies()
{register}
engine.add_walker(
    walker_name="w", exchange_name="demo", frame_name="demo-7d",
    strategies=["bracket-1h", "bracket-2h", "bracket-3h"], metric="total_pnl",
)
warnings = []
engine.set_logger(type("L", (), {{
    "log": lambda self, *a: None, "debug": lambda self, *a: None,
    "info": lambda self, *a: None, "warn": lambda self, t, *a: warnings.append(t),
}})())
heard = []
engine.listen_signal_backtest(
    lambda r: heard.append((r.strategy_name, str(r.action), r.signal.pending_at))
    if r.signal is not None else None
)

def ranking(**kw):
    rows = list(engine.Walker.run("BTCUSDT", walker_name="w", **kw))
    return [(row.strategy_name, row.metric_value) for row in rows]

{how}
heard_before = list(heard)
heard.clear()
serial = ranking(executor=SerialExecutor())
print(json.dumps({{
    "ranking": result, "serial": serial, "heard": heard_before, "serial_heard": heard,
    "warnings": warnings,
}}))
"""

PLAIN = "result = ranking()"
THREAD = """
alive = threading.Thread(target=time.sleep, args=(60,), daemon=True)
alive.start()
result = ranking()
"""
BACKGROUND = """
done = threading.Event()
engine.listen_done_walker(lambda d: done.set())
engine.Walker.background("BTCUSDT", walker_name="w")
assert done.wait(120)
data = engine.Walker.get_data("BTCUSDT", "w")
result = [(r.strategy_name, r.metric_value) for r in data.ranking]
"""


def walk(tmp_path: Path, how: str, *, module: bool, guard: bool) -> dict[str, Any]:
    """Run a walker script (its strategies in a module file or in the script itself)."""
    if module:
        (tmp_path / "strategies.py").write_text(STRATEGIES)
        register = f"engine.core.loader.load_module({str(tmp_path / 'strategies.py')!r})"
    else:
        register = STRATEGIES.replace("import engine\n", "")
    body = WALK.format(register=textwrap.dedent(register), how=textwrap.dedent(how))
    if guard:
        body = "def main():\n" + textwrap.indent(body, "    ")
        body += '\n\nif __name__ == "__main__":\n    main()\n'
    script = tmp_path / "walk.py"
    script.write_text(body)
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def assert_same_as_serial(out: dict[str, Any]) -> None:
    assert len(out["serial"]) == 3, "three strategies ranked"
    assert out["ranking"] == out["serial"]


def test_a_script_without_a_main_guard_ranks_as_serial(tmp_path: Path) -> None:
    out = walk(tmp_path, PLAIN, module=False, guard=False)
    assert_same_as_serial(out)


def test_a_script_without_a_guard_and_a_live_thread_runs_serially_and_says_why(
    tmp_path: Path,
) -> None:
    out = walk(tmp_path, THREAD, module=False, guard=False)
    assert_same_as_serial(out)
    assert any("one by one" in w and "guard" in w for w in out["warnings"]), out["warnings"]


def test_strategies_of_a_module_run_in_worker_processes_beside_a_thread(tmp_path: Path) -> None:
    out = walk(tmp_path, THREAD, module=True, guard=True)
    assert_same_as_serial(out)
    assert not any("one by one" in w for w in out["warnings"]), "a real pool ran"


def test_walker_background_then_get_data(tmp_path: Path) -> None:
    out = walk(tmp_path, BACKGROUND, module=False, guard=False)
    assert sorted(out["ranking"]) == sorted(map(list, out["serial"]))


def test_the_caller_hears_every_signal_of_backtests_run_in_worker_processes(
    tmp_path: Path,
) -> None:
    out = walk(tmp_path, THREAD, module=True, guard=True)
    assert out["serial_heard"], "the serial walker's signals are heard"

    def per_strategy(heard: list[list[Any]]) -> dict[str, list[Any]]:
        grouped: dict[str, list[Any]] = {}
        for strategy, action, at in heard:
            grouped.setdefault(strategy, []).append((action, at))
        return grouped

    assert per_strategy(out["heard"]) == per_strategy(out["serial_heard"])


class BrokenPool(Executor):
    """An executor whose workers died: every future holds `BrokenProcessPool`."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_exception(BrokenProcessPool("a worker process died"))
        return future


def test_a_pool_that_breaks_down_still_ranks_every_strategy(caplog: Any) -> None:
    register_builtin_strategies()
    engine.add_walker(
        walker_name="broken",
        exchange_name="demo",
        frame_name="demo-7d",
        strategies=["bracket", "limit"],
        metric="total_pnl",
    )
    try:
        with caplog.at_level("WARNING", logger="engine"):
            rows = list(engine.Walker.run("BTCUSDT", walker_name="broken", executor=BrokenPool()))
        serial = list(
            engine.Walker.run("BTCUSDT", walker_name="broken", executor=engine.SerialExecutor())
        )
    finally:
        walkers.remove("broken")
    assert [(r.strategy_name, r.metric_value) for r in rows] == [
        (r.strategy_name, r.metric_value) for r in serial
    ]
    assert len(rows) == 2
    assert sum("worker processes stopped" in r.getMessage() for r in caplog.records) == 2
