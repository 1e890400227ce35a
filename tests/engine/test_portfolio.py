"""The portfolio backtest: every (strategy, symbol) pair on one simulated clock."""

from __future__ import annotations

import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import engine
from engine import ConfigError, SerialExecutor
from engine.core.loader import load_module
from engine.strategies import bracket, limit
from tests.engine.helpers import reset_engine
from tests.golden import reference as ref


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    reset_engine()
    yield
    reset_engine()
    for name in [n for n in sys.modules if n.startswith("desk_user_")]:
        del sys.modules[name]


def golden_strategy(kind: str, name: str, recorder: ref.Recorder, **fields: Any) -> None:
    engine.add_strategy(
        strategy_name=name,
        interval=ref.INTERVALS[kind],
        get_signal=ref.make_strategy(kind, recorder),
        **fields,
    )


# ----- one pair: exactly Backtest.run -------------------------------------------------------


@pytest.mark.parametrize("profile", ["backtest-kit-1.4.10", "default"])
@pytest.mark.parametrize("kind", ["bracket", "limit", "wide"])
def test_one_pair_gives_exactly_what_backtest_run_gives(kind: str, profile: str) -> None:
    engine.use_profile(profile)
    ref.setup(4320, fast=True)
    recorder = ref.Recorder()
    golden_strategy(kind, kind, recorder)
    names = {"exchange_name": "ref", "frame_name": "ref"}

    alone = [
        ref.result_row(r) for r in engine.Backtest.run(ref.SYMBOL, strategy_name=kind, **names)
    ]
    alone_calls, alone_stats = list(recorder.calls), engine.Backtest.get_data(ref.SYMBOL, kind)
    recorder.calls.clear()
    together = [
        ref.result_row(r) for r in engine.Backtest.run_portfolio([ref.SYMBOL], [kind], **names)
    ]
    stats = engine.Backtest.get_data(ref.SYMBOL, kind)

    assert together == alone
    assert recorder.calls == alone_calls
    assert ref.statistics_dict(stats) == ref.statistics_dict(alone_stats)
    assert [ref.result_row(r) for r in stats.signal_list] == [
        ref.result_row(r) for r in alone_stats.signal_list
    ]
    if profile == "backtest-kit-1.4.10":
        run = ref.golden(f"{kind}-7-4320")["runs"][0]
        assert together == [ref.golden_row(g) for g in run["results"]]
        assert recorder.calls == run["getSignalCalls"]["when"]


# ----- a shared risk profile sees the positions really open ---------------------------------


class RiskLog:
    """Every check of a risk profile that allows at most `limit` open positions."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.allowed: list[tuple[str, int]] = []
        self.rejected: list[tuple[str, int]] = []
        self.open_when_rejected: list[tuple[int, tuple[Any, ...]]] = []

    def validate(self, payload: Any) -> None:
        if payload.active_position_count >= self.limit:
            assert len(payload.active_positions) == payload.active_position_count
            self.open_when_rejected.append((payload.timestamp, payload.active_positions))
            raise ValueError(f"{payload.active_position_count} positions open")

    def on_allowed(self, symbol: str, params: Any) -> None:
        self.allowed.append((params.strategy_name, params.timestamp))

    def on_rejected(self, symbol: str, params: Any) -> None:
        self.rejected.append((params.strategy_name, params.timestamp))


def register_risk(name: str, limit: int) -> RiskLog:
    log = RiskLog(limit)
    engine.add_risk(
        risk_name=name,
        validations=[{"validate": log.validate, "note": f"at most {limit} open"}],
        callbacks={"on_allowed": log.on_allowed, "on_rejected": log.on_rejected},
    )
    return log


def open_at(positions: list[tuple[int, int]], t: int, *, opened_before: bool) -> int:
    """How many positions `[open, close]` are open at `t` (opened strictly before, or by `t`)."""
    return sum(
        1
        for start, close in positions
        if (start < t if opened_before else start <= t) and t <= close
    )


def most_open_at_once(positions: list[tuple[int, int]]) -> int:
    events = sorted([(s, 0) for s, _ in positions] + [(c, 1) for _, c in positions])
    now = worst = 0
    for _, is_close in events:  # at one instant opens come first: intervals include both ends
        now += -1 if is_close else 1
        worst = max(worst, now)
    return worst


def scenario(name: str) -> tuple[list[str], list[str], str, str, int]:
    """Register the exchange, frame and strategies of a scenario; return what to run."""
    if name.startswith("golden"):
        engine.use_profile("backtest-kit-1.4.10" if name.endswith("1.4.10") else "default")
        ref.setup(4320, fast=True)
        recorder = ref.Recorder()
        golden_strategy("bracket", "risk-bracket", recorder, risk_name="shared")
        golden_strategy("limit", "risk-limit", recorder, risk_name="shared")
        return [ref.SYMBOL], ["risk-bracket", "risk-limit"], "ref", "ref", 1
    for module in (bracket, limit):
        engine.add_strategy(
            {**module.SCHEMA, "strategy_name": f"risk-{module.NAME}"}, risk_name="shared"
        )
    return ["BTCUSDT", "ETHUSDT"], ["risk-bracket", "risk-limit"], "demo", "demo-7d", 2


@pytest.mark.parametrize("limit_first", [False, True], ids=["bracket first", "limit first"])
@pytest.mark.parametrize(
    "name",
    ["golden 3 days, backtest-kit-1.4.10", "golden 3 days, default", "demo 7 days, 2 symbols"],
)
def test_a_shared_risk_profile_rejects_exactly_the_signals_that_overlap_open_positions(
    name: str, limit_first: bool
) -> None:
    symbols, strategies, exchange, frame, limit_ = scenario(name)
    if limit_first:
        strategies.reverse()
    log = register_risk("shared", limit_)

    results = list(
        engine.Backtest.run_portfolio(symbols, strategies, exchange_name=exchange, frame_name=frame)
    )

    # The timeline, replayed from the results alone: a position is open from its open time
    # to its close time, both included.
    positions = [(r.signal.pending_at, r.close_timestamp) for r in results if r.action == "closed"]
    assert most_open_at_once(positions) <= limit_
    for strategy, t in log.rejected:
        assert open_at(positions, t, opened_before=False) >= limit_, (strategy, t)
    for strategy, t in log.allowed:
        assert open_at(positions, t, opened_before=True) < limit_, (strategy, t)
    assert log.rejected, "the scenario must make the risk profile reject something"
    traded = {r.strategy_name for r in results if r.action == "closed"}
    assert "risk-bracket" in traded  # a waiting limit entry holds no slot: the bracket opens
    if limit_ > 1:  # with two slots over two symbols both strategies trade
        assert traded == set(strategies)
    assert len(log.allowed) >= 2 * len(positions)  # a check before get_signal and at the open
    # What a rejected signal was shown as open are positions the results show open then.
    closed = {
        (r.strategy_name, r.symbol, r.signal.pending_at): r.close_timestamp
        for r in results
        if r.action == "closed"
    }
    for t, shown in log.open_when_rejected:
        for position in shown:
            key = (position.strategy_name, position.symbol, position.open_timestamp)
            assert key[2] <= t <= closed[key], (t, position)


def test_results_come_in_time_order_and_statistics_are_per_pair() -> None:
    symbols, strategies, exchange, frame, limit_ = scenario("demo 7 days, 2 symbols")
    register_risk("shared", limit_)
    results = list(
        engine.Backtest.run_portfolio(symbols, strategies, exchange_name=exchange, frame_name=frame)
    )
    times = [r.close_timestamp for r in results if r.action in ("closed", "cancelled")]
    assert times == sorted(times)
    for strategy in strategies:
        for symbol in symbols:
            closed = [
                r
                for r in results
                if r.action == "closed" and (r.strategy_name, r.symbol) == (strategy, symbol)
            ]
            stats = engine.Backtest.get_data(symbol, strategy)
            assert stats.total_signals == len(closed) > 0
            assert list(stats.signal_list) == closed


@pytest.mark.parametrize("name", ["golden 3 days, backtest-kit-1.4.10", "golden 3 days, default"])
def test_a_risk_rejection_when_a_limit_entry_is_reached_cancels_it_then(name: str) -> None:
    symbols, strategies, exchange, frame, _ = scenario(name)
    log = register_risk("shared", 1)
    results = list(  # the limit strategy first: it waits for its entry while the bracket trades
        engine.Backtest.run_portfolio(
            symbols, strategies[::-1], exchange_name=exchange, frame_name=frame
        )
    )
    candles = {row[0]: row for row in ref.load_rows(4320)}
    rejected_at = {t for name, t in log.rejected if name == "risk-limit"}
    # While its entry waits the limit strategy asks for no signal, so a rejection at the time
    # it is cancelled is the check at activation: the candle there reached the entry price.
    refused = [r for r in results if r.action == "cancelled" and r.close_timestamp in rejected_at]
    assert refused
    for r in refused:
        _, _, high, low, _, _ = candles[r.close_timestamp]
        reached = (
            low <= r.signal.price_open
            if r.signal.position == "long"
            else high >= r.signal.price_open
        )
        assert reached, r
        assert r.strategy_name == "risk-limit" and r.signal.is_scheduled


# ----- names, stop ------------------------------------------------------------------------


def test_names_are_checked_before_the_run() -> None:
    with pytest.raises(
        ConfigError, match=r"strategy nope not found source=Backtest\.run_portfolio"
    ):
        engine.Backtest.run_portfolio(
            ["BTCUSDT"], ["nope"], exchange_name="demo", frame_name="demo-7d"
        )
    engine.add_strategy(bracket.SCHEMA)
    with pytest.raises(ConfigError, match="symbol given twice: BTCUSDT"):
        engine.Backtest.run_portfolio(
            ["BTCUSDT", "BTCUSDT"], ["bracket"], exchange_name="demo", frame_name="demo-7d"
        )
    with pytest.raises(ConfigError, match="frame demo-1d not found"):
        engine.Backtest.run_portfolio(
            ["BTCUSDT"], ["bracket"], exchange_name="demo", frame_name="demo-1d"
        )


def test_cancel_stops_the_run() -> None:
    engine.add_strategy(bracket.SCHEMA)
    cancel = threading.Event()
    results = engine.Backtest.run_portfolio(
        ["BTCUSDT", "ETHUSDT"],
        ["bracket"],
        exchange_name="demo",
        frame_name="demo-7d",
        executor=SerialExecutor(),
        cancel=cancel,
    )
    first = next(results)
    cancel.set()
    assert list(results) == []
    assert first.action == "closed"


# ----- parallel: groups of pairs linked by risk profiles, on any executor -------------------

USER_MODULE = """
import engine
from engine.strategies import bracket, limit

def one_position(payload):
    if payload.active_position_count >= 1:
        raise ValueError("one position at a time")

engine.add_risk(risk_name="user-one", validations=[one_position])
engine.add_strategy({**bracket.SCHEMA, "strategy_name": "user-bracket"}, risk_name="user-one")
engine.add_strategy({**limit.SCHEMA, "strategy_name": "user-limit"}, risk_name="user-one")
"""


def user_module(folder: Path) -> Path:
    path = folder / "user_strategies.py"
    path.write_text(textwrap.dedent(USER_MODULE))
    load_module(path)
    return path


def test_a_process_pool_gives_exactly_the_serial_results(tmp_path: Path) -> None:
    module = user_module(tmp_path)
    engine.add_strategy(bracket.SCHEMA)  # no risk profile: its pairs are independent groups
    args = (["BTCUSDT", "ETHUSDT"], ["user-bracket", "user-limit", "bracket"])
    names = {"exchange_name": "demo", "frame_name": "demo-7d"}

    serial = list(engine.Backtest.run_portfolio(*args, **names, executor=SerialExecutor()))
    serial_stats = {(s, n): engine.Backtest.get_data(s, n) for s in args[0] for n in args[1]}
    parallel = list(engine.Backtest.run_portfolio(*args, **names, modules=[module]))

    assert parallel == serial
    assert {
        (s, n): engine.Backtest.get_data(s, n) for s in args[0] for n in args[1]
    } == serial_stats
