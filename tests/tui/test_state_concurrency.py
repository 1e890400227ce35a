"""Two desks on one state directory: real processes storing, deleting and locking runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from textual.message import Message

from engine.strategies import register_builtin_strategies
from tui.formatting import fixed_clock
from tui.messages import RunFailed, RunStarted
from tui.run_process import RunProcess
from tui.runs import RunRecord
from tui.state import DeskState, StateLockTimeout

from .test_run_process import STATISTIC_NAMES, request
from .test_state_and_themes import CLOCK, record

RUNS_PER_DESK = 10
CHILD_SECONDS = 60

DESK_SCRIPT = """
import json, sys, time
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock

from tui.formatting import fixed_clock
from tui.runs import RunRecord
from tui.state import DeskState

mode, state_dir, *args = sys.argv[1:]
clock = fixed_clock(datetime(2025, 1, 2, 9, 30, tzinfo=UTC))
if mode == "store":
    record_file, tag, count, ready, go = args
    template = RunRecord.model_validate_json(Path(record_file).read_text(encoding="utf-8"))
    Path(ready).touch()
    deadline = time.monotonic() + 30
    while not Path(go).exists():
        if time.monotonic() > deadline:
            sys.exit("the start signal never came")
        time.sleep(0.005)
    state = DeskState(Path(state_dir), clock)
    ids = []
    for index in range(int(count)):
        signal = template.signals[0]._replace(signal_id=f"{tag}-{index}")
        report = f"# {tag} {index}\\n"
        run = template.model_copy(update={"report": report, "signals": (signal,)})
        ids.append(state.add_run(run).run_id)
    print(json.dumps(ids))
elif mode == "delete":
    DeskState(Path(state_dir), clock).delete_run(int(args[0]))
elif mode == "list":
    print(json.dumps([run.run_id for run in DeskState(Path(state_dir), clock).runs()]))
elif mode == "hold":
    with FileLock(Path(state_dir) / "runs.json.lock"):
        Path(args[0]).touch()
        sys.stdin.read()
"""


def start_desk(tmp_path: Path, *args: object) -> subprocess.Popen[str]:
    """Start a real desk process (the script above) on the given arguments."""
    script = tmp_path / "desk_script.py"
    script.write_text(DESK_SCRIPT, encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, str(script), *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )


def finish(process: subprocess.Popen[str]) -> str:
    """Wait (bounded) for a desk process, assert it exited 0 and return what it printed."""
    try:
        out, err = process.communicate(timeout=CHILD_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"a desk process ran for more than {CHILD_SECONDS} s: {err}")
    assert process.returncode == 0, err
    return out


def wait_for(path: Path) -> None:
    deadline = time.monotonic() + CHILD_SECONDS
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.01)


def tagged(tag: str, index: int) -> RunRecord:
    """The run the desk tagged `tag` stores as its `index`-th (as the script builds it)."""
    template = record()
    signal = template.signals[0]._replace(signal_id=f"{tag}-{index}")
    return template.model_copy(update={"report": f"# {tag} {index}\n", "signals": (signal,)})


def template_file(tmp_path: Path) -> Path:
    """Write the run the desk processes store (with their own tags) and return its path."""
    path = tmp_path / "record.json"
    path.write_text(record().model_dump_json(), encoding="utf-8")
    return path


def test_two_desks_storing_at_once_lose_no_run_and_share_no_id(tmp_path: Path) -> None:
    state_dir, go, template = tmp_path / "state", tmp_path / "go", template_file(tmp_path)
    tags = ("left", "right")
    desks = [
        start_desk(tmp_path, "store", state_dir, template, tag, RUNS_PER_DESK, tmp_path / tag, go)
        for tag in tags
    ]
    for tag in tags:
        wait_for(tmp_path / tag)
    go.touch()  # both open the (new) state and store their runs at the same time
    stored = [json.loads(finish(desk)) for desk in desks]

    state = DeskState(state_dir, CLOCK)
    listed = [run.run_id for run in state.runs()]
    assert len(listed) == 2 * RUNS_PER_DESK
    assert sorted(listed) == sorted(stored[0] + stored[1]) == list(range(1, 2 * RUNS_PER_DESK + 1))
    for tag, ids in zip(tags, stored, strict=True):
        for index, run_id in enumerate(ids):
            assert state.run(run_id) == tagged(tag, index).model_copy(update={"run_id": run_id})
    assert len(list((state_dir / "runs").iterdir())) == 2 * RUNS_PER_DESK
    assert state.notice is None


def test_a_run_one_desk_stores_or_deletes_is_seen_by_the_other(tmp_path: Path) -> None:
    state_dir, go, template = tmp_path / "state", tmp_path / "go", template_file(tmp_path)
    state = DeskState(state_dir, CLOCK)
    first = state.add_run(record())
    assert [run.run_id for run in state.runs()] == [first.run_id]

    go.touch()
    (second,) = json.loads(
        finish(start_desk(tmp_path, "store", state_dir, template, "other", 1, tmp_path / "r", go))
    )
    assert [run.run_id for run in state.runs()] == [second, first.run_id]
    assert state.run(second) == tagged("other", 0).model_copy(update={"run_id": second})

    finish(start_desk(tmp_path, "delete", state_dir, second))
    assert [run.run_id for run in state.runs()] == [first.run_id]
    assert state.run(second) is None
    assert len(list((state_dir / "runs").iterdir())) == 1

    third = state.add_run(record())
    assert third.run_id == second + 1  # a deleted id is never given to another run
    state.delete_run(first.run_id)
    assert json.loads(finish(start_desk(tmp_path, "list", state_dir))) == [third.run_id]


def test_a_lock_held_too_long_fails_with_the_lock_named(tmp_path: Path) -> None:
    state_dir, held = tmp_path / "state", tmp_path / "held"
    state = DeskState(state_dir, CLOCK, lock_timeout=0.5)
    stored = state.add_run(record())
    holder = start_desk(tmp_path, "hold", state_dir, held)
    try:
        wait_for(held)
        lock = re.escape(str(state_dir / "runs.json.lock"))
        started = time.monotonic()
        with pytest.raises(StateLockTimeout, match=f"{lock} was not free within 0.5 s"):
            state.add_run(record())
        assert 0.5 <= time.monotonic() - started < 5
        with pytest.raises(StateLockTimeout, match="Resume or close that desk"):
            DeskState(state_dir, CLOCK, lock_timeout=0.5)
        assert [run.run_id for run in state.runs()] == [stored.run_id]  # reads never wait
    finally:
        finish(holder)  # closes its stdin: it lets go of the lock and exits
    assert state.add_run(record()).run_id == stored.run_id + 1


def test_a_backtest_whose_history_stays_locked_ends_failed_not_stuck(tmp_path: Path) -> None:
    register_builtin_strategies()
    state_dir, held = tmp_path / "state", tmp_path / "held"
    state = DeskState(state_dir, CLOCK, lock_timeout=0.5)
    holder = start_desk(tmp_path, "hold", state_dir, held)
    posted: list[Message] = []
    runs = RunProcess(tmp_path / "dump", STATISTIC_NAMES, fixed_clock(CLOCK()))
    try:
        wait_for(held)
        runs.run(request(), threading.Event(), posted.append, history=state)
    finally:
        runs.close()
        finish(holder)
    assert isinstance(posted[0], RunStarted)
    failed = posted[-1]
    assert isinstance(failed, RunFailed) and failed.title == "StateLockTimeout"
    assert failed.msg.startswith("the run finished but is not in the history")
    assert str(state_dir / "runs.json.lock") in failed.msg
    assert state.runs() == []
