"""The per-signal fast path: its shortcuts give exactly what the plain rules give."""

from __future__ import annotations

import itertools
import math
import random
import uuid
from typing import Any

import numpy as np
import pytest

import engine
from engine.core import validation
from engine.core.clock import SYSTEM_CLOCK
from engine.core.config import snapshot
from engine.core.models import SignalRow
from engine.core.registration import exchanges, strategies
from engine.core.schemas import StrategyCallbacks
from engine.sim.exchange import ClientExchange
from engine.sim.risk import NoRisk
from engine.sim.strategy import ClientStrategy, new_signal_id
from tests.engine.helpers import (
    MIN,
    SYMBOL,
    T0,
    add_exchange,
    bar,
    flat,
    long_dto,
    once,
    replace_bars,
    run,
    setup,
    vwap,
)

pytestmark = pytest.mark.usefixtures("clean_engine")

PROFILES = ("backtest-kit-1.4.10", "default")


def full_rules(row: SignalRow, price: Any, scheduled: bool, profile: str) -> list[str]:
    """Every rule `row` breaks, checked one by one (the quick check switched off)."""
    patcher = pytest.MonkeyPatch()
    patcher.setattr(validation, "quick_valid", lambda *args: False)
    try:
        return validation.signal_errors(row, price, scheduled, snapshot(profile))
    finally:
        patcher.undo()


def rows() -> list[tuple[SignalRow, Any, bool]]:
    """Signal rows around every rule's edge, each with a current price and its schedule flag."""
    out = []
    numbers: list[Any] = [100.0, 100, 0.0, -1.0, math.nan, math.inf, True, "100", None]
    positions: list[Any] = ["long", "short", "flat", None]
    lifetimes: list[Any] = [120, 120.0, 120.5, 0, 1441, True]
    for position, opened, move, price in itertools.product(
        positions, numbers, [0.0005, 0.01, 0.25], numbers
    ):
        if not isinstance(opened, float) or opened <= 0 or not math.isfinite(opened):
            tp = sl = 100.0
        else:
            up, down = opened * (1 + move), opened * (1 - move)
            tp, sl = (up, down) if position == "long" else (down, up)
        for minutes, scheduled in itertools.product(lifetimes, [0, 1]):
            signal = SignalRow(
                "id", opened, position, None, tp, sl, minutes, SYMBOL, "x", "s", T0, T0, False
            )
            out.append((signal, price, bool(scheduled)))
    out.append(
        (
            SignalRow("", 100.0, "long", None, 101.0, 99.0, 60, SYMBOL, "x", "s", T0, T0, False),
            100.0,
            False,
        )
    )
    out.append(
        (
            SignalRow("id", 100.0, "long", None, 101.0, 99.0, 60, SYMBOL, "x", "s", 0, T0, False),
            100.0,
            False,
        )
    )
    out.append(
        (
            SignalRow("id", 100.0, "short", None, 99.0, 101.0, 60, SYMBOL, "x", "s", T0, T0, False),
            102.0,
            False,
        )
    )
    return out


@pytest.mark.parametrize("profile", PROFILES)
def test_the_quick_check_passes_only_rows_that_break_no_rule(profile: str) -> None:
    settings = snapshot(profile)
    for row, price, scheduled in rows():
        if validation.quick_valid(row, price, scheduled, settings):
            assert full_rules(row, price, scheduled, profile) == [], row
    typical = SignalRow(
        "id", 100.0, "long", None, 101.0, 99.3, 120, SYMBOL, "x", "s", T0, T0, False
    )
    assert validation.quick_valid(typical, 100.0, False, settings)  # the common case is quick


def random_walk(count: int, seed: int) -> list[tuple[int, float, float, float, float, float]]:
    """One-minute candles of a seeded random walk, with wicks and some zero volumes."""
    rng = np.random.default_rng(seed)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.004, count)))
    wicks = np.abs(rng.normal(0, 0.003, (2, count))) * closes
    volumes = np.where(rng.random(count) < 0.1, 0.0, rng.random(count) * 5)
    return [
        (T0 + i * MIN, c, c + wicks[0, i], c - wicks[1, i], c, v)
        for i, (c, v) in enumerate(zip(closes.tolist(), volumes.tolist(), strict=True))
    ]


class Recorder:
    """Partial callbacks that remember what they were called with."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def callbacks(self) -> StrategyCallbacks:
        def profit(*args: Any) -> None:
            self.calls.append(("profit", *args[2:]))

        def loss(*args: Any) -> None:
            self.calls.append(("loss", *args[2:]))

        return StrategyCallbacks(on_partial_profit=profit, on_partial_loss=loss)


def resolve(profile: str, signal: SignalRow, callbacks: bool, bounded: bool) -> Any:
    """Resolve the open `signal` on the candles after it: the store with bounds, or a slice.

    Returns the closed result and the partial callbacks' calls.
    """
    settings = snapshot(profile)
    exchange = ClientExchange(exchanges.get("x", "test"), settings, SYSTEM_CLOCK)
    schema = strategies.get("s", "test")
    recorder = Recorder()
    if callbacks:
        schema = schema.model_copy(update={"callbacks": recorder.callbacks()})
    strategy = ClientStrategy(schema, exchange, SYMBOL, settings, NoRisk(), backtest=True)
    strategy.pending = signal
    when, need = signal.pending_at, signal.minute_estimated_time
    if bounded:
        candles, lo, hi = exchange.next_candles_span(SYMBOL, "1m", need, when)
        assert 0 < lo < hi < len(candles)  # a window inside the store, not all of it
        result = strategy.backtest(candles, when, lo, hi)
    else:
        result = strategy.backtest(exchange.get_next_candles(SYMBOL, "1m", need, when), when)
    return result, recorder.calls


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("callbacks", [False, True])
def test_a_signal_resolved_on_the_whole_store_equals_it_resolved_on_its_own_slice(
    profile: str, callbacks: bool
) -> None:
    candles = random_walk(3000, seed=15)
    setup(candles, once(), end=T0 + MIN)
    rng = np.random.default_rng(7)
    reasons, called = set(), 0
    for n in range(150):
        at = int(rng.integers(1, 2300))
        price = candles[at][4]
        up, down = (1 + rng.uniform(1e-4, 0.02)) * price, (1 - rng.uniform(1e-4, 0.02)) * price
        position = "long" if n % 2 == 0 else "short"
        tp, sl = (up, down) if position == "long" else (down, up)
        minutes = int(rng.choice([3, 5, 30, 120, 600]))
        when = T0 + at * MIN
        signal = SignalRow(
            f"id{n}", price, position, None, tp, sl, minutes, SYMBOL, "x", "s", when, when, False
        )
        expected = resolve(profile, signal, callbacks, bounded=False)
        assert resolve(profile, signal, callbacks, bounded=True) == expected, signal
        reasons.add((expected[0].close_reason, expected[0].ambiguous))
        called += bool(expected[1])
    # take profit, stop loss and expiry were all exercised, and (default profile) a candle
    # touching both
    assert len(reasons) == (3 if profile == PROFILES[0] else 4), reasons
    assert called > 50 if callbacks else called == 0  # with callbacks, VWAP windows compared


def test_signal_ids_are_uuid4_shaped_and_follow_the_seeded_draws() -> None:
    ids, draws = random.Random(15), random.Random(15)
    for _ in range(2000):
        h = f"{draws.getrandbits(128):032x}"
        signal_id = new_signal_id(ids)
        assert signal_id == f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"
        assert uuid.UUID(signal_id).version == 4


@pytest.mark.parametrize("spike", [None, 300.0])
def test_a_leading_candle_far_away_still_reaches_a_partial_level_in_the_1_4_10_profile(
    listen: Any, spike: float | None
) -> None:
    # The profile checks TP/SL from the 5th candle after the signal only; a spike in the
    # leading ones is no hit, but the VWAP windows of the first checked candles hold it.
    rows = flat(T0 - 10 * MIN, 200)
    if spike is not None:
        rows = replace_bars(rows, bar(T0 + 2 * MIN, 100.0, high=spike))
    levels = listen(engine.listen_partial_profit)
    setup(rows, once(long_dto(105.0, 95.0, minutes=30)), end=T0 + 60 * MIN)
    results = run("s", profile="backtest-kit-1.4.10")
    assert [r.close_reason for r in results] == ["time_expired"]
    if spike is None:
        assert levels == []
        return
    window = [bar(T0 + i * MIN, 100.0, high=spike if i == 2 else None) for i in range(5)]
    assert [(e.level, e.current_price) for e in levels] == [(10, vwap(window))]
    assert vwap(window) == pytest.approx(100 + (spike - 100) / 15)  # 113.3: 13 % up


def raised(fn: Any, *args: Any) -> str | None:
    """The type and message of what `fn(*args)` raises, None if it returns."""
    try:
        fn(*args)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("limit", [1, 2, 5, 9])
@pytest.mark.parametrize("gap", [False, True])
def test_the_price_check_before_get_signal_fails_exactly_where_the_vwap_does(
    profile: str, limit: int, gap: bool
) -> None:
    rows = flat(T0, 12)
    if gap:  # not evenly spaced: the check cannot be a comparison
        rows = rows[:4] + rows[6:]
    add_exchange("x", rows)
    engine.set_config({"CC_AVG_PRICE_CANDLES_COUNT": limit})
    exchange = ClientExchange(exchanges.get("x", "test"), snapshot(profile), SYSTEM_CLOCK)
    outcomes = []
    for when in range(T0 - 20 * MIN, T0 + 30 * MIN, MIN // 4):  # on and between minutes
        expected = raised(exchange.average_price, SYMBOL, when)
        assert raised(exchange.check_average_price, SYMBOL, when) == expected
        outcomes.append(expected is None)
    assert any(outcomes) == (limit > 1 or profile == "default")
    assert not all(outcomes)  # times without candles were checked too
