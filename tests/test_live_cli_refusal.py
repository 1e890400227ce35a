"""A refused `desk live` changes nothing, and the simulated clock belongs to the lock holder.

Every file of the state directory is hashed before and after a refused start: a bad
argument, or a session already running in another process. The running session keeps its
clock: the clock file is byte-identical, and a later start does not go back in time.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import engine
from engine.sim.live_owner import owner_path, read_owner
from tests.engine.helpers import reset_engine
from tui.cli import main
from tui.live_bridge import LiveBridge, LoopChanged, LoopSpec, LoopState

ROOT = Path(__file__).resolve().parents[1]
SYMBOL, STRATEGY = "BTCUSDT", "idle"
IDLE = f"""
import engine

engine.add_strategy(strategy_name="{STRATEGY}", interval="1m", get_signal=lambda s, w: None)
"""
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.fixture(autouse=True)
def clean_registries() -> Any:
    reset_engine()
    yield
    reset_engine()


def fingerprint(folder: Path) -> dict[str, str]:
    """Return every file under `folder` (relative path) with the SHA-256 of its bytes."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def earlier_state(root: Path) -> Path:
    """Return a state directory as an earlier run leaves it: a clock anchor and a history."""
    state = root / "state"
    anchor = {"wall_ms": 1_700_000_000_000, "sim_ms": 1_704_067_200_000, "speed": 60.0}
    clock = {"values": {"1": {"key": f"{SYMBOL}_bracket", "value": anchor}}}
    (state / "data" / "history").mkdir(parents=True)
    (state / "data" / "clock.json").write_text(json.dumps(clock), encoding="utf-8")
    (state / "data" / "history" / f"{SYMBOL}_bracket.json").write_text(
        '{"values": {}}', encoding="utf-8"
    )
    return state


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--speed", "0"], "--speed must be a finite number above 0"),
        (["--speed", "-5"], "--speed must be a finite number above 0"),
        (["--speed", "nan"], "--speed must be a finite number above 0"),
        (["--speed", "inf"], "--speed must be a finite number above 0"),
        (["--symbol", "DOGEUSDT"], "--symbol 'DOGEUSDT' is not traded on the demo market"),
        (["--strategy", "nope"], "strategy nope not found"),
        (["--exchange", "nosuchexchange"], "ccxt has no exchange 'nosuchexchange'"),
    ],
)
def test_a_start_refused_for_its_arguments_leaves_every_state_file_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: list[str], message: str
) -> None:
    state = earlier_state(tmp_path)
    before = fingerprint(state)
    args = ["live", "--state-dir", str(state), "--json", "--no-report", *option]
    assert main(args) == 1
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err
    printed = [json.loads(line) for line in captured.out.splitlines()]
    assert [line["event"] for line in printed] == ["error"], "nothing but the error is printed"
    assert fingerprint(state) == before


def test_speed_zero_in_a_child_process_poisons_nothing(tmp_path: Path) -> None:
    state = earlier_state(tmp_path)
    before = fingerprint(state)
    command = [sys.executable, "-m", "tui.cli", "live", "--speed", "0", "--state-dir", str(state)]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, env=ENV, check=False
    )
    assert done.returncode == 1
    assert "error: --speed must be a finite number above 0" in done.stderr
    assert "Traceback" not in done.stderr
    assert fingerprint(state) == before


class Session:
    """`desk live` of the idle strategy in a child process, its JSON lines read as they come."""

    def __init__(self, root: Path, speed: str) -> None:
        module = root / "idle.py"
        module.write_text(IDLE, encoding="utf-8")
        command = [
            sys.executable, "-m", "tui.cli", "live", "--module", str(module),
            "--strategy", STRATEGY, "--symbol", SYMBOL, "--speed", speed,
            "--state-dir", str(root / "state"), "--json", "--no-report",
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=root
        )

    def started(self) -> dict[str, Any]:
        """Return the `started` line (the session holds its lock and has recovered)."""
        assert self.proc.stdout is not None
        line = json.loads(self.proc.stdout.readline())
        assert line["event"] == "started", line
        return line

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        """Wait for the process; return (exit code, stdout, stderr)."""
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err

    def interrupt(self) -> int:
        """Stop it as Ctrl+C does (graceful: no position is open) and return its exit code."""
        self.proc.send_signal(signal.SIGINT)
        return self.finish()[0]


def test_a_second_start_on_a_running_session_is_refused_and_moves_no_clock(
    tmp_path: Path,
) -> None:
    first = Session(tmp_path, "60")
    try:
        started = first.started()
        state = tmp_path / "state"
        owner = read_owner(state, SYMBOL, STRATEGY)
        assert owner is not None and owner.pid == first.proc.pid and owner.speed == 60.0
        before = fingerprint(state)
        assert "data/clock.json" in before and owner_path(state, SYMBOL, STRATEGY).exists()
        code, out, err = Session(tmp_path, "120").finish()
        assert code == 1 and [json.loads(line)["event"] for line in out.splitlines()] == ["error"]
        assert "another live run of idle on BTCUSDT" in err and "Traceback" not in err
        assert fingerprint(state) == before  # the clock's anchor and the owner file included
    finally:
        assert first.interrupt() == 0
    assert read_owner(state, SYMBOL, STRATEGY) is None
    assert not owner_path(state, SYMBOL, STRATEGY).exists()
    again = Session(tmp_path, "60")
    try:
        assert again.started()["now_ms"] >= started["now_ms"]  # no jump back in time
    finally:
        assert again.interrupt() == 0


def test_the_desk_opened_on_a_running_session_leaves_its_files_and_clock_alone(
    tmp_path: Path,
) -> None:
    engine.add_strategy(strategy_name=STRATEGY, interval="1m", get_signal=lambda s, w: None)
    headless = Session(tmp_path, "60")
    state = tmp_path / "state"
    try:
        headless.started()
        before = fingerprint(state)
        posted: list[Any] = []
        bridge = LiveBridge(posted.append, state)
        bridge.run_loop(LoopSpec(STRATEGY, SYMBOL, "demo", 3600.0), threading.Event())
        assert fingerprint(state) == before  # no clock anchor, no loop book, no owner change
    finally:
        assert headless.interrupt() == 0
    last = [m.snapshot for m in posted if isinstance(m, LoopChanged)][-1]
    assert last.state is LoopState.FAILED and "another live run of idle" in last.detail
