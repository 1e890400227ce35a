"""The default profile versus backtest-kit-1.4.10, hand-computed (docs/semantics.md#profiles)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

import engine
from engine import EngineError
from tests.engine.helpers import (
    MIN,
    SYMBOL,
    T0,
    add_frame,
    bar,
    flat,
    long_dto,
    ms,
    once,
    replace_bars,
    run,
    setup,
    short_dto,
    user_get_candles,
    vwap,
)

pytestmark = pytest.mark.usefixtures("clean_engine")

DEFAULT = "default"
LEGACY = "backtest-kit-1.4.10"
FLAT = flat(T0 - 10 * MIN, 300)  # price 100, volume 1: VWAP 100 everywhere


def one_result(rows: list, dto: dict[str, Any], profile: str) -> Any:
    setup(rows, once(dto))
    results = run("s", profile=profile)
    assert len(results) == 1, results
    return results[0]


# ----- TP and SL inside one candle ------------------------------------------------------------


def test_same_candle_long_stop_loss_wins_and_is_ambiguous() -> None:
    rows = replace_bars(FLAT, bar(T0 + 6 * MIN, 100, high=102, low=98))
    r = one_result(rows, long_dto(tp=101, sl=99), DEFAULT)
    assert (r.action, r.close_reason, r.current_price) == ("closed", "stop_loss", 99)
    assert r.close_timestamp == T0 + 6 * MIN
    assert r.ambiguous is True
    assert r.pnl.price_close == 99
    stats = engine.Backtest.get_data(SYMBOL, "s")
    assert stats.ambiguous_closes == 1
    assert stats.loss_count == 1


def test_same_candle_short_stop_loss_wins_and_is_ambiguous() -> None:
    rows = replace_bars(FLAT, bar(T0 + 6 * MIN, 100, high=102, low=98))
    r = one_result(rows, short_dto(tp=99, sl=101), DEFAULT)
    assert (r.close_reason, r.current_price, r.ambiguous) == ("stop_loss", 101, True)
    assert engine.Backtest.get_data(SYMBOL, "s").ambiguous_closes == 1


def test_same_candle_take_profit_wins_in_1_4_10() -> None:
    rows = replace_bars(FLAT, bar(T0 + 6 * MIN, 100, high=102, low=98))
    r = one_result(rows, long_dto(tp=101, sl=99), LEGACY)
    assert (r.close_reason, r.current_price) == ("take_profit", 101)
    assert r.close_timestamp == T0 + 6 * MIN
    assert r.ambiguous is False
    assert engine.Backtest.get_data(SYMBOL, "s").ambiguous_closes == 0


def test_clean_stop_loss_is_not_ambiguous() -> None:
    rows = replace_bars(FLAT, bar(T0 + 6 * MIN, 100, low=98))
    r = one_result(rows, long_dto(tp=101, sl=99), DEFAULT)
    assert (r.close_reason, r.ambiguous) == ("stop_loss", False)
    assert engine.Backtest.get_data(SYMBOL, "s").ambiguous_closes == 0


def test_ambiguous_close_is_counted_among_several() -> None:
    rows = replace_bars(
        FLAT,
        bar(T0 + 6 * MIN, 100, high=102, low=98),  # first signal: ambiguous
        bar(T0 + 20 * MIN, 100, high=102),  # second signal (opened at 00:07): TP
    )
    setup(rows, once(long_dto(101, 99), long_dto(101, 99)), end=T0 + 60 * MIN)
    results = run("s", profile=DEFAULT)
    assert [(r.close_reason, r.ambiguous) for r in results] == [
        ("stop_loss", True),
        ("take_profit", False),
    ]
    assert results[1].signal.pending_at == T0 + 7 * MIN
    assert engine.Backtest.get_data(SYMBOL, "s").ambiguous_closes == 1


# ----- checks start at the first candle after the decision -------------------------------------


@pytest.mark.parametrize("minute", [0, 1, 2, 3])
def test_take_profit_in_the_first_minutes_closes_in_default(minute: int) -> None:
    rows = replace_bars(FLAT, bar(T0 + minute * MIN, 100, high=102))
    r = one_result(rows, long_dto(tp=101, sl=99), DEFAULT)
    assert (r.close_reason, r.current_price) == ("take_profit", 101)
    assert r.close_timestamp == T0 + minute * MIN
    assert r.signal.price_open == 100  # the decision never saw the candle opening at T0


@pytest.mark.parametrize("minute", [0, 1, 2, 3])
def test_take_profit_in_the_first_four_minutes_is_ignored_in_1_4_10(minute: int) -> None:
    rows = replace_bars(FLAT, bar(T0 + minute * MIN, 100, high=102))
    r = one_result(rows, long_dto(tp=101, sl=99), LEGACY)
    assert r.close_reason == "time_expired"
    assert r.close_timestamp == T0 + 59 * MIN


@pytest.mark.parametrize("profile", [DEFAULT, LEGACY])
def test_stop_loss_at_minute_four_closes_in_both(profile: str) -> None:
    rows = replace_bars(FLAT, bar(T0 + 4 * MIN, 100, low=98))
    r = one_result(rows, long_dto(tp=101, sl=99), profile)
    assert (r.close_reason, r.close_timestamp) == ("stop_loss", T0 + 4 * MIN)


# ----- market signal time_expired --------------------------------------------------------------

# From T0 on, prices wander inside (99, 101) with varying volume; TP/SL are far away.
PRICES = [100.0, 100.5, 99.5, 100.25, 100.75, 99.75, 100.125, 100.375, 99.875, 100.625]
WANDER = (
    flat(T0 - 10 * MIN, 10)
    + [bar(T0 + i * MIN, p, volume=i + 1) for i, p in enumerate(PRICES)]
    + [bar(T0 + 10 * MIN, 100, high=150, low=50)]  # opens at expiry: after the signal
    + flat(T0 + 11 * MIN, 50)
)


def test_market_time_expired_at_pending_at_plus_m_in_default() -> None:
    r = one_result(WANDER, long_dto(tp=110, sl=90, minutes=10), DEFAULT)
    assert r.close_reason == "time_expired"
    assert r.signal.pending_at == T0
    assert r.close_timestamp == T0 + 10 * MIN
    assert r.close_timestamp - r.signal.pending_at == 10 * 60_000
    # the 5 candles that closed by T0+10m: those opening T0+5m .. T0+9m
    expected = (99.75 * 6 + 100.125 * 7 + 100.375 * 8 + 99.875 * 9 + 100.625 * 10) / 40
    assert r.current_price == pytest.approx(expected, rel=0, abs=1e-12)
    assert r.current_price == vwap(WANDER[10 + 5 : 10 + 10])
    assert engine.Backtest.get_report(SYMBOL, "s").count("| 10 |") == 1  # duration column


def test_market_time_expired_at_pending_at_plus_m_minus_1_in_1_4_10() -> None:
    r = one_result(WANDER, long_dto(tp=110, sl=90, minutes=10), LEGACY)
    assert r.close_reason == "time_expired"
    assert r.close_timestamp == T0 + 9 * MIN
    assert r.current_price == vwap(WANDER[10 + 5 : 10 + 10])


def test_use_profile_selects_the_profile_globally() -> None:
    engine.use_profile(LEGACY)
    setup(WANDER, once(long_dto(tp=110, sl=90, minutes=10)))
    (r,) = run("s")
    assert r.close_timestamp == T0 + 9 * MIN
    engine.use_profile(DEFAULT)
    engine.add_strategy(strategy_name="s2", interval="1m", get_signal=once(long_dto(110, 90, 10)))
    (r,) = run("s2")
    assert r.close_timestamp == T0 + 10 * MIN


# ----- what strategy code sees -----------------------------------------------------------------

RAMP = [
    bar(T0 + i * MIN, 100 + i * 0.25, volume=1 + i % 4, high=100.5 + i * 0.25, low=99.5 + i * 0.25)
    for i in range(-30, 60)
]


def seen_by_strategy(
    profile: str, when: int, probe: Any, user_code: bool = False
) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def get_signal(symbol: str, at: datetime) -> None:
        for key, fn in probe.items():
            try:
                seen[key] = fn(symbol)
            except Exception as exc:
                seen[key] = exc

    setup(RAMP, get_signal, start=when, user_code=user_code)
    assert run("s", profile=profile) == []
    return seen


def opens(candles: list[Any]) -> list[int]:
    return [(c.timestamp - T0) // MIN for c in candles]


CANDLE_PROBES = {
    "3": lambda s: engine.get_candles(s, "1m", 3),
    "1": lambda s: engine.get_candles(s, "1m", 1),
}


@pytest.mark.parametrize("user_code", [False, True], ids=["store", "user-function"])
def test_get_candles_default_returns_only_closed_candles(user_code: bool) -> None:
    seen = seen_by_strategy(DEFAULT, T0 + 20 * MIN, CANDLE_PROBES, user_code)
    assert opens(seen["3"]) == [17, 18, 19]
    assert opens(seen["1"]) == [19]
    row = next(r for r in RAMP if r[0] == T0 + 19 * MIN)
    assert tuple(seen["1"][0]) == row


@pytest.mark.parametrize("user_code", [False, True], ids=["store", "user-function"])
def test_get_candles_1_4_10_includes_the_forming_candle_and_limit_1_throws(
    user_code: bool,
) -> None:
    seen = seen_by_strategy(LEGACY, T0 + 20 * MIN, CANDLE_PROBES, user_code)
    assert opens(seen["3"]) == [18, 19, 20]
    assert isinstance(seen["1"], EngineError)
    assert str(seen["1"]) == "ClientExchange unknown time adjust for interval=1m"


@pytest.mark.parametrize(
    ("minute", "limit", "expected"),
    [
        (20, 2, [10, 15]),  # the 5m candle opening at 20 closes at 25: not yet
        (22, 2, [10, 15]),
        (24, 3, [5, 10, 15]),
        (25, 2, [15, 20]),
        (25, 1, [20]),
    ],
)
def test_get_candles_default_higher_interval_only_closed(
    minute: int, limit: int, expected: list[int]
) -> None:
    probe = {"c": lambda s: engine.get_candles(s, "5m", limit)}
    seen = seen_by_strategy(DEFAULT, T0 + minute * MIN, probe)
    assert opens(seen["c"]) == expected
    last = seen["c"][-1]
    inside = [r for r in RAMP if last.timestamp <= r[0] < last.timestamp + 5 * MIN]
    assert last.open == inside[0][1]
    assert last.high == max(r[2] for r in inside)
    assert last.low == min(r[3] for r in inside)
    assert last.close == inside[-1][4]
    assert last.volume == sum(r[5] for r in inside)


def test_vwap_default_uses_the_five_closed_candles() -> None:
    probe = {"vwap": engine.get_average_price}
    seen = seen_by_strategy(DEFAULT, T0 + 20 * MIN, probe)
    window = [r for r in RAMP if T0 + 15 * MIN <= r[0] <= T0 + 19 * MIN]
    assert seen["vwap"] == vwap(window)
    # by hand: typical price = close (symmetric wicks), volume 1 + i % 4 for i = 15..19
    by_hand = (103.75 * 4 + 104.0 * 1 + 104.25 * 2 + 104.5 * 3 + 104.75 * 4) / 14
    assert seen["vwap"] == pytest.approx(by_hand, rel=1e-15)


def test_vwap_1_4_10_includes_the_candle_opening_at_when() -> None:
    probe = {"vwap": engine.get_average_price}
    seen = seen_by_strategy(LEGACY, T0 + 20 * MIN, probe)
    window = [r for r in RAMP if T0 + 16 * MIN <= r[0] <= T0 + 20 * MIN]
    assert seen["vwap"] == vwap(window)


def test_market_signal_opens_at_the_default_vwap() -> None:
    calls: list[float] = []

    def get_signal(symbol: str, when: datetime) -> dict[str, Any] | None:
        if calls:
            return None
        calls.append(engine.get_average_price(symbol))
        return long_dto(tp=150, sl=90, minutes=5)

    setup(RAMP, get_signal, start=T0 + 20 * MIN)
    (r,) = run("s", profile=DEFAULT)
    window = [x for x in RAMP if T0 + 15 * MIN <= x[0] <= T0 + 19 * MIN]
    assert r.signal.price_open == calls[0] == vwap(window)
    assert r.signal.pending_at == T0 + 20 * MIN


# ----- PnL (docs/semantics.md#pnl) -------------------------------------------------------------


@pytest.mark.parametrize("profile", [DEFAULT, LEGACY])
def test_pnl_long_take_profit_one_percent(profile: str) -> None:
    rows = replace_bars(
        flat(T0 - 10 * MIN, 200, price=41800.0), bar(T0 + 7 * MIN, 41800, high=42300)
    )
    dto = long_dto(
        tp=42223.65147564981,
        sl=41512.95635180224,
        minutes=120,
        price_open=41805.59552044536,  # reached at once: the price is 41800
    )
    r = one_result(rows, dto, profile)
    assert r.close_reason == "take_profit"
    assert r.pnl.pnl_percentage == 0.5982017982018002
    assert (r.pnl.price_open, r.pnl.price_close) == (41805.59552044536, 42223.65147564981)


def test_pnl_long_stop_loss_seven_tenths() -> None:
    rows = replace_bars(
        flat(T0 - 10 * MIN, 200, price=42000.0), bar(T0 + 5 * MIN, 42000, low=41700)
    )
    dto = long_dto(tp=42453.8047, sl=41739.23571, minutes=120, price_open=42033.47)
    r = one_result(rows, dto, DEFAULT)
    assert r.close_reason == "stop_loss"
    assert r.pnl.pnl_percentage == -1.0984015984015951
    assert (r.pnl.price_open, r.pnl.price_close) == (42033.47, 41739.23571)


def test_pnl_short_take_profit_by_hand() -> None:
    rows = replace_bars(FLAT, bar(T0 + 5 * MIN, 100, low=98.5))
    r = one_result(rows, short_dto(tp=99, sl=101), DEFAULT)
    entry = 100 * (1 - 0.1 / 100)
    exit_ = 99 * (1 + 0.1 / 100)
    assert r.close_reason == "take_profit"
    assert r.pnl.pnl_percentage == (entry - exit_) / entry * 100 - 0.1 * 2
    assert r.pnl.pnl_percentage == pytest.approx(0.6018, abs=1e-4)


def test_statistics_of_hand_computed_trades() -> None:
    rows = replace_bars(
        FLAT,
        (T0 + 5 * MIN, 100.0, 101.5, 99.5, 99.0, 1.0),  # TP at 00:05; typical price 100
        bar(T0 + 10 * MIN, 100, low=98.5),  # second long (00:06): SL at 00:10
    )
    setup(rows, once(long_dto(101, 99), long_dto(101, 99)), end=T0 + 30 * MIN)
    results = run("s", profile=DEFAULT)
    assert [(r.close_reason, r.close_timestamp) for r in results] == [
        ("take_profit", T0 + 5 * MIN),
        ("stop_loss", T0 + 10 * MIN),
    ]
    win = (101 * 0.999 - 100 * 1.001) / (100 * 1.001) * 100 - 0.2
    loss = (99 * 0.999 - 100 * 1.001) / (100 * 1.001) * 100 - 0.2
    stats = engine.Backtest.get_data(SYMBOL, "s")
    assert (stats.total_signals, stats.win_count, stats.loss_count) == (2, 1, 1)
    assert stats.win_rate == 50
    assert stats.total_pnl == pytest.approx(win + loss, abs=1e-12)
    assert stats.avg_pnl == pytest.approx((win + loss) / 2, abs=1e-12)
    std = abs(win - loss) / 2
    assert stats.std_dev == pytest.approx(std, abs=1e-12)
    assert stats.sharpe_ratio == pytest.approx((win + loss) / 2 / std, abs=1e-12)
    assert stats.certainty_ratio == pytest.approx(win / -loss, abs=1e-12)


# ----- end of data -----------------------------------------------------------------------------

SHORT_DATA = flat(T0 - 10 * MIN, 31)  # last candle opens at T0+20m: data ends at T0+21m


def calls_and_results(rows: list, dto: dict[str, Any]) -> tuple[list[int], list[Any]]:
    calls: list[int] = []
    dtos = [dto]

    def get_signal(symbol: str, when: datetime) -> dict[str, Any] | None:
        calls.append(ms(when))
        return dtos.pop() if dtos else None

    setup(rows, get_signal, end=T0 + 21 * MIN)
    return calls, run("s", profile=DEFAULT)


def test_market_signal_running_out_of_data_closes_at_the_end_of_data() -> None:
    calls, results = calls_and_results(SHORT_DATA, long_dto(tp=101, sl=99, minutes=60))
    (r,) = results
    assert (r.close_reason, r.close_timestamp) == ("time_expired", T0 + 21 * MIN)
    assert calls == [T0]


def test_limit_order_filled_on_the_last_candle_closes_at_the_end_of_data() -> None:
    # Trader's reading of the default profile (nothing is stamped before the data it uses):
    # the fill happens inside the last candle [T0+20m, T0+21m); the engine must not close
    # the position at T0+20m with a VWAP that includes that candle, nor ask the strategy
    # for a new signal at T0+21m as if it had been flat since T0+20m.
    rows = replace_bars(SHORT_DATA, bar(T0 + 20 * MIN, 100, low=98.9))
    calls, results = calls_and_results(rows, long_dto(tp=101, sl=95, minutes=30, price_open=99))
    (r,) = results
    assert r.close_reason == "time_expired"
    assert r.signal.pending_at == T0 + 20 * MIN
    assert r.close_timestamp == T0 + 21 * MIN
    assert r.current_price == vwap(rows[-5:])
    assert calls == [T0]


@pytest.mark.parametrize("user_code", [False, True])
def test_a_scheduled_signal_that_expires_before_a_candle_of_its_life_closes_at_the_vwap_then(
    user_code: bool,
) -> None:
    errors: list[Exception] = []
    engine.listen_error(errors.append)
    rows = replace_bars(flat(T0 - 10 * MIN, 60), bar(T0 + 10 * MIN, 100.0, low=98.0))
    dto = long_dto(101.0, 97.0, minutes=1, price_open=98.5)  # entered by the 00:10 candle
    setup(rows, once(dto), end=T0 + 40 * MIN, user_code=user_code)
    results = run("s", profile=DEFAULT)
    assert errors == []
    assert [r.action for r in results] == ["closed"]
    closed = results[0]
    # Opened at 00:10 for one minute: it expires at 00:11, before any candle after the entry
    # closes, at the VWAP of the five candles closed by then (the entry candle's low is 98).
    assert closed.close_reason == "time_expired"
    assert closed.close_timestamp == T0 + 11 * MIN
    assert closed.current_price == vwap([*flat(T0 + 6 * MIN, 4), rows[20]])
    assert closed.current_price == pytest.approx((4 * 100 + (100 + 98 + 100) / 3) / 5)
    assert engine.Backtest.get_data(SYMBOL, "s").total_signals == 1


@pytest.mark.parametrize("profile", [DEFAULT, LEGACY])
def test_a_signal_the_run_could_not_resolve_at_once_is_yielded_when_it_closes(
    profile: str,
) -> None:
    """A user exchange fails the fetch of the candles after a signal once: the run reports it,
    follows the signal frame by frame, and yields its close like any other."""
    errors: list[Exception] = []
    engine.listen_error(errors.append)
    engine.set_config({"CC_GET_CANDLES_RETRY_COUNT": 1, "CC_GET_CANDLES_RETRY_DELAY_MS": 0})
    serve = user_get_candles(flat(T0 - 10 * MIN, 80))
    failed: list[int] = []

    def get_candles(symbol: str, interval: str, since: datetime, limit: int) -> list[dict]:
        if limit == 30 and not failed:  # the 30 minutes after the signal, asked once
            failed.append(ms(since))
            raise ConnectionError("exchange unreachable")
        return serve(symbol, interval, since, limit)

    engine.add_exchange(
        exchange_name="x",
        get_candles=get_candles,
        format_price=lambda s, p: f"{p:.2f}",
        format_quantity=lambda s, q: f"{q:.8f}",
    )
    add_frame("f", T0, T0 + 60 * MIN)
    engine.add_strategy(
        strategy_name="s", interval="1m", get_signal=once(long_dto(101.0, 99.0, minutes=30))
    )
    results = run("s", profile=profile)
    assert len(failed) == 1 and len(errors) == 1
    assert "exchange unreachable" in str(errors[0])
    closed = [r for r in results if r.action == "closed"]
    # Prices stay at 100, between TP and SL: it lives its 30 minutes.
    assert [(r.close_reason, r.close_timestamp) for r in closed] == [
        ("time_expired", T0 + 30 * MIN)
    ]
    assert engine.Backtest.get_data(SYMBOL, "s").total_signals == len(closed) == 1
