"""The lifecycle journal of live runs: callbacks in order, keyed, at least once; fail closed."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import engine
from engine.core.clock import SimulatedClock
from engine.persist import (
    PersistJournalAdapter,
    PersistSignalAdapter,
    StateWriteError,
    TinyDBPersist,
)
from engine.persist.adapters import ALL_ADAPTERS
from engine.sim.live import Live
from tests.engine.helpers import MIN, SYMBOL, T0, add_exchange, flat, long_dto, series
from tui.cli import main

pytestmark = pytest.mark.usefixtures("clean_engine")
ROOT = Path(__file__).resolve().parents[2]
START = T0 + 10 * MIN
LIFECYCLE = (
    "on_schedule",
    "on_open",
    "on_partial_profit",
    "on_partial_loss",
    "on_close",
    "on_cancel",
)


@pytest.fixture(autouse=True)
def fresh_live() -> Iterator[None]:
    Live.clear()
    yield
    Live.clear()
    for adapter in ALL_ADAPTERS:
        adapter.reset()


class Recorder:
    """Strategy callbacks that log (callback, key, redelivery, signal id, prices) per call."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.failing: dict[str, int] = {}  # callback -> how many more calls raise
        self.per_tick: list[Any] = []

    def callbacks(self) -> dict[str, Callable[..., None]]:
        hooks = {name: self._lifecycle(name) for name in LIFECYCLE}
        hooks["on_active"] = lambda *args: self.per_tick.append(engine.current_delivery())
        hooks["on_tick"] = lambda *args: self.per_tick.append(engine.current_delivery())
        return hooks

    def _lifecycle(self, name: str) -> Callable[..., None]:
        def hook(symbol: str, signal: Any, price: float, *rest: Any) -> None:
            delivery = engine.current_delivery()
            assert delivery is not None and rest[-1] is False  # live: backtest flag False
            self.calls.append(
                (name, delivery.key, delivery.redelivery, signal.id, price, *rest[:-1])
            )
            if self.failing.get(name, 0) > 0:
                self.failing[name] -= 1
                raise ConnectionError(f"exchange refused the order of {name}")

        return hook

    def names(self) -> list[str]:
        return [call[0] for call in self.calls]


def add_strategy(get_signal: Callable[..., Any], recorder: Recorder | None = None) -> None:
    callbacks = recorder.callbacks() if recorder is not None else None
    engine.add_strategy(
        strategy_name="s", interval="1m", get_signal=get_signal, callbacks=callbacks
    )


def first_only(dto: dict[str, Any]) -> Callable[..., Any]:
    given: list[bool] = []

    def get_signal(symbol: str, when: Any) -> Any:
        if given:
            return None
        given.append(True)
        return dto

    return get_signal


def rising(jump_at: int = 20, minutes: int = 400) -> list:
    return series(T0, [100.0 if m < jump_at else 102.0 for m in range(minutes)])


def live(state: Path, start: int = START, **kw: Any) -> Iterator[Any]:
    return Live.run(
        SYMBOL,
        strategy_name="s",
        exchange_name="x",
        clock=SimulatedClock(start),
        state_dir=state,
        **kw,
    )


def until_closed(state: Path, **kw: Any) -> list[Any]:
    """Run until the first position closes (graceful stop as soon as it opens)."""
    stop = threading.Event()
    results = []
    for result in live(state, stop=stop, **kw):
        results.append(result)
        stop.set()
    return results


def journal(state: Path) -> dict[str, Any]:
    path = state / "data" / "journal" / f"{SYMBOL}_s.json"
    return {d["key"]: d["value"] for d in json.loads(path.read_text())["values"].values()}


def test_open_and_close_are_delivered_once_in_order_with_stable_keys(tmp_path: Path) -> None:
    add_exchange("x", rising())
    recorder = Recorder()
    add_strategy(first_only(long_dto(101.0, 99.0, 600)), recorder)
    opened, closed = until_closed(tmp_path)
    sid = opened.signal.id
    assert recorder.calls == [
        ("on_open", f"{sid}:opened", False, sid, 100.0),
        ("on_close", f"{sid}:closed", False, sid, 101.0),
    ]
    assert closed.current_price == 101.0
    saved = journal(tmp_path)
    assert [saved[k]["delivered"] for k in (f"{sid}:opened", f"{sid}:closed")] == [True, True]
    assert saved[f"{sid}:closed"]["price"] == 101.0
    assert recorder.per_tick and set(recorder.per_tick) == {None}  # per tick: not journaled


def test_schedule_and_cancel_are_journaled_with_the_price_of_the_moment(tmp_path: Path) -> None:
    add_exchange("x", flat(T0, 400))
    recorder = Recorder()
    add_strategy(first_only(long_dto(99.5, 97.0, 600, price_open=99.0)), recorder)
    cancel = threading.Event()
    got = []
    for result in live(tmp_path, cancel=cancel):
        got.append(result)
        cancel.set()
    (cancelled,) = got
    sid = cancelled.signal.id
    assert cancelled.action == "cancelled"
    assert recorder.calls == [
        ("on_schedule", f"{sid}:scheduled", False, sid, 100.0),
        ("on_cancel", f"{sid}:cancelled", False, sid, 100.0),
    ]


def test_each_partial_level_is_delivered_once_live(tmp_path: Path) -> None:
    prices = [100.0] * 20 + [112.0] * 30 + [123.0] * 200
    add_exchange("x", series(T0, prices))
    recorder = Recorder()
    add_strategy(first_only(long_dto(150.0, 85.0, 1000)), recorder)
    cancel = threading.Event()
    listen = engine.listen_partial_profit(lambda e: e.level == 20 and cancel.set())
    try:
        [opened] = list(live(tmp_path, cancel=cancel))
    finally:
        listen()
    sid = opened.signal.id
    partials = [call for call in recorder.calls if call[0] == "on_partial_profit"]
    # the VWAP of the last five candles: all at 112 first reaches 10 %; 4 of 5 at 123 is
    # (4 * 123 + 112) / 5 = 120.8, the first to reach 20 %
    assert [call[1] for call in partials] == [
        f"{sid}:partial_profit:10",
        f"{sid}:partial_profit:20",
    ]
    assert [call[4] for call in partials] == [112.0, pytest.approx(120.8)]
    assert [call[5] for call in partials] == [pytest.approx(12.0), pytest.approx(20.8)]


def test_a_callback_that_raises_is_delivered_again_at_the_next_tick(
    tmp_path: Path, listen: Any
) -> None:
    add_exchange("x", rising())
    recorder = Recorder()
    recorder.failing["on_open"] = 1
    errors = listen(engine.listen_error)
    add_strategy(first_only(long_dto(101.0, 99.0, 600)), recorder)
    opened, _ = until_closed(tmp_path)
    sid = opened.signal.id
    assert recorder.calls == [
        ("on_open", f"{sid}:opened", False, sid, 100.0),
        ("on_open", f"{sid}:opened", True, sid, 100.0),
        ("on_close", f"{sid}:closed", False, sid, 101.0),
    ]
    assert len(errors) == 1 and f"delivery {sid}:opened" in str(errors[0])


def test_on_close_waits_for_on_open_and_both_are_redelivered_after_a_restart(
    tmp_path: Path,
) -> None:
    add_exchange("x", rising())
    recorder = Recorder()
    recorder.failing["on_open"] = 10**6  # the exchange refuses until the restart
    add_strategy(first_only(long_dto(101.0, 99.0, 600)), recorder)
    opened, closed = until_closed(tmp_path)
    sid = opened.signal.id
    assert set(recorder.names()) == {"on_open"}  # on_close never before on_open returned
    assert not journal(tmp_path)[f"{sid}:closed"]["delivered"]
    recorder.failing.clear()
    recorder.calls.clear()
    stop = threading.Event()
    stop.set()
    assert list(live(tmp_path, start=START + 60 * MIN, stop=stop)) == []
    assert recorder.calls == [
        ("on_open", f"{sid}:opened", True, sid, 100.0),
        ("on_close", f"{sid}:closed", True, sid, closed.current_price),
    ]
    assert all(entry["delivered"] for entry in journal(tmp_path).values())


CHILD = """
import os, signal, sys, threading
sys.path.insert(0, {root!r})
import engine
from engine.core.clock import SimulatedClock
from engine.sim.live import Live
from tests.engine.helpers import SYMBOL, T0, MIN, add_exchange, long_dto, series

log = open({log!r}, "a")

def on_open(symbol, sig, price, backtest):
    key = engine.current_delivery().key
    log.write(f"on_open {{key}} {{price!r}}\\n")
    log.flush()
    os.fsync(log.fileno())
    os.kill(os.getpid(), signal.SIGKILL)  # killed inside the callback, before its ack

add_exchange("x", series(T0, [100.0 if m < 20 else 102.0 for m in range(400)]))
engine.add_strategy(
    strategy_name="s", interval="1m", callbacks={{"on_open": on_open}},
    get_signal=lambda symbol, when: long_dto(101.0, 99.0, 600),
)
for _ in Live.run(SYMBOL, strategy_name="s", exchange_name="x",
                  clock=SimulatedClock(T0 + 10 * MIN), state_dir={state!r}):
    pass
"""


def test_a_process_killed_inside_on_open_gets_it_again_with_the_same_key(tmp_path: Path) -> None:
    state, log = tmp_path / "state", tmp_path / "calls.log"
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(CHILD.format(root=str(ROOT), log=str(log), state=str(state))))
    child = subprocess.run([sys.executable, str(script)], capture_output=True, timeout=60)
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    [(_, key, price)] = [line.split() for line in log.read_text().splitlines()]
    add_exchange("x", rising())
    recorder = Recorder()
    add_strategy(lambda symbol, when: None, recorder)
    until_closed(tmp_path / "state")
    sid = key.split(":")[0]
    assert recorder.calls == [
        ("on_open", key, True, sid, float(price)),
        ("on_close", f"{sid}:closed", False, sid, 101.0),
    ]


def no_space(kind_path: str) -> type[TinyDBPersist]:
    """A TinyDB adapter whose writes fail as on a full disk."""

    class FullDisk(TinyDBPersist):
        def write_value(self, key: str, value: Any) -> None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))

    FullDisk.__name__ = f"FullDisk{kind_path}"
    return FullDisk


def test_a_full_disk_opens_nothing_and_stops_with_a_state_error(
    tmp_path: Path, listen: Any
) -> None:
    add_exchange("x", rising())
    recorder = Recorder()
    add_strategy(first_only(long_dto(101.0, 99.0, 600)), recorder)
    errors = listen(engine.listen_error)
    engine.use_persist_signal_adapter(no_space("signal"))
    got: list[Any] = []
    with pytest.raises(StateWriteError) as raised:
        got.extend(live(tmp_path))
    path = tmp_path / "data" / "signal" / f"{SYMBOL}_s.json"
    assert str(path.absolute()) in str(raised.value)
    assert "No space left on device" in str(raised.value)
    assert got == [] and recorder.calls == [] and errors == []
    PersistSignalAdapter.reset()
    stop = threading.Event()
    stop.set()
    assert list(live(tmp_path, stop=stop)) == []  # nothing was open: nothing resumes


def test_a_journal_that_cannot_be_written_delivers_nothing_until_the_restart(
    tmp_path: Path,
) -> None:
    add_exchange("x", rising())
    recorder = Recorder()
    add_strategy(first_only(long_dto(101.0, 99.0, 600)), recorder)
    engine.use_persist_journal_adapter(no_space("journal"))
    got: list[Any] = []
    with pytest.raises(StateWriteError, match="No space left on device"):
        got.extend(live(tmp_path))
    assert got == [] and recorder.calls == []
    PersistJournalAdapter.reset()
    # the signal file was written before the journal failed: on disk the signal is open,
    # so the restart resumes it and delivers its on_open first
    opened_then_closed = until_closed(tmp_path)
    sid = recorder.calls[0][3]
    assert [r.action for r in opened_then_closed] == ["closed"]
    assert recorder.calls == [
        ("on_open", f"{sid}:opened", False, sid, 100.0),
        ("on_close", f"{sid}:closed", False, sid, 101.0),
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_state_folder_opens_nothing(tmp_path: Path, listen: Any) -> None:
    add_exchange("x", rising())
    recorder = Recorder()
    add_strategy(first_only(long_dto(101.0, 99.0, 600)), recorder)
    errors = listen(engine.listen_error)
    folder = tmp_path / "data" / "signal"
    stop = threading.Event()
    stop.set()
    list(live(tmp_path, stop=stop))  # creates the state files, opens nothing
    folder.chmod(0o555)
    got: list[Any] = []
    try:
        with pytest.raises(StateWriteError) as raised:
            got.extend(live(tmp_path))
    finally:
        folder.chmod(0o755)
    assert str(folder) in str(raised.value) and "Permission denied" in str(raised.value)
    assert got == [] and recorder.calls == [] and errors == []


FULL_DISK_MODULE = """
import errno, os
import engine

class FullDisk(engine.TinyDBPersist):
    def write_value(self, key, value):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))

engine.use_persist_signal_adapter(FullDisk)
"""


def test_desk_live_exits_1_with_the_state_error(tmp_path: Path, capsys: Any) -> None:
    module = tmp_path / "full_disk.py"
    module.write_text(FULL_DISK_MODULE)
    state = tmp_path / "state"
    argv = ["live", "--module", str(module), "--state-dir", str(state), "--json", "--no-report"]
    assert main(argv) == 1
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["event"] for line in lines] == ["started", "error"]
    path = state / "data" / "signal" / "BTCUSDT_bracket.json"
    for text in (err, lines[1]["message"]):
        assert str(path.absolute()) in text and "No space left on device" in text
    assert err.startswith("state error: ") and "strategy error" not in err
    assert lines[1]["kind"] == "state error"


def test_a_close_saved_in_the_history_but_not_the_journal_is_delivered_on_restart(
    tmp_path: Path,
) -> None:
    class ClosesFail(TinyDBPersist):
        def write_value(self, key: str, value: Any) -> None:
            if key.endswith(":closed"):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))
            super().write_value(key, value)

    add_exchange("x", rising())
    recorder = Recorder()
    add_strategy(first_only(long_dto(101.0, 99.0, 600)), recorder)
    engine.use_persist_journal_adapter(ClosesFail)
    with pytest.raises(StateWriteError):
        until_closed(tmp_path)
    sid = recorder.calls[0][3]
    assert recorder.names() == ["on_open"]  # the close reached the history, not the journal
    PersistJournalAdapter.reset()
    stop = threading.Event()
    stop.set()
    assert list(live(tmp_path, start=START + 60 * MIN, stop=stop)) == []  # nothing resumed
    assert recorder.calls[1:] == [("on_close", f"{sid}:closed", False, sid, 101.0)]
