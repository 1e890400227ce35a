"""The desk attached, read-only, to a headless `desk live` on its own state directory.

The owner is a real `desk live` subprocess on the demo market with a fast clock. The owner
file (`live-<symbol>_<strategy>.owner.json`) is written by the test once the subprocess holds
its lock, with the subprocess's pid.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Label

from engine.core.models import SignalRow
from engine.data.demo import generate
from engine.sim.live_owner import Owner, owner_path, read_owner
from tui.app import DeskApp, make_app
from tui.formatting import fixed_clock
from tui.live_attach import Attachment
from tui.live_bridge import (
    BOOK_FILE,
    LiveSignalReceived,
    LoopBook,
    LoopChanged,
    LoopSpec,
    LoopState,
    PartialReached,
)
from tui.screens.live import LiveScreen
from tui.screens.live_modals import ConfirmAttachedStopModal
from tui.screenshots import DEMO_MOMENT
from tui.widgets.vim_table import VimTable

ROOT = Path(__file__).resolve().parents[2]
SYMBOL, STRATEGY = "BTCUSDT", "bracket"
KEY = f"{STRATEGY}:{SYMBOL}"
MINUTE_MS = 60_000
SPEED = 1800.0
"""A tick every 33 ms; bracket's positions last at most 120 simulated minutes (4 s)."""


def desk(root: Path) -> DeskApp:
    """Return the desk over the state directory `root/state`."""
    return make_app(
        state_dir=root / "state",
        clock=fixed_clock(DEMO_MOMENT),
        config_dir=root / "themes",
        dump_dir=Path("dump"),
    )


def live_dir(app: DeskApp) -> Path:
    """Return the live state directory the desk's live screen uses."""
    return app.state.path.parent / "live"


class Headless:
    """A real `desk live` subprocess; `started` once it holds its lock."""

    def __init__(self, state_dir: Path) -> None:
        cmd = [sys.executable, "-m", "tui.cli", "live", "--symbol", SYMBOL]
        cmd += ["--strategy", STRATEGY, "--speed", str(SPEED), "--state-dir", str(state_dir)]
        cmd += ["--json", "--no-report"]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
        )
        self.wait_event("started")

    def wait_event(self, event: str) -> dict[str, Any]:
        """Read the subprocess's JSON lines until one tells `event`; return it."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            payload: dict[str, Any] = json.loads(line)
            if payload["event"] == event:
                return payload
        raise AssertionError(f"desk live ended before {event}: {self.proc.stderr}")

    def write_owner(self, state_dir: Path) -> None:
        """Describe the subprocess in the owner file (its own version does not on this branch)."""
        owner = {
            "pid": self.proc.pid,
            "started_at_ms": int(time.time() * 1000),
            "strategy": STRATEGY,
            "symbol": SYMBOL,
            "exchange": "demo",
            "speed": SPEED,
        }
        owner_path(state_dir, SYMBOL, STRATEGY).write_text(json.dumps(owner), encoding="utf-8")

    def end(self) -> None:
        """Stop the subprocess at once if it still runs (SIGKILL after a test failure)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
        self.proc.communicate(timeout=10)


@pytest.fixture
def hold_lock() -> Iterator[Callable[[Path], None]]:
    """Hold the bracket BTCUSDT session lock of a state directory from another process."""
    holders: list[subprocess.Popen[str]] = []

    def hold(state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        lock = state_dir / f"live-{SYMBOL}_{STRATEGY}.lock"
        code = (
            f"import time\nfrom filelock import FileLock\nlock = FileLock({str(lock)!r})\n"
            "lock.acquire()\nprint('held', flush=True)\ntime.sleep(120)"
        )
        holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        holders.append(holder)
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"

    yield hold
    for holder in holders:
        holder.kill()
        holder.wait(timeout=10)


@pytest.fixture
def headless() -> Iterator[Callable[[Path], Headless]]:
    """Start headless `desk live` processes; kill whichever still runs at the end."""
    started: list[Headless] = []

    def start(state_dir: Path) -> Headless:
        started.append(Headless(state_dir))
        return started[-1]

    yield start
    for child in started:
        child.end()


def fingerprint(folder: Path) -> dict[str, str]:
    """Return every file under `folder` with the SHA-256 of its content."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def history_keys(state_dir: Path) -> set[str]:
    """Return the keys of the session's history file (read by the test, not the desk)."""
    path = state_dir / "data" / "history" / f"{SYMBOL}_{STRATEGY}.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return {d["key"] for d in doc["values"].values()}


async def wait_for(pilot: Pilot[None], condition: Callable[[], bool], what: str) -> None:
    """Let the desk run until `condition` holds (10 s at most)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def screen_of(app: Any) -> LiveScreen:
    """Return the installed live screen."""
    screen = app.get_screen("live")
    assert isinstance(screen, LiveScreen)
    return screen


def banner(app: Any) -> str:
    """Return the attached banner's text ('' while hidden)."""
    label = screen_of(app).query_one("#live-banner", Label)
    return str(label.render()) if label.display else ""


def signal_rows(app: Any) -> set[str]:
    """Return the keys of the signal stream's rows (`<loop>:<signal id>:<event>`)."""
    table = screen_of(app).query_one("#live-signals", VimTable)
    return {str(key.value) for key in table.rows}


def loop_state(app: Any) -> LoopState | None:
    """Return the state the live screen shows for the bracket loop."""
    snapshot = screen_of(app).snapshots.get(KEY)
    return snapshot.state if snapshot is not None else None


async def test_attached_desk_shows_new_signals_and_never_writes_the_owners_files(
    tmp_path: Path, headless: Callable[[Path], Headless]
) -> None:
    app = desk(tmp_path)
    state_dir = live_dir(app)
    state_dir.mkdir(parents=True)
    # The desk last ran this loop itself: its book would reconnect it, which must not happen.
    LoopBook(state_dir / BOOK_FILE).write(
        LoopSpec(STRATEGY, SYMBOL, "demo", SPEED), LoopState.RUNNING
    )
    owner = headless(state_dir)
    owner.write_owner(state_dir)
    owner.wait_event("opened")
    pid = owner.proc.pid
    assert read_owner(state_dir, SYMBOL, STRATEGY) is not None
    owner.proc.send_signal(signal.SIGSTOP)  # frozen: every change below would be the desk's
    before = fingerprint(state_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("l")
        await wait_for(pilot, lambda: f"attached to pid {pid}" in banner(app), "the banner")
        await wait_for(pilot, lambda: loop_state(app) is LoopState.ATTACHED, "attached")
        shown_at_attach = signal_rows(app)
        assert f"{KEY}:" in " ".join(shown_at_attach)  # the history so far, with the open
        attached = screen_of(app).snapshots[KEY]
        assert attached.now_ms is not None and attached.prices  # the owner's clock, read
        minute = attached.now_ms - attached.now_ms % MINUTE_MS - MINUTE_MS
        (candle,) = generate(SYMBOL, minute, minute + MINUTE_MS).to_candles()
        assert attached.price == candle.close  # the demo market's last closed minute
        await pilot.pause(1.2)  # at least two more polls
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmAttachedStopModal)
        await pilot.press("n")
        assert fingerprint(state_dir) == before
        assert not screen_of(app).bridge.is_running(LoopSpec(STRATEGY, SYMBOL))

        owner.proc.send_signal(signal.SIGCONT)
        known = history_keys(state_dir)
        await wait_for(pilot, lambda: history_keys(state_dir) - known != set(), "a new signal")
        written_at = time.monotonic()
        new = history_keys(state_dir) - known
        rows = {f"{KEY}:{key}" for key in new}
        await wait_for(pilot, lambda: rows <= signal_rows(app), "the desk to show it")
        assert time.monotonic() - written_at < 2.0

        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmAttachedStopModal)
        await pilot.press("y")
        assert owner.proc.wait(timeout=20) == 0  # SIGINT: desk live's graceful stop
        await wait_for(pilot, lambda: loop_state(app) is LoopState.STOPPED, "stopped")
        assert banner(app) == ""
    book = LoopBook(state_dir / BOOK_FILE).read()
    assert book[KEY][1] is LoopState.RUNNING  # the desk left its book as it was, unwritten


async def test_a_refused_loop_is_never_remembered_as_running(
    tmp_path: Path, hold_lock: Callable[[Path], None]
) -> None:
    app = desk(tmp_path)
    state_dir = live_dir(app)
    hold_lock(state_dir)  # held by another process, with no owner file: nothing to attach to
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("l", "N")
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, lambda: loop_state(app) is LoopState.FAILED, "the refusal")
        detail = screen_of(app).snapshots[KEY].detail
        assert "another live run of bracket on BTCUSDT" in detail
    assert LoopBook(state_dir / BOOK_FILE).to_reconnect() == []
    again = desk(tmp_path)
    async with again.run_test(size=(120, 40)) as pilot:
        await pilot.press("l")
        await pilot.pause(0.3)
        assert KEY not in screen_of(again).snapshots  # nothing auto-started


def write_store(path: Path, values: dict[str, Any]) -> None:
    """Write a state file the way the TinyDB adapter lays it out."""
    path.parent.mkdir(parents=True, exist_ok=True)
    docs = {str(i): {"key": k, "value": v} for i, (k, v) in enumerate(values.items(), 1)}
    path.write_text(json.dumps({"values": docs}), encoding="utf-8")


def signal_row(signal_id: str) -> dict[str, Any]:
    """Return a stored long signal of bracket on BTCUSDT."""
    fields: dict[str, Any] = dict.fromkeys(SignalRow._fields, 0)
    fields.update(
        id=signal_id,
        position="long",
        symbol=SYMBOL,
        strategy_name=STRATEGY,
        exchange_name="demo",
        price_open=100.0,
        price_take_profit=110.0,
        price_stop_loss=95.0,
        pending_at=T_OPEN,
        scheduled_at=T_OPEN,
        note=None,
    )
    return fields


T_OPEN = 1_704_067_200_000


def test_an_attachment_turns_state_files_into_messages_once(
    tmp_path: Path, hold_lock: Callable[[Path], None]
) -> None:
    hold_lock(tmp_path)
    owner = Owner(4242, T_OPEN, STRATEGY, SYMBOL, "demo", 60.0)
    owner_path(tmp_path, SYMBOL, STRATEGY).write_text(json.dumps(asdict(owner)), encoding="utf-8")
    assert read_owner(tmp_path, SYMBOL, STRATEGY) == owner
    entity = f"{SYMBOL}_{STRATEGY}"
    opened = {"action": "opened", "signal": signal_row("s1"), "current_price": 100.0}
    opened["timestamp"] = T_OPEN
    write_store(tmp_path / "data/history" / f"{entity}.json", {"s1:opened": opened})
    write_store(tmp_path / "data/signal" / f"{entity}.json", {SYMBOL: signal_row("s1")})
    levels = {"strategy_name": STRATEGY, "profit_levels": [10], "loss_levels": []}
    write_store(tmp_path / "data/partial" / f"{SYMBOL}.json", {"s1": levels})
    attachment = Attachment(owner, tmp_path)
    first = attachment.poll()
    kinds = [type(m).__name__ for m in first]
    assert kinds == ["LiveSignalReceived", "PartialReached", "LoopChanged"]
    signal_message, partial, changed = first
    assert isinstance(signal_message, LiveSignalReceived)
    assert (signal_message.view.signal_id, signal_message.at_ms) == ("s1", T_OPEN)
    assert isinstance(partial, PartialReached) and (partial.kind, partial.level) == ("profit", 10)
    assert isinstance(changed, LoopChanged)
    snapshot = changed.snapshot
    assert snapshot.state is LoopState.ATTACHED and snapshot.detail == "pid 4242, read-only"
    assert snapshot.position is not None and snapshot.position.price_take_profit == 110.0
    assert attachment.poll() == []  # nothing new: nothing told twice
    closed_at = T_OPEN + 30 * 60_000
    closed = {
        "action": "closed",
        "signal": signal_row("s1"),
        "current_price": 110.0,
        "timestamp": closed_at,
        "close_timestamp": closed_at,
        "close_reason": "take_profit",
        "pnl": {"pnl_percentage": 9.6, "price_open": 100.0, "price_close": 110.0},
    }
    write_store(
        tmp_path / "data/history" / f"{entity}.json",
        {"s1:opened": opened, "s1:closed": closed},
    )
    write_store(tmp_path / "data/signal" / f"{entity}.json", {SYMBOL: None})
    second = attachment.poll()
    assert [type(m).__name__ for m in second] == ["LiveSignalReceived", "LoopChanged"]
    assert isinstance(second[0], LiveSignalReceived) and second[0].view.pnl_percentage == 9.6
    assert isinstance(second[1], LoopChanged) and second[1].snapshot.position is None


async def test_an_owner_file_left_by_a_dead_process_is_not_attached(tmp_path: Path) -> None:
    app = desk(tmp_path)
    state_dir = live_dir(app)
    state_dir.mkdir(parents=True)
    (state_dir / f"live-{SYMBOL}_{STRATEGY}.lock").touch()  # no process holds it
    stale = {"pid": 1, "started_at_ms": 0, "strategy": STRATEGY, "symbol": SYMBOL}
    owner_path(state_dir, SYMBOL, STRATEGY).write_text(
        json.dumps(stale | {"exchange": "demo", "speed": None}), encoding="utf-8"
    )
    assert read_owner(state_dir, SYMBOL, STRATEGY) is None
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("l")
        await pilot.pause(0.7)
        assert banner(app) == "" and screen_of(app).attached == {}
