"""Strict recovery: a live start never trusts a state file it cannot read whole and right.

The matrix runs `desk live` (the real CLI) over a state directory with one broken file:
each kind of file (signal, schedule, history, partial, risk, clock, journal) times each corruption
(undecodable bytes, `null`, wrong shape, truncated JSON). Every row must refuse to start
with a message naming the file, move the file aside with its bytes intact, and print no
traceback. One row per kind also runs the CLI in a child process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

import engine
from engine.core.clock import SYSTEM_CLOCK, SimulatedClock
from engine.core.models import SignalRow
from engine.data.demo_live import ClockAnchor, ScaledClock
from engine.persist import StateError, StateLockedError
from engine.sim.live import Live, LiveStart
from engine.sim.live_owner import OWNER_KEYS, lock_path, owner_path, read_owner
from engine.sim.live_state import LiveSession, row_to_dict
from tests.engine.helpers import MIN, SYMBOL, T0, add_exchange, flat, long_dto, series
from tui.cli import main

pytestmark = pytest.mark.usefixtures("clean_engine")
ROOT = Path(__file__).resolve().parents[2]
START = T0 + 10 * MIN
DEMO_SYMBOL, STRATEGY, RISK = "BTCUSDT", "guarded", "guard"
MODULE = f'''
import engine

def refuse(symbol, when):
    raise SystemExit("the start should have been refused before the first tick")

engine.add_risk(risk_name="{RISK}", validations=[lambda params: None])
engine.add_strategy(
    strategy_name="{STRATEGY}", interval="1m", risk_name="{RISK}", get_signal=refuse
)
'''


@pytest.fixture(autouse=True)
def fresh_live() -> Iterator[None]:
    Live.clear()
    yield
    Live.clear()


def demo_signal(**changes: Any) -> dict[str, Any]:
    """Return a valid open signal of the guarded strategy on the demo market."""
    row = SignalRow(
        "sig-1", 42000.0, "long", None, 43000.0, 41000.0, 600, DEMO_SYMBOL, "demo",
        STRATEGY, START, START, False,
    )  # fmt: skip
    return row_to_dict(row) | changes


CLOSED_ENTRY = {
    "action": "closed",
    "signal": demo_signal(),
    "current_price": 43000.0,
    "timestamp": START + MIN,
    "close_timestamp": START + MIN,
    "close_reason": "take_profit",
    "pnl": {"pnl_percentage": 2.0, "price_open": 42000.0, "price_close": 43000.0},
    "ambiguous": False,
}
PARTIAL = {"strategy_name": STRATEGY, "profit_levels": [10], "loss_levels": []}
POSITION = {
    "strategy_name": STRATEGY,
    "symbol": DEMO_SYMBOL,
    "exchange_name": "demo",
    "open_timestamp": START,
}
JOURNAL_ENTRY = {
    "seq": 1,
    "event": "opened",
    "signal": demo_signal(),
    "price": 42000.0,
    "extra": [],
    "delivered": True,
}
ANCHOR = {"wall_ms": START, "sim_ms": START, "speed": 60.0}
WITHOUT_PNL = {k: v for k, v in CLOSED_ENTRY.items() if k not in ("pnl", "close_reason")}
KINDS: dict[str, tuple[str, str, dict[str, Any], dict[str, Any]]] = {
    # kind: (file under the state directory, key, a good value, a value of the wrong shape)
    "signal": (
        f"data/signal/{DEMO_SYMBOL}_{STRATEGY}.json",
        DEMO_SYMBOL,
        demo_signal(),
        demo_signal(position="sideways"),
    ),
    "schedule": (
        f"data/schedule/{DEMO_SYMBOL}_{STRATEGY}.json",
        DEMO_SYMBOL,
        demo_signal(is_scheduled=True, price_open=41500.0),
        demo_signal(is_scheduled=True, price_take_profit="high"),
    ),
    "history": (
        f"data/history/{DEMO_SYMBOL}_{STRATEGY}.json",
        "sig-1:closed",
        CLOSED_ENTRY,
        WITHOUT_PNL,
    ),
    "partial": (
        f"data/partial/{DEMO_SYMBOL}.json",
        "sig-1",
        PARTIAL,
        PARTIAL | {"loss_levels": "ten"},
    ),
    "risk": (
        f"data/risk/{RISK}.json",
        f"{STRATEGY}:{DEMO_SYMBOL}",
        POSITION,
        POSITION | {"open_timestamp": "yesterday"},
    ),
    "clock": ("data/clock.json", f"{DEMO_SYMBOL}_{STRATEGY}", ANCHOR, ANCHOR | {"speed": 0}),
    "journal": (
        f"data/journal/{DEMO_SYMBOL}_{STRATEGY}.json",
        "sig-1:opened",
        JOURNAL_ENTRY,
        JOURNAL_ENTRY | {"event": "bought"},
    ),
}


def tinydb(key: str, value: Any) -> bytes:
    """Return a state file as the TinyDB adapter writes it, holding `value` under `key`."""
    return json.dumps({"values": {"1": {"key": key, "value": value}}}).encode()


CORRUPTIONS: dict[str, Callable[[str, dict[str, Any], dict[str, Any]], bytes]] = {
    "undecodable": lambda key, good, bad: tinydb(key, good).replace(b"{", b"{\xff", 1),
    "null": lambda key, good, bad: b"null",
    "wrong shape": lambda key, good, bad: tinydb(key, bad),
    "truncated": lambda key, good, bad: tinydb(key, good)[: len(tinydb(key, good)) // 2],
}
MATRIX = [(kind, corruption) for kind in KINDS for corruption in CORRUPTIONS]
IN_A_CHILD = [
    ("signal", "undecodable"),
    ("schedule", "null"),
    ("history", "wrong shape"),
    ("partial", "truncated"),
    ("risk", "undecodable"),
    ("clock", "null"),
    ("journal", "wrong shape"),
]


def broken_state(root: Path, kind: str, corruption: str) -> tuple[Path, Path, bytes]:
    """Write the strategy module and one broken state file; return (module, file, bytes)."""
    module = root / "guarded.py"
    module.write_text(MODULE, encoding="utf-8")
    name, key, good, bad = KINDS[kind]
    path = root / "state" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    content = CORRUPTIONS[corruption](key, good, bad)
    path.write_bytes(content)
    return module, path, content


def cli_args(module: Path, state: Path) -> list[str]:
    return [
        "live", "--module", str(module), "--strategy", STRATEGY, "--symbol", DEMO_SYMBOL,
        "--speed", "60", "--state-dir", str(state), "--json", "--no-report",
    ]  # fmt: skip


def assert_quarantined(path: Path, content: bytes, err: str, out: str) -> None:
    """The start was refused for `path`, which was moved aside whole; nothing else moved."""
    assert f"error: state file {path} is corrupt" in err
    assert "Traceback" not in err
    assert '"event": "started"' not in out
    assert not path.exists()
    aside = list(path.parent.glob(f"{path.name}.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == content
    everywhere = list(path.parents[1].rglob("*.corrupt-*")) + list(
        path.parents[2].glob("data/*.corrupt-*")
    )
    assert set(everywhere) == set(aside)


@pytest.mark.parametrize(("kind", "corruption"), MATRIX)
def test_a_broken_state_file_stops_the_start_and_is_set_aside(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, corruption: str
) -> None:
    module, path, content = broken_state(tmp_path, kind, corruption)
    assert main(cli_args(module, tmp_path / "state")) == 1
    captured = capsys.readouterr()
    assert_quarantined(path, content, captured.err, captured.out)


@pytest.mark.parametrize(("kind", "corruption"), IN_A_CHILD)
def test_desk_live_in_a_child_process_reports_the_broken_file_without_a_traceback(
    tmp_path: Path, kind: str, corruption: str
) -> None:
    module, path, content = broken_state(tmp_path, kind, corruption)
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", *cli_args(module, tmp_path / "state")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert_quarantined(path, content, done.stderr, done.stdout)


# ----- what recovery no longer guesses -------------------------------------------------------


def row(signal_id: str, **changes: Any) -> SignalRow:
    base = SignalRow(
        signal_id, 100.0, "long", None, 101.0, 99.0, 600, SYMBOL, "x", "s", START, START, False
    )
    return base._replace(**changes)


def opened_entry(signal: SignalRow) -> dict[str, Any]:
    return {
        "action": "opened",
        "signal": row_to_dict(signal),
        "current_price": signal.price_open,
        "timestamp": signal.pending_at,
    }


def closed_entry(signal: SignalRow, at: int) -> dict[str, Any]:
    pnl = {"pnl_percentage": 0.6, "price_open": 100.0, "price_close": 101.0}
    return opened_entry(signal) | {
        "action": "closed",
        "current_price": 101.0,
        "timestamp": at,
        "close_timestamp": at,
        "close_reason": "take_profit",
        "pnl": pnl,
        "ambiguous": False,
    }


def test_a_cleared_signal_of_an_earlier_version_is_read_as_cleared_when_the_history_agrees(
    tmp_path: Path,
) -> None:
    session = LiveSession(SYMBOL, "s", "x", tmp_path)
    done = row("done")
    session.history.write_value("done:opened", opened_entry(done))
    session.history.write_value("done:closed", closed_entry(done, START + MIN))
    session.signals.write_value(SYMBOL, None)  # how the engine cleared a signal before
    recovered = LiveSession(SYMBOL, "s", "x", tmp_path).recover()
    assert recovered.pending is None
    assert any("cleared signal entry" in note for note in recovered.notes)
    assert not session.signals.has_value(SYMBOL)


def test_a_null_signal_never_hides_a_position_the_history_calls_open(tmp_path: Path) -> None:
    session = LiveSession(SYMBOL, "s", "x", tmp_path)
    session.history.write_value("open-one:opened", opened_entry(row("open-one")))
    session.signals.write_value(SYMBOL, None)
    with pytest.raises(StateError, match="signal open-one as opened and never closed"):
        LiveSession(SYMBOL, "s", "x", tmp_path).recover()
    assert session.history.has_value("open-one:opened")  # nothing was dropped


def test_an_open_signal_is_not_taken_for_closed_because_an_older_one_had_its_id(
    tmp_path: Path,
) -> None:
    session = LiveSession(SYMBOL, "s", "x", tmp_path)
    later = START + 30 * MIN
    first, second = row("same"), row("same", scheduled_at=later, pending_at=later)
    session.history.write_value("same:closed", closed_entry(first, START + 20 * MIN))
    session.history.write_value("same:opened", opened_entry(second))
    session.signals.write_value(SYMBOL, row_to_dict(second))
    with pytest.raises(StateError, match="a different signal with the same id closed"):
        LiveSession(SYMBOL, "s", "x", tmp_path).recover()
    assert session.signals.read_value(SYMBOL) == row_to_dict(second)


def test_a_strategy_reusing_a_signal_id_gets_a_clear_error_and_no_second_position(
    tmp_path: Path, listen: Any
) -> None:
    add_exchange("x", series(T0, [100.0] * 20 + [102.0] * 400))
    engine.add_strategy(
        strategy_name="s",
        interval="1m",
        get_signal=lambda symbol, when: {"id": "same", **long_dto(101.0, 99.0, 600)},
    )
    errors = listen(engine.listen_error)
    cancel = threading.Event()
    listen.add(engine.listen_error(lambda exc: cancel.set()))
    results = list(
        Live.run(
            SYMBOL,
            strategy_name="s",
            exchange_name="x",
            clock=SimulatedClock(START),
            state_dir=tmp_path,
            cancel=cancel,
        )
    )
    assert [(r.action, r.signal.id) for r in results] == [("opened", "same"), ("closed", "same")]
    assert len(errors) == 1
    assert "id 'same', which an earlier signal of s on TESTUSDT already used" in str(errors[0])
    assert "return a new id for every signal" in str(errors[0])
    history = LiveSession(SYMBOL, "s", "x", tmp_path).history
    assert history.keys() == ["same:closed", "same:opened"]


def test_a_file_storing_one_key_twice_is_set_aside_whole(tmp_path: Path) -> None:
    path = tmp_path / "data" / "signal" / f"{SYMBOL}_s.json"
    path.parent.mkdir(parents=True)
    twice = {"1": {"key": SYMBOL, "value": row_to_dict(row("a"))}}
    twice["2"] = {"key": SYMBOL, "value": row_to_dict(row("b"))}
    content = json.dumps({"values": twice}).encode()
    path.write_bytes(content)
    with pytest.raises(StateError, match=f"{SYMBOL}' is stored twice"):
        LiveSession(SYMBOL, "s", "x", tmp_path)
    (aside,) = path.parent.glob("*.corrupt-*")
    assert aside.read_bytes() == content and not path.exists()


# ----- the lock holder owns the clock and says who it is ---------------------------------------


def held_session(tmp_path: Path) -> tuple[threading.Event, threading.Thread, list[LiveStart]]:
    """Run an idle session in a thread on a real-time clock; return (cancel, thread, starts)."""
    add_exchange("x", flat(T0, 100))
    engine.add_strategy(strategy_name="s", interval="1m", get_signal=lambda symbol, when: None)
    cancel, started = threading.Event(), threading.Event()
    starts: list[LiveStart] = []

    def run() -> None:
        clock = ScaledClock(ClockAnchor(SYSTEM_CLOCK.now_ms(), START, 1.0))
        for _ in Live.run(
            SYMBOL,
            strategy_name="s",
            exchange_name="x",
            clock_factory=lambda: clock,
            state_dir=tmp_path,
            cancel=cancel,
            on_start=lambda start: (starts.append(start), started.set()),
        ):
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(30)
    return cancel, thread, starts


def test_a_refused_second_start_never_builds_its_clock(tmp_path: Path) -> None:
    cancel, thread, _ = held_session(tmp_path)
    built: list[str] = []
    try:
        with pytest.raises(StateLockedError, match="another live run of s on TESTUSDT"):
            next(
                Live.run(
                    SYMBOL,
                    strategy_name="s",
                    exchange_name="x",
                    clock_factory=lambda: built.append("clock") or SYSTEM_CLOCK,
                    state_dir=tmp_path,
                )
            )
    finally:
        cancel.set()
        thread.join(10)
    assert built == []


def test_the_lock_holder_writes_its_owner_file_and_removes_it_at_the_end(tmp_path: Path) -> None:
    cancel, thread, starts = held_session(tmp_path)
    try:
        saved = json.loads(owner_path(tmp_path, SYMBOL, "s").read_text(encoding="utf-8"))
        owner = read_owner(tmp_path, SYMBOL, "s")
    finally:
        cancel.set()
        thread.join(10)
    assert sorted(saved) == sorted(OWNER_KEYS)
    assert saved["pid"] == os.getpid() and saved["speed"] == 1.0
    assert (saved["strategy"], saved["symbol"], saved["exchange"]) == ("s", SYMBOL, "x")
    assert owner is not None and owner.pid == os.getpid() and owner.exchange == "x"
    assert 0 < saved["started_at_ms"] <= SYSTEM_CLOCK.now_ms()
    assert starts[0].now_ms >= START
    assert not owner_path(tmp_path, SYMBOL, "s").exists()
    assert read_owner(tmp_path, SYMBOL, "s") is None


def test_a_stale_owner_file_is_not_taken_for_a_running_session(tmp_path: Path) -> None:
    stale = {"pid": 999_999, "started_at_ms": START, "strategy": "s", "symbol": SYMBOL}
    stale |= {"exchange": "x", "speed": None}
    owner_path(tmp_path, SYMBOL, "s").write_text(json.dumps(stale), encoding="utf-8")
    assert read_owner(tmp_path, SYMBOL, "s") is None  # killed: the lock is free
    cancel, thread, _ = held_session(tmp_path)  # the next owner overwrites it
    try:
        owner = read_owner(tmp_path, SYMBOL, "s")
    finally:
        cancel.set()
        thread.join(10)
    assert owner is not None and owner.pid == os.getpid()


def test_a_start_waits_an_instant_for_a_reader_holding_the_lock(tmp_path: Path) -> None:
    reader = FileLock(str(lock_path(tmp_path, SYMBOL, "s")), timeout=0, thread_local=False)
    reader.acquire()  # what read_owner does for an instant, here for 0.3 s
    threading.Timer(0.3, reader.release).start()
    cancel, thread, starts = held_session(tmp_path)
    cancel.set()
    thread.join(10)
    assert len(starts) == 1 and not reader.is_locked


@pytest.mark.parametrize(
    "content",
    ["", "null", "{broken", '{"pid": 1}', '{"pid": "1", "started_at_ms": 1, "strategy": "s", '
     '"symbol": "TESTUSDT", "exchange": "x", "speed": null}'],
    ids=["empty", "null", "truncated", "missing keys", "pid not a number"],
)  # fmt: skip
def test_an_unreadable_owner_file_reads_as_no_owner(tmp_path: Path, content: str) -> None:
    cancel, thread, _ = held_session(tmp_path)
    try:
        owner_path(tmp_path, SYMBOL, "s").write_text(content, encoding="utf-8")
        owner = read_owner(tmp_path, SYMBOL, "s")
    finally:
        cancel.set()
        thread.join(10)
    assert owner is None
