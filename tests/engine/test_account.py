"""The account model: closed trades replayed in money (hand-computed cases)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import engine
from engine import ConfigError, EquityFraction, FixedAmount
from engine.analytics.account import YEAR_MS, replay
from engine.core.models import Action, ClosedResult, CloseReason, PnL, SignalRow
from engine.sim.sizing import sizings
from tests.engine.helpers import (
    MIN,
    SYMBOL,
    T0,
    add_exchange,
    add_frame,
    flat,
    long_dto,
    once,
    reset_engine,
)


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    reset_engine()
    sizings.clear()
    yield
    reset_engine()
    sizings.clear()


def trade(
    opened: int,
    closed: int,
    pnl: float,
    *,
    symbol: str = "AAAUSDT",
    strategy: str = "s",
    price_open: float = 100.0,
    stop: float = 95.0,
) -> ClosedResult:
    """A long closed at `closed` minutes after T0, opened at `opened`, with this PnL %."""
    signal = SignalRow(
        id=f"{symbol}-{opened}",
        price_open=price_open,
        position="long",
        note=None,
        price_take_profit=price_open * 1.5,
        price_stop_loss=stop,
        minute_estimated_time=60,
        symbol=symbol,
        exchange_name="x",
        strategy_name=strategy,
        scheduled_at=T0 + opened * MIN,
        pending_at=T0 + opened * MIN,
        is_scheduled=False,
    )
    return ClosedResult(
        Action.CLOSED,
        signal,
        price_open,
        strategy,
        "x",
        symbol,
        CloseReason.TAKE_PROFIT if pnl > 0 else CloseReason.STOP_LOSS,
        T0 + closed * MIN,
        PnL(pnl, price_open, price_open),
    )


def test_equity_compounds_over_three_trades_with_fees_in_money() -> None:
    account = replay([trade(0, 10, 10.0), trade(20, 30, -5.0), trade(40, 50, 20.0)])
    # 10 000 → +10 % of 10 000 = +1 000 → 11 000
    #        → −5 % of 11 000 = −550 → 10 450
    #        → +20 % of 10 450 = +2 090 → 12 540
    assert [t.pnl_money for t in account.trades] == pytest.approx([1_000, -550, 2_090])
    assert [t.equity_after for t in account.trades] == pytest.approx([11_000, 10_450, 12_540])
    assert account.final_equity == pytest.approx(12_540)
    assert account.return_percent == pytest.approx(25.4)  # 12 540 / 10 000 − 1
    # fees: 0.1 % in and 0.1 % out of each position: 0.2 % of 10 000, 11 000, 10 450
    assert [t.fee for t in account.trades] == pytest.approx([20, 22, 20.9])
    assert account.fees_paid == pytest.approx(62.9)
    assert account.expectancy == pytest.approx(2_540 / 3)  # (1 000 − 550 + 2 090) / 3
    assert account.best_trade_percent == 20.0
    assert account.best_trade_money == pytest.approx(2_090)
    assert account.worst_trade_percent == -5.0
    assert account.worst_trade_money == pytest.approx(-550)
    assert account.equity_curve[0] == (T0, 10_000)
    assert account.equity_curve[-1] == (T0 + 50 * MIN, pytest.approx(12_540))


def test_drawdown_is_measured_from_peak_equity_and_lasts_until_recovered() -> None:
    closed = [trade(0, 10, 10.0), trade(20, 30, -10.0), trade(40, 50, -10.0)]
    closed.append(trade(60, 70, 50.0))
    account = replay(closed, start_ms=T0, end_ms=T0 + 100 * MIN)
    # 10 000 → 11 000 (peak at minute 10) → 9 900 → 8 910 (trough) → 13 365 (recovered, 70)
    # from the peak: (11 000 − 8 910) / 11 000 = 19 %; from the start it would be 10.9 %
    assert account.max_drawdown_percent == pytest.approx(19.0)
    assert account.max_drawdown_duration_ms == 60 * MIN  # minute 10 → minute 70
    assert account.final_equity == pytest.approx(13_365)


def test_a_drawdown_never_recovered_lasts_until_the_frame_ends() -> None:
    account = replay([trade(0, 10, 10.0), trade(20, 30, -10.0)], start_ms=T0, end_ms=T0 + 100 * MIN)
    # 11 000 at minute 10, 9 900 at minute 30, still under the peak when the frame ends at 100
    assert account.max_drawdown_percent == pytest.approx(10.0)
    assert account.max_drawdown_duration_ms == 90 * MIN


def test_cagr_over_a_two_year_frame() -> None:
    account = replay([trade(0, 10, 21.0)], start_ms=T0, end_ms=T0 + 2 * 365 * 24 * 60 * MIN)
    # 10 000 → 12 100 in two years: 1.21 ** (1 / 2) − 1 = 1.1 − 1 = 10 % a year
    assert account.cagr_percent == pytest.approx(10.0)
    assert YEAR_MS == 365 * 24 * 60 * MIN


def test_exposure_is_the_share_of_the_frame_with_an_open_position() -> None:
    closed = [trade(0, 10, 1.0), trade(20, 30, 1.0, symbol="BBBUSDT")]
    closed.append(trade(25, 40, 1.0, symbol="CCCUSDT"))
    account = replay(closed, start_ms=T0, end_ms=T0 + 100 * MIN)
    # open 0–10 and 20–40 (the overlap of 20–30 and 25–40 counts once): 30 of 100 minutes
    assert account.exposure_percent == pytest.approx(30.0)


def test_a_fixed_amount_per_position() -> None:
    account = replay([trade(0, 10, 10.0), trade(20, 30, -5.0)], stake=FixedAmount(1_000))
    # +10 % of 1 000 = +100, −5 % of 1 000 = −50: 10 050; fees 0.2 % of 1 000 twice = 4
    assert account.final_equity == pytest.approx(10_050)
    assert account.fees_paid == pytest.approx(4.0)


def test_a_fraction_of_equity_per_position() -> None:
    account = replay([trade(0, 10, 10.0), trade(20, 30, -10.0)], stake=EquityFraction(0.5))
    # half of 10 000 at +10 % = +500 → 10 500; half of 10 500 at −10 % = −525 → 9 975
    assert account.final_equity == pytest.approx(9_975)


def test_the_strategys_add_sizing_sizes_its_positions() -> None:
    engine.add_sizing(sizing_name="risk-1", method="fixed-percentage", risk_percentage=1)
    engine.add_strategy(
        strategy_name="s", interval="1m", get_signal=lambda *_: None, sizing_name="risk-1"
    )
    engine.Backtest.record("AAAUSDT", "s", [trade(0, 10, 10.0), trade(20, 30, -5.0)])
    account = engine.Backtest.get_account("AAAUSDT", "s")
    # risk 1 % of 10 000 = 100 over a stop 5 away (100 → 95): 20 units × 100 = 2 000;
    # +10 % of 2 000 = +200 → 10 200. Then 1 % of 10 200 = 102 / 5 = 20.4 units: 2 040;
    # −5 % of 2 040 = −102 → 10 098
    assert [t.position_size for t in account.trades] == pytest.approx([2_000, 2_040])
    assert account.final_equity == pytest.approx(10_098)


def test_a_sizing_never_leverages_beyond_the_equity() -> None:
    engine.add_sizing(sizing_name="risk-5", method="fixed-percentage", risk_percentage=5)
    account = replay([trade(0, 10, 10.0, stop=99.0)], stake="risk-5")
    # 5 % of 10 000 = 500 over a stop 1 away: 500 units × 100 = 50 000, capped at 10 000
    assert account.trades[0].position_size == pytest.approx(10_000)
    assert account.final_equity == pytest.approx(11_000)


def test_the_longest_losing_streak() -> None:
    pnls = [1.0, -1.0, -1.0, 1.0, -1.0, -1.0, -1.0, 1.0]
    account = replay([trade(10 * i, 10 * i + 5, p) for i, p in enumerate(pnls)])
    assert account.longest_losing_streak == 3  # trades 5, 6 and 7


def test_a_portfolio_shares_one_account_across_its_pairs() -> None:
    engine.Backtest.record("AAAUSDT", "s", [trade(0, 30, 10.0), trade(40, 50, -10.0)])
    engine.Backtest.record("BBBUSDT", "s", [trade(10, 20, 10.0, symbol="BBBUSDT")])
    account = engine.Backtest.get_portfolio_account(["AAAUSDT", "BBBUSDT"], ["s"])
    # AAA opens at 0 with all 10 000; BBB opens at 10 and finds no cash left: 0, PnL 0.
    # AAA closes at 30: +1 000 → 11 000; AAA's second trade: −10 % of 11 000 → 9 900
    assert [t.signal_id for t in account.trades] == ["BBBUSDT-10", "AAAUSDT-0", "AAAUSDT-40"]
    assert [t.position_size for t in account.trades] == pytest.approx([0, 10_000, 11_000])
    assert account.final_equity == pytest.approx(9_900)
    half = engine.Backtest.get_portfolio_account(
        ["AAAUSDT", "BBBUSDT"], ["s"], stake=EquityFraction(0.5)
    )
    # half of 10 000 each: BBB +500 → 10 500; AAA +500 → 11 000; then half of 11 000 at −10 %
    assert [t.equity_after for t in half.trades] == pytest.approx([10_500, 11_000, 10_450])


def test_a_real_run_in_money_agrees_with_its_percentages_over_its_frame() -> None:
    rows = flat(T0, 120, 100.0)
    rows[30] = (T0 + 30 * MIN, 100.0, 120.0, 100.0, 100.0, 1.0)  # touches the take profit
    add_exchange("x", rows)
    add_frame("f", T0 + 5 * MIN, T0 + 100 * MIN)
    engine.add_strategy(strategy_name="s", interval="1m", get_signal=once(long_dto(110.0, 90.0)))
    list(engine.Backtest.run(SYMBOL, strategy_name="s", exchange_name="x", frame_name="f"))
    closed = engine.Backtest.get_data(SYMBOL, "s").signal_list
    account = engine.Backtest.get_account(SYMBOL, "s", balance=5_000, stake=FixedAmount(800))
    assert len(closed) == 1 and closed[0].pnl.pnl_percentage > 0
    assert account.trades[0].pnl_money == pytest.approx(800 * closed[0].pnl.pnl_percentage / 100)
    assert account.final_equity == pytest.approx(5_000 + account.trades[0].pnl_money)
    assert (account.start_ms, account.end_ms) == (T0 + 5 * MIN, T0 + 100 * MIN)


@pytest.mark.parametrize("balance", [0, -5, float("nan")])
def test_a_balance_must_be_positive(balance: float) -> None:
    with pytest.raises(ConfigError, match=r"balance .* must be a positive amount"):
        replay([], balance=balance)


def test_an_atr_sizing_is_refused_with_a_way_out() -> None:
    engine.add_sizing(sizing_name="atr", method="atr-based", risk_percentage=1)
    with pytest.raises(ConfigError, match=r"atr-based.*fixed-percentage"):
        replay([trade(0, 10, 1.0)], stake="atr")


def test_no_trades_keeps_the_balance() -> None:
    account = replay([], balance=2_500, start_ms=T0, end_ms=T0 + 10 * MIN)
    assert (account.final_equity, account.return_percent, account.expectancy) == (2_500, 0, None)
    assert account.max_drawdown_percent == 0 and account.exposure_percent == 0


def test_a_kelly_sizing_learns_from_the_trades_closed_before() -> None:
    engine.add_sizing(sizing_name="kelly", method="kelly-criterion")
    pnls = [10.0, -5.0, 10.0]
    account = replay([trade(10 * i, 10 * i + 5, p) for i, p in enumerate(pnls)], stake="kelly")
    # No win and loss known before the first two trades: they get nothing (equity 10 000).
    # Third: win rate 1/2, win/loss 10 / 5 = 2, Kelly (0.5 × 2 − 0.5) / 2 = 0.25, times the
    # default multiplier 0.25 = 6.25 % of 10 000 = 625; +10 % of 625 = +62.5
    assert [t.position_size for t in account.trades] == pytest.approx([0, 0, 625])
    assert account.final_equity == pytest.approx(10_062.5)


def test_a_portfolio_run_notes_its_frame_for_the_account() -> None:
    add_exchange("x", flat(T0, 120, 100.0))
    add_frame("f", T0 + 5 * MIN, T0 + 65 * MIN)
    engine.add_strategy(strategy_name="s", interval="1m", get_signal=lambda *_: None)
    run = engine.Backtest.run_portfolio(
        [SYMBOL], ["s"], exchange_name="x", frame_name="f", executor=engine.SerialExecutor()
    )
    list(run)
    account = engine.Backtest.get_portfolio_account([SYMBOL], ["s"], balance=1_000)
    assert (account.start_ms, account.end_ms) == (T0 + 5 * MIN, T0 + 65 * MIN)
    assert (account.final_equity, account.exposure_percent) == (1_000, 0)
