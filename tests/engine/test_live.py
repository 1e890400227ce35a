"""The live loop on a simulated clock: VWAP closes, restarts, graceful stop, locks, state."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import engine
from engine.core.clock import SimulatedClock
from engine.core.models import SignalRow
from engine.core.pnl import profit_loss
from engine.persist import StateError, StateLockedError
from engine.sim.live import TICK_TTL_MS, Live, LiveStart
from engine.sim.live_state import LiveSession, row_to_dict
from tests.engine.helpers import MIN, SYMBOL, T0, add_exchange, flat, long_dto, series

pytestmark = pytest.mark.usefixtures("clean_engine")
START = T0 + 10 * MIN


@pytest.fixture(autouse=True)
def fresh_live() -> Iterator[None]:
    Live.clear()
    yield
    Live.clear()


def rising(jump_at: int = 20, minutes: int = 400, high: float = 102.0) -> list:
    return series(T0, [100.0 if m < jump_at else high for m in range(minutes)])


def add_strategy(get_signal: Callable[..., Any], **fields: Any) -> list[int]:
    calls: list[int] = []

    def counted(symbol: str, when: Any) -> Any:
        calls.append(round(when.timestamp() * 1000))
        return get_signal(symbol, when)

    engine.add_strategy(strategy_name="s", interval="1m", get_signal=counted, **fields)
    return calls


def first_only(dto: dict[str, Any]) -> Callable[..., Any]:
    given: list[bool] = []

    def get_signal(symbol: str, when: Any) -> Any:
        if given:
            return None
        given.append(True)
        return dto

    return get_signal


def live(state: Path, start: int = START, **kw: Any) -> Iterator[Any]:
    return Live.run(
        SYMBOL,
        strategy_name="s",
        exchange_name="x",
        clock=SimulatedClock(start),
        state_dir=state,
        **kw,
    )


def stored(state: Path, kind: str, entity: str = f"{SYMBOL}_s") -> dict[str, Any]:
    doc = json.loads((state / "data" / kind / f"{entity}.json").read_text())
    return {d["key"]: d["value"] for d in doc["values"].values()}


def test_thousands_of_ticks_run_in_simulated_time(tmp_path: Path, listen: Any) -> None:
    add_exchange("x", flat(T0, 3100))
    add_strategy(lambda symbol, when: None)
    cancel = threading.Event()
    ticks = listen(engine.listen_signal_live)
    listen.add(engine.listen_signal_live(lambda r: len(ticks) >= 3000 and cancel.set()))
    clock = SimulatedClock(START)
    results = list(
        Live.run(
            SYMBOL,
            strategy_name="s",
            exchange_name="x",
            clock=clock,
            state_dir=tmp_path,
            cancel=cancel,
        )
    )
    assert results == []
    assert len(ticks) == 3000 and {t.action for t in ticks} == {"idle"}
    assert clock.now_ms() == START + 2999 * TICK_TTL_MS


def test_a_long_closes_at_take_profit_when_the_vwap_reaches_it(tmp_path: Path) -> None:
    add_exchange("x", rising())
    calls = add_strategy(first_only(long_dto(101.0, 99.0, 600)))
    stop = threading.Event()
    results = []
    for result in live(tmp_path, stop=stop):
        results.append(result)
        stop.set()
    opened, closed = results
    assert opened.action == "opened" and opened.signal.pending_at == START
    assert opened.signal.price_open == 100.0
    # the 5 candles closed at tick i are minutes 5+i .. 9+i; three at 102 first at i = 13
    assert closed.close_reason == "take_profit" and closed.current_price == 101.0
    assert closed.close_timestamp == START + 13 * TICK_TTL_MS
    assert closed.pnl == profit_loss("long", 100.0, 101.0)
    assert calls == [START]
    assert stored(tmp_path, "signal") == {}  # cleared by removing the key, never by null
    history = stored(tmp_path, "history")
    assert sorted(history) == sorted([f"{opened.signal.id}:opened", f"{opened.signal.id}:closed"])


def test_a_restart_resumes_the_open_signal_with_its_id_prices_and_times(tmp_path: Path) -> None:
    add_exchange("x", rising(jump_at=40))
    calls = add_strategy(first_only(long_dto(101.0, 99.0, 600)))
    first = live(tmp_path)
    opened = next(first)
    first.close()  # the process goes away; the state stays
    assert stored(tmp_path, "signal")[SYMBOL] == row_to_dict(opened.signal)
    starts: list[LiveStart] = []
    stop = threading.Event()
    second = live(tmp_path, start=START + 15 * MIN, on_start=starts.append, stop=stop)
    stop.set()  # graceful: take no new signal, watch the resumed one until it closes
    results = list(second)
    assert starts[0].recovered.pending == opened.signal
    assert [r.action for r in results] == ["closed"]
    assert results[0].signal == opened.signal and results[0].close_reason == "take_profit"
    assert calls == [START]


def test_graceful_stop_watches_the_open_position_until_it_closes(tmp_path: Path) -> None:
    add_exchange("x", rising(jump_at=60))
    started = threading.Event()

    def get_signal(symbol: str, when: Any) -> dict[str, Any]:
        started.wait(10)  # the simulated clock runs as fast as it can: wait for the stopper
        return long_dto(101.0, 99.0, 600)

    calls = add_strategy(get_signal)
    done = threading.Event()
    seen: list[Any] = []
    stopper: list[Any] = []

    def on_signal(result: Any) -> None:
        seen.append(result)
        if result.action == "opened":
            stopper[0]()  # stop right when the position opens, in the engine's own thread

    off = [
        engine.listen_signal_live(on_signal),
        engine.listen_done_live_once(lambda d: d.symbol == SYMBOL, lambda d: done.set()),
    ]
    stopper.append(
        Live.background(
            SYMBOL,
            {"strategyName": "s", "exchangeName": "x"},
            clock=SimulatedClock(START),
            state_dir=tmp_path,
        )
    )
    started.set()
    assert done.wait(10)
    for unsubscribe in off:
        unsubscribe()
    actions = [r.action for r in seen if r.action != "active"]
    assert actions == ["opened", "closed"]
    assert len(calls) == 1
    stats = Live.get_data(SYMBOL, "s")
    assert stats.total_closed == 1 and stats.win_count == 1


def test_graceful_stop_with_no_position_drops_the_scheduled_signal(
    tmp_path: Path, listen: Any
) -> None:
    add_exchange("x", flat(T0, 400))
    add_strategy(lambda symbol, when: long_dto(99.5, 97.0, 600, price_open=99.0))
    stop = threading.Event()
    listen.add(engine.listen_signal_live(lambda r: r.action == "scheduled" and stop.set()))
    assert list(live(tmp_path, stop=stop)) == []
    assert stored(tmp_path, "schedule") == {}


def row(signal_id: str, **changes: Any) -> SignalRow:
    base = SignalRow(
        signal_id, 100.0, "long", None, 101.0, 99.0, 600, SYMBOL, "x", "s", START, START, False
    )
    return base._replace(**changes)


def test_recovery_finishes_what_a_crash_interrupted(tmp_path: Path) -> None:
    session = LiveSession(SYMBOL, "s", "x", tmp_path)
    closed, opened, scheduled = row("closed-one"), row("open-one"), row("sched", is_scheduled=True)
    session.signals.write_value(SYMBOL, row_to_dict(closed))
    pnl = {"pnl_percentage": 0.6, "price_open": 100.0, "price_close": 101.0}
    ended = {"current_price": 101.0, "timestamp": START + MIN, "close_timestamp": START + MIN}
    session.history.write_value(
        "closed-one:closed",
        {"action": "closed", "signal": row_to_dict(closed), "close_reason": "take_profit"}
        | {"pnl": pnl, "ambiguous": False}
        | ended,
    )
    session.schedules.write_value(SYMBOL, row_to_dict(scheduled))
    cancelled = {"action": "cancelled", "signal": row_to_dict(scheduled)} | ended
    session.history.write_value("sched:cancelled", cancelled)
    recovered = LiveSession(SYMBOL, "s", "x", tmp_path).recover()
    assert recovered.pending is None and recovered.scheduled is None
    assert stored(tmp_path, "signal") == {}
    assert stored(tmp_path, "schedule") == {}
    # killed after saving the open signal, before its history entry: the entry is added
    session.signals.write_value(SYMBOL, row_to_dict(opened))
    recovered = LiveSession(SYMBOL, "s", "x", tmp_path).recover()
    assert recovered.pending == opened and len(recovered.notes) == 1
    assert stored(tmp_path, "history")["open-one:opened"]["current_price"] == 100.0


def test_a_saved_signal_of_another_exchange_is_not_taken_over(tmp_path: Path) -> None:
    LiveSession(SYMBOL, "s", "x", tmp_path).signals.write_value(
        SYMBOL, row_to_dict(row("a", exchange_name="binance"))
    )
    with pytest.raises(engine.ConfigError, match="--exchange binance"):
        LiveSession(SYMBOL, "s", "x", tmp_path).recover()


def test_a_second_run_on_the_same_state_is_refused(tmp_path: Path) -> None:
    add_exchange("x", rising(jump_at=300))
    add_strategy(lambda symbol, when: long_dto(101.0, 99.0, 600))
    first = live(tmp_path)
    next(first)
    with pytest.raises(StateLockedError, match="another live run of s on TESTUSDT"):
        next(live(tmp_path))
    first.close()
    other = live(tmp_path / "elsewhere")
    assert next(other).action == "opened"
    other.close()


def test_a_corrupt_state_file_stops_the_run(tmp_path: Path) -> None:
    add_exchange("x", flat(T0, 100))
    add_strategy(lambda symbol, when: None)
    path = tmp_path / "data" / "signal" / f"{SYMBOL}_s.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"values": {"1": {"key": "TESTUSDT", "value": {"id": "a", "pri')
    with pytest.raises(StateError, match="corrupt"):
        next(live(tmp_path))
    assert not path.exists() and len(list(path.parent.glob("*.corrupt-*"))) == 1


def test_partial_levels_fire_once_across_a_restart(tmp_path: Path, listen: Any) -> None:
    prices = [100.0] * 20 + [112.0] * 30 + [123.0] * 200
    add_exchange("x", series(T0, prices))
    add_strategy(first_only(long_dto(150.0, 85.0, 1000)))
    levels = listen(engine.listen_partial_profit)
    cancel = threading.Event()
    listen.add(engine.listen_partial_profit(lambda e: cancel.set()))
    assert [r.action for r in live(tmp_path, cancel=cancel)] == ["opened"]
    assert [e.level for e in levels] == [10]
    signal_id = levels[0].data.id
    saved = stored(tmp_path, "partial", SYMBOL)[signal_id]
    assert saved["profit_levels"] == [10]
    cancel.clear()
    assert list(live(tmp_path, start=T0 + 40 * MIN, cancel=cancel)) == []
    assert [e.level for e in levels] == [10, 20]


def test_risk_positions_are_saved_while_a_signal_is_open(tmp_path: Path) -> None:
    def one_at_a_time(params: Any) -> None:
        if params.active_position_count >= 1:
            raise ValueError("one position at a time")

    engine.add_risk(risk_name="one", validations=[one_at_a_time])
    add_exchange("x", rising(jump_at=40))
    add_strategy(first_only(long_dto(101.0, 99.0, 600)), risk_name="one")
    run = live(tmp_path)
    next(run)
    run.close()
    position = stored(tmp_path, "risk", "one")["s:TESTUSDT"]
    assert position["strategy_name"] == "s" and position["open_timestamp"] == START
    stop = threading.Event()
    stop.set()
    assert [r.action for r in live(tmp_path, start=START + MIN, stop=stop)] == ["closed"]
    assert stored(tmp_path, "risk", "one") == {}
