"""Trades resolved inside the quiet stretch give what the general loop gives.

With nothing watching (no signal listener, callbacks, risk profile), a market signal is
opened, resolved and closed without leaving the quiet stretch (`resolve_quietly`). Two runs
that are watched give the reference on the same data, strategy and seed: an `on_open`
callback (the stretch hands each signal to the main loop, which opens it) must give the same
results, errors, statistics, heatmap, progress and measurement counts; a signal listener (a
full tick at every frame, throttled ones too) the same but for the frames visited.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest

import engine
from engine.core.config import PROFILES
from engine.core.registration import strategies
from engine.core.schemas import StrategyCallbacks
from engine.sim.strategy import ClientStrategy
from tests.engine.helpers import (
    MIN,
    SYMBOL,
    T0,
    Listeners,
    add_exchange,
    add_frame,
    reset_engine,
)
from tests.engine.test_fast_path import random_walk

pytestmark = pytest.mark.usefixtures("clean_engine")

FRAMES = 2500
FUSED, CALLBACK, LISTENER = "fused", "callback", "listener"
HEARD: list[Any] = []  # what a listener subscribed by get_signal hears
UNSUBSCRIBE: list[Callable[[], None]] = []


@pytest.fixture(autouse=True)
def empty_stores() -> Iterator[None]:
    """No measurement or heatmap trade of another test, before and after."""
    engine.Performance.clear()
    engine.Heat.clear()
    yield
    engine.Performance.clear()
    engine.Heat.clear()


def random_signals(seed: int, on_call: int = 0) -> Callable[[str, datetime], Any]:
    """A get_signal drawing from the time and `seed`: none, market, scheduled or invalid.

    With `on_call`, that call subscribes a performance listener (a measurement watched
    from inside a stretch) into `HEARD`.
    """
    calls = [0]

    def get_signal(symbol: str, when: datetime) -> Any:
        calls[0] += 1
        if calls[0] == on_call:
            UNSUBSCRIBE.append(engine.listen_performance(HEARD.append))
        rng = random.Random(f"{seed}:{when.timestamp()}")
        kind = rng.random()
        if kind < 0.3:
            return None
        price = engine.get_average_price(symbol)
        long = rng.random() < 0.5
        gain, loss = rng.uniform(0.002, 0.02), rng.uniform(0.002, 0.02)
        dto: dict[str, Any] = {
            "position": "long" if long else "short",
            "price_take_profit": price * (1 + gain if long else 1 - gain),
            "price_stop_loss": price * (1 - loss if long else 1 + loss),
            "minute_estimated_time": rng.choice([1, 3, 30, 120]),
        }
        if kind < 0.35:  # the stop on the wrong side: reported, no signal
            dto["price_stop_loss"] = dto["price_take_profit"]
        elif kind < 0.45:  # an entry price not reached yet: scheduled
            dto["price_open"] = price * (0.999 if long else 1.001)
            dto["price_stop_loss"] = dto["price_open"] * (1 - loss if long else 1 + loss)
        elif kind < 0.55:
            dto["note"] = f"note {kind:.3f}"
        return dto

    return get_signal


def replace_strategy(schema: Any) -> None:
    strategies.remove(schema.strategy_name)
    strategies.add(schema)


class Observed:
    """What a run shows: its results, errors, statistics, heatmap, progress and metrics."""

    def __init__(self, profile: str, way: str = FUSED, stop_after: int | None = None) -> None:
        listen = Listeners()
        errors = listen(engine.listen_error)
        progress = listen(engine.listen_backtest_progress)
        if way == LISTENER:
            listen(engine.listen_signal_backtest)
        self.opened: list[str] = []
        strategy = strategies.get("s", "test")
        if way == CALLBACK:
            opened = StrategyCallbacks(on_open=lambda _, row, *rest: self.opened.append(row.id))
            replace_strategy(strategy.model_copy(update={"callbacks": opened}))
        cancel = threading.Event()
        self.results: list[Any] = []
        try:
            for result in engine.Backtest.run(
                SYMBOL,
                strategy_name="s",
                exchange_name="x",
                frame_name="f",
                profile=profile,
                seed=15,
                cancel=cancel,
            ):
                self.results.append(result)
                if len(self.results) == stop_after:
                    cancel.set()
        finally:
            listen.close()
            replace_strategy(strategy)
        self.errors = [str(error) for error in errors]
        self.progress = progress
        self.stats = engine.Backtest.get_data(SYMBOL, "s")
        self.heat = engine.Heat.get_data("s")
        kept = engine.Performance.get_data(SYMBOL, "s").events
        self.metrics = [event.metric_type for event in kept]  # the names, in their order
        engine.Heat.clear()
        engine.Performance.clear()

    def same_as(self, other: Observed, frames: bool = True) -> None:
        """Assert the same outcome; with `frames`, the same frames visited and measured."""
        assert self.results == other.results
        assert self.errors == other.errors
        assert self.stats == other.stats
        assert self.heat == other.heat
        if frames:
            assert self.progress == other.progress
            assert self.metrics == other.metrics


def count_fused(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count the trades `resolve_quietly` resolves (to show the fast path really ran)."""
    counts: Counter[str] = Counter()
    resolve = ClientStrategy.resolve_quietly

    def counted(self: ClientStrategy, *args: Any) -> Any:
        counts["fused"] += 1
        return resolve(self, *args)

    monkeypatch.setattr(ClientStrategy, "resolve_quietly", counted)
    return counts


def register(seed: int, interval: str, on_call: int = 0) -> None:
    add_exchange("x", random_walk(FRAMES + 200, seed))
    add_frame("f", T0 + 10 * MIN, T0 + (FRAMES + 199) * MIN)  # the last trades run out of data
    get_signal = random_signals(seed, on_call)
    engine.add_strategy(strategy_name="s", interval=interval, get_signal=get_signal)


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(("seed", "interval"), [(1, "1m"), (2, "5m"), (3, "1m")])
def test_fused_trades_equal_the_general_loop(
    profile: str, seed: int, interval: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(seed, interval)
    fused = count_fused(monkeypatch)
    called = Observed(profile, CALLBACK)
    ticked = Observed(profile, LISTENER)
    assert fused["fused"] == 0
    quiet = Observed(profile)
    assert fused["fused"] > 50, "the quiet stretch resolved the market signals itself"
    quiet.same_as(called)
    quiet.same_as(ticked, frames=False)
    assert len(called.opened) > fused["fused"]  # the scheduled ones open too
    actions = Counter(result.action for result in quiet.results)
    assert actions["closed"] > 50 and actions["cancelled"] > 0, actions
    assert quiet.errors, "invalid signals were reported"
    assert quiet.metrics.count("backtest_signal") > 50


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("seed", [20, 21, 22])
def test_random_strategies_raise_only_their_own_errors_and_every_close_is_yielded(
    profile: str, seed: int
) -> None:
    register(seed, "1m")
    quiet = Observed(profile)
    closed = [result for result in quiet.results if result.action == "closed"]
    assert len(closed) > 50
    assert engine.Backtest.get_data(SYMBOL, "s").total_signals == len(closed)
    # The only errors are the invalid signals the strategy returns on purpose.
    assert quiet.errors and all("Invalid signal" in error for error in quiet.errors), {
        error.split(" in ")[0] for error in quiet.errors if "Invalid signal" not in error
    }


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("stop_after", [1, 7, 40])
def test_a_run_cancelled_after_a_fused_trade_stops_where_the_general_loop_does(
    profile: str, stop_after: int
) -> None:
    register(4, "1m")
    reference = Observed(profile, CALLBACK, stop_after=stop_after)
    quiet = Observed(profile, stop_after=stop_after)
    assert len(quiet.results) == stop_after
    quiet.same_as(reference)


@pytest.mark.parametrize("profile", PROFILES)
def test_a_listener_subscribed_while_a_trade_is_yielded_hears_the_next_openings(
    profile: str, listen: Listeners
) -> None:
    register(5, "1m")
    plain = Observed(profile)
    heard: list[Any] = []
    results = []
    for result in engine.Backtest.run(
        SYMBOL, strategy_name="s", exchange_name="x", frame_name="f", profile=profile, seed=15
    ):
        results.append(result)
        if len(results) == 3:
            listen.add(engine.listen_signal_backtest(heard.append))
    assert results == plain.results
    opened = [r.signal.id for r in heard if r.action == "opened"]
    scheduled = {r.signal.id for r in heard if r.action == "scheduled"}  # opened unheard
    market = [r.signal.id for r in plain.results[3:] if r.signal.id not in scheduled]
    assert len(opened) > 20 and opened == market


@pytest.mark.parametrize("profile", PROFILES)
def test_a_measurement_listener_subscribed_by_get_signal_hears_what_the_main_loop_sends(
    profile: str,
) -> None:
    heard = []
    for way in (CALLBACK, FUSED):
        register(6, "1m", on_call=300)
        try:
            observed = Observed(profile, way)
        finally:
            for unsubscribe in UNSUBSCRIBE:
                unsubscribe()
            UNSUBSCRIBE.clear()
            engine.Backtest.clear()
            reset_engine()
        heard.append((observed, [event.metric_type for event in HEARD]))
        HEARD.clear()
    (called, called_heard), (quiet, quiet_heard) = heard
    quiet.same_as(called)
    assert quiet_heard == called_heard
    assert quiet_heard.count("backtest_signal") > 20
