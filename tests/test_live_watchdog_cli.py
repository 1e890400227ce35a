"""`desk live` with misbehaving strategy code, in a real subprocess: a call that never
returns, `sys.exit`, and `print` under `--json`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).parent.parent


def start(tmp_path: Path, body: str, *options: str) -> tuple[subprocess.Popen[str], Path]:
    """Start `desk live` on the demo market with strategy `mine` whose get_signal is `body`."""
    module = tmp_path / "mine.py"
    module.write_text(
        "import sys, time\n"
        "from engine import add_strategy\n"
        "def get_signal(symbol, when):\n"
        f"    {body}\n"
        "add_strategy(strategy_name='mine', interval='1m', get_signal=get_signal)\n"
    )
    err = tmp_path / "stderr.txt"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tui.cli",
            "live",
            "--module",
            str(module),
            "--strategy",
            "mine",
            "--state-dir",
            str(tmp_path / "state"),
            "--json",
            "--no-report",
            *options,
        ],
        stdout=subprocess.PIPE,
        stderr=err.open("w"),
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return process, err


def wait_for(err: Path, text: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while text not in err.read_text():
        assert time.monotonic() < deadline, f"no {text!r} on stderr: {err.read_text()}"
        time.sleep(0.05)


def json_lines(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines()]  # each line must be JSON


def test_sigterm_stops_a_run_whose_strategy_never_returns(tmp_path: Path) -> None:
    process, err = start(tmp_path, "time.sleep(10 ** 6)", "--timeout", "1")
    try:
        wait_for(err, "has not returned within its budget of 1 s")
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        process.kill()
    assert took < 5
    assert process.returncode == 1
    text = err.read_text()
    assert "stuck in get_signal (at mine.py:4 in get_signal)" in text
    assert "the saved state is kept for the next start" in text
    assert "Traceback" not in text
    lines = json_lines(out)
    assert [line["event"] for line in lines] == ["started", "error"]
    assert "stuck in get_signal" in str(lines[1]["message"])


def test_sys_exit_in_a_strategy_is_an_error_with_a_failing_exit(tmp_path: Path) -> None:
    process, err = start(tmp_path, "sys.exit(0)")
    try:
        out, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 1
    assert "error: strategy mine called sys.exit(0) in get_signal" in err.read_text()
    json_lines(out)


def test_what_a_strategy_prints_under_json_goes_to_stderr(tmp_path: Path) -> None:
    process, err = start(tmp_path, "print('hello from the strategy', flush=True)")
    try:
        wait_for(err, "hello from the strategy")
        process.send_signal(signal.SIGTERM)  # no position: the graceful stop ends at once
        out, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err.read_text()
    assert [line["event"] for line in json_lines(out)] == ["started", "stopped"]
    assert "hello from the strategy" not in out


def test_a_negative_timeout_is_refused_with_the_fix(tmp_path: Path) -> None:
    process, err = start(tmp_path, "return None", "--timeout", "-1")
    try:
        out, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 1
    assert "error: --timeout must be a number of seconds >= 0 (0 turns the budget off), was -1" in (
        err.read_text()
    )
    [line] = json_lines(out)
    assert line["event"] == "error" and "--timeout must be" in str(line["message"])
