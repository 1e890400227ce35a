"""`desk live` on a real disk that fills up or turns read-only while a session runs.

The state directory sits on a small tmpfs of its own. Once the run has opened a position,
the test fills the disk (or remounts it read-only); the run must stop with a state error
that names the file and the OS error, and nothing may live only in memory: every signal
the run printed, and every lifecycle callback the strategy got, is in the history on disk.
After the disk is writable again, a restart resumes from what is on disk.

Mounting needs root (or a user namespace); where it is impossible the tests are skipped,
and `tests/engine/test_live_journal.py` covers the same code with an injected full disk.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.crash.crash_live import ROOT, STRATEGY, SYMBOL, live_argv, read_store

ENTITY = f"{SYMBOL}_{STRATEGY}.json"


@contextmanager
def tmpfs(path: Path, size_kb: int) -> Iterator[Path]:
    """Mount a tmpfs of `size_kb` KiB at `path` for the duration (skip where impossible)."""
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


class LiveChild:
    """A real `desk live --json` on the demo market, its JSON lines read as they come."""

    def __init__(self, state: Path, callbacks: Path, stderr: Path) -> None:
        command = live_argv(state, 20000)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "CRASH_CALLBACK_LOG": str(callbacks)}
        self.stderr_path = stderr
        self._stderr = open(stderr, "wb")  # noqa: SIM115 (closed in finish())
        self.proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=self._stderr, env=env, cwd=callbacks.parent
        )

    def lines_until_opened(self, timeout: float) -> list[dict[str, Any]]:
        """Read JSON lines until the first opened signal (or the process ends)."""
        assert self.proc.stdout is not None
        lines: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        for raw in self.proc.stdout:
            lines.append(json.loads(raw))
            if lines[-1].get("event") == "opened" or time.monotonic() > deadline:
                break
        return lines

    def finish(self, timeout: float) -> tuple[int, list[dict[str, Any]], str]:
        """Wait for the exit; return the code, the remaining JSON lines and stderr."""
        out, _ = self.proc.communicate(timeout=timeout)
        self._stderr.close()
        rest = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
        return self.proc.returncode, rest, self.stderr_path.read_text()

    def kill(self) -> None:
        """Stop a child a failed assertion left running."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()


def fill(folder: Path) -> Path:
    """Write a file into `folder` until its disk is full; return the file."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def callbacks_of(log: Path) -> list[dict[str, Any]]:
    """Every lifecycle callback the strategy logged, in order."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def assert_nothing_only_in_memory(
    history: dict[str, Any], printed: list[dict[str, Any]], callbacks: list[dict[str, Any]]
) -> None:
    """Each printed or called-back open and close has its entry in the history on disk."""
    for line in printed:
        if line.get("event") in ("opened", "closed"):
            key = f"{line['result']['signal']['id']}:{line['event']}"
            assert key in history, f"printed {key} is not in the history on disk"
    for call in callbacks:
        if call["callback"] in ("on_open", "on_close"):
            event = "opened" if call["callback"] == "on_open" else "closed"
            assert f"{call['signal_id']}:{event}" in history, f"{call} is not on disk"


def run_until_fault(tmp_path: Path, fault: Any, os_error: str) -> None:
    """Start a live run, inject `fault` once it holds a position, check it failed closed."""
    with tmpfs(tmp_path / "disk", 1024) as disk:
        state, log = disk / "state", tmp_path / "callbacks.jsonl"
        child = LiveChild(state, log, tmp_path / "stderr.txt")
        try:
            printed = child.lines_until_opened(timeout=60)
            assert printed and printed[-1]["event"] == "opened", printed
            undo = fault(disk)
            code, rest, stderr = child.finish(timeout=60)
        finally:
            child.kill()
        assert code == 1, stderr
        assert "state error" in stderr and os_error in stderr, stderr
        assert str(state.resolve()) in stderr, "the message names the state file"
        assert "Traceback" not in stderr, stderr
        assert rest and rest[-1]["event"] == "error", "the JSON stream ends with the error"
        assert rest[-1]["kind"] == "state error", rest[-1]
        undo()
        history = read_store(state / "data" / "history" / ENTITY)
        assert_nothing_only_in_memory(history, printed + rest, callbacks_of(log))
        open_on_disk = read_store(state / "data" / "signal" / ENTITY).get(SYMBOL)

        again = LiveChild(state, log, tmp_path / "stderr-again.txt")
        try:
            resumed = again.lines_until_opened(timeout=60)
            again.proc.terminate()
            again.finish(timeout=60)
        finally:
            again.kill()
        assert resumed, "the restart on a writable disk runs"
        if open_on_disk is not None:
            assert resumed[0]["event"] == "started", resumed[0]
            assert resumed[0]["pending"]["id"] == open_on_disk["id"], "it resumes the position"


def test_a_disk_that_fills_up_stops_the_run_with_nothing_only_in_memory(tmp_path: Path) -> None:
    def full(disk: Path) -> Any:
        filler = fill(disk)
        return filler.unlink

    run_until_fault(tmp_path, full, "No space left on device")


def test_a_disk_that_turns_read_only_stops_the_run_with_nothing_only_in_memory(
    tmp_path: Path,
) -> None:
    def read_only(disk: Path) -> Any:
        # The session lock in the state folder stays open for writing, so only its data
        # folder can turn read-only under the running process: a read-only bind mount,
        # retried while a state write happens to hold a file open.
        data = disk / "state" / "data"
        subprocess.run(["mount", "--bind", str(data), str(data)], check=True)
        for _ in range(200):
            remount = ["mount", "-o", "remount,bind,ro", str(data)]
            if subprocess.run(remount, capture_output=True).returncode == 0:
                break
            time.sleep(0.01)
        else:
            pytest.fail("could not remount the state's data folder read-only")
        return lambda: subprocess.run(["umount", str(data)], check=True)

    run_until_fault(tmp_path, read_only, "Read-only file system")
