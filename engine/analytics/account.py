"""An account in money: a run's closed trades replayed against one compounding equity.

backtest-kit's statistics add trade percentages (`total_pnl` is a sum, not a return). The
account answers what a trader asks instead: starting from a balance (default 10,000 in the
quote currency), what would the equity have become?

The rules:

- Trades are replayed in time order: each opens at its `pending_at` and closes at its
  `close_timestamp`; at equal times opens go first (as the portfolio clock ticks before it
  closes), then by the order the trades were given.
- At its open a trade is sized from the equity at that moment (the balance plus every PnL
  realised so far), by a `Stake`: the whole equity per position by default (as backtesting.py
  does), a fraction of it (`EquityFraction`), a fixed amount (`FixedAmount`), or a sizing
  registered with `add_sizing` (by name, or the strategy's `sizing_name`). There is no
  leverage: a position never gets more than the cash not already held by open positions.
- A trade's money PnL is its position times its `pnl_percentage` (so fees and slippage come
  from the engine's PnL model, `engine.core.pnl`, and the money agrees with the percentages); its
  fee is `PERCENT_FEE` of the position at entry and again at exit.
- Drawdown, exposure and CAGR are measured over the run's frame, on the equity after each
  close (realised equity: open positions are not marked to market).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.core.errors import ConfigError
from engine.core.models import ClosedResult
from engine.core.pnl import PERCENT_FEE

DEFAULT_BALANCE = 10_000.0
YEAR_MS = 365 * 24 * 60 * 60 * 1000
"""A year of a market that trades every day (crypto): 365 days."""

_OPEN, _CLOSE = 0, 1


@dataclass(frozen=True, slots=True)
class EquityFraction:
    """Put this fraction of the current equity into each position (1.0: all of it)."""

    fraction: float = 1.0


@dataclass(frozen=True, slots=True)
class FixedAmount:
    """Put this amount of the quote currency into each position (less if the cash is short)."""

    amount: float


Stake = EquityFraction | FixedAmount | str
"""How positions are sized: a fraction of equity, a fixed amount, or an `add_sizing` name."""

WHOLE_EQUITY = EquityFraction(1.0)


@dataclass(frozen=True, slots=True)
class AccountTrade:
    """One closed trade in money.

    Attributes:
        result: The engine's closed result.
        position_size: The money put into the position at entry (0: no cash was left).
        fee: The fees paid in money, entry and exit.
        pnl_money: The net profit or loss in money (fees and slippage included).
        equity_after: The account's equity after the trade closed.
    """

    result: ClosedResult
    position_size: float
    fee: float
    pnl_money: float
    equity_after: float

    @property
    def signal_id(self) -> str:
        """Return the id of the trade's signal."""
        return self.result.signal.id


@dataclass(frozen=True, slots=True)
class Account:
    """The money figures of a run (see the module's docstring for the rules).

    Attributes:
        balance: The starting balance.
        start_ms: The first time of the run's frame (epoch ms).
        end_ms: The last time of the run's frame (epoch ms).
        trades: The closed trades in closing order, in money.
        equity_curve: `(time, equity)`: the balance at `start_ms`, then the equity after
            each close.
        final_equity: The equity after the last trade.
        return_percent: `final_equity` over `balance`, minus 1, in percent.
        cagr_percent: The compound yearly growth over the frame (None when the frame has no
            length or the figure overflows).
        max_drawdown_percent: The largest fall of the equity from its running peak, in
            percent of that peak (0 without losses).
        max_drawdown_duration_ms: How long that drawdown lasted: from its peak to the close
            that recovered it, or to the frame's end if it never recovered.
        exposure_percent: The share of the frame with at least one open position.
        fees_paid: The fees of every trade, in money.
        expectancy: The average money PnL per trade (None without trades).
        best_trade_percent: The highest PnL percent of one trade (None without trades).
        best_trade_money: That trade's money PnL.
        worst_trade_percent: The lowest PnL percent of one trade.
        worst_trade_money: That trade's money PnL.
        longest_losing_streak: The most losing trades in a row (in closing order).
    """

    balance: float
    start_ms: int
    end_ms: int
    trades: tuple[AccountTrade, ...]
    equity_curve: tuple[tuple[int, float], ...]
    final_equity: float
    return_percent: float
    cagr_percent: float | None
    max_drawdown_percent: float
    max_drawdown_duration_ms: int
    exposure_percent: float | None
    fees_paid: float
    expectancy: float | None
    best_trade_percent: float | None
    best_trade_money: float | None
    worst_trade_percent: float | None
    worst_trade_money: float | None
    longest_losing_streak: int

    @property
    def trade_count(self) -> int:
        """Return the number of closed trades."""
        return len(self.trades)

    def figures(self) -> dict[str, float | None]:
        """Return the scalar figures by name (for JSON and the desk's statistics)."""
        names = (
            "balance",
            "final_equity",
            "return_percent",
            "cagr_percent",
            "max_drawdown_percent",
            "max_drawdown_duration_ms",
            "exposure_percent",
            "fees_paid",
            "expectancy",
            "best_trade_percent",
            "best_trade_money",
            "worst_trade_percent",
            "worst_trade_money",
            "longest_losing_streak",
        )
        return {name: getattr(self, name) for name in names}


SizingOf = Callable[[ClosedResult], Stake]
"""Returns the stake of a trade (the strategy's sizing, or one stake for every trade)."""


def check_balance(balance: float) -> float:
    """Return the balance as a float; raise `ConfigError` unless it is a positive number."""
    if isinstance(balance, bool) or not isinstance(balance, int | float):
        raise ConfigError(
            f"balance {balance!r} is not a number; give a positive amount, e.g. 10000"
        )
    if not math.isfinite(balance) or balance <= 0:
        raise ConfigError(f"balance {balance!r} must be a positive amount, e.g. 10000")
    return float(balance)


def check_stake(stake: Stake) -> Stake:
    """Return the stake; raise `ConfigError` for a bad fraction, amount or sizing."""
    if isinstance(stake, EquityFraction):
        if not 0 < stake.fraction <= 1:
            raise ConfigError(
                f"EquityFraction fraction {stake.fraction!r} must be in (0, 1], e.g. 0.5 "
                "for half the equity (there is no leverage)"
            )
    elif isinstance(stake, FixedAmount):
        if not math.isfinite(stake.amount) or stake.amount <= 0:
            raise ConfigError(f"FixedAmount amount {stake.amount!r} must be positive, e.g. 1000")
    else:  # a sizing name: the sizing module (and pydantic) load only for one
        from engine.sim.sizing import ATR_BASED, sizings

        schema = sizings.get(stake, "Backtest.get_account")
        if schema.method == ATR_BASED:
            raise ConfigError(
                f"sizing {stake!r} is atr-based: the account has no ATR to size with; use a "
                "fixed-percentage or kelly-criterion sizing, or EquityFraction/FixedAmount"
            )
    return stake


class _Sizer:
    """Turns a stake and the account's state into the money of a new position."""

    def __init__(self) -> None:
        self.wins: list[float] = []
        self.losses: list[float] = []

    def learn(self, pnl_percentage: float) -> None:
        """Remember a closed trade (kelly-criterion sizes from the trades closed before)."""
        if pnl_percentage > 0:
            self.wins.append(pnl_percentage)
        elif pnl_percentage < 0:
            self.losses.append(pnl_percentage)

    def size(self, stake: Stake, result: ClosedResult, equity: float) -> float:
        if isinstance(stake, EquityFraction):
            return equity * stake.fraction
        if isinstance(stake, FixedAmount):
            return stake.amount
        from engine.sim.sizing import KELLY_CRITERION, PositionSize, sizings

        signal = result.signal
        if sizings.get(stake, "Backtest.get_account").method == KELLY_CRITERION:
            if not self.wins or not self.losses:
                return 0.0  # no edge known yet: stay out
            count = len(self.wins) + len(self.losses)
            ratio = (sum(self.wins) / len(self.wins)) / abs(sum(self.losses) / len(self.losses))
            quantity = PositionSize.kelly_criterion(
                signal.symbol,
                equity,
                signal.price_open,
                len(self.wins) / count,
                ratio,
                sizing_name=stake,
            )
        else:
            quantity = PositionSize.fixed_percentage(
                signal.symbol, equity, signal.price_open, signal.price_stop_loss, sizing_name=stake
            )
        return quantity * signal.price_open


def _events(closed: Sequence[ClosedResult]) -> list[tuple[int, int, int]]:
    events = []
    for index, result in enumerate(closed):
        events.append((result.signal.pending_at, _OPEN, index))
        events.append((result.close_timestamp, _CLOSE, index))
    events.sort()
    return events


def _exposure(closed: Sequence[ClosedResult], start_ms: int, end_ms: int) -> float | None:
    """Return the share of `[start_ms, end_ms]` covered by open positions, in percent."""
    if end_ms <= start_ms:
        return None
    covered, reach = 0, start_ms
    spans = sorted((r.signal.pending_at, r.close_timestamp) for r in closed)
    for opened, closed_at in spans:
        lo, hi = max(opened, reach), min(closed_at, end_ms)
        if hi > lo:
            covered += hi - lo
            reach = hi
    return covered / (end_ms - start_ms) * 100


def _drawdown(curve: Sequence[tuple[int, float]], end_ms: int) -> tuple[float, int]:
    """Return the largest fall from a running peak (percent of the peak) and its duration."""
    worst, worst_duration = 0.0, 0
    peak_time, peak = curve[0]
    episode = 0.0  # the deepest fall since the current peak
    for when, equity in curve[1:]:
        if equity >= peak:
            if episode > worst:
                worst, worst_duration = episode, when - peak_time
            peak_time, peak, episode = when, equity, 0.0
        else:
            episode = max(episode, (peak - equity) / peak * 100)
    if episode > worst:
        worst, worst_duration = episode, max(end_ms, curve[-1][0]) - peak_time
    return worst, worst_duration


def _cagr(balance: float, final: float, start_ms: int, end_ms: int) -> float | None:
    if end_ms <= start_ms:
        return None
    if final <= 0:
        return -100.0
    years = (end_ms - start_ms) / YEAR_MS
    try:
        return (math.exp(math.log(final / balance) / years) - 1) * 100
    except OverflowError:
        return None


def _streak(trades: Sequence[AccountTrade]) -> int:
    longest = run = 0
    for trade in trades:
        run = run + 1 if trade.result.pnl.pnl_percentage < 0 else 0
        longest = max(longest, run)
    return longest


def _always(stake: Stake) -> SizingOf:
    return lambda _result: stake


def replay(
    closed: Sequence[ClosedResult],
    *,
    balance: float = DEFAULT_BALANCE,
    stake: Stake | SizingOf = WHOLE_EQUITY,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> Account:
    """Replay closed trades against one account and return its figures.

    Args:
        closed: The closed results (of one pair, or of every pair of a portfolio run).
        balance: The starting balance in the quote currency (positive).
        stake: How to size every position, or a function returning each trade's stake.
        start_ms: The frame's first time (default: the first open).
        end_ms: The frame's last time (default: the last close).

    Raises:
        ConfigError: The balance or a stake is invalid (the message says which and how to
            fix it).
    """
    equity = check_balance(balance)
    stake_of = stake if callable(stake) else _always(check_stake(stake))
    if start_ms is None:
        start_ms = min((r.signal.pending_at for r in closed), default=0)
    if end_ms is None:
        end_ms = max((r.close_timestamp for r in closed), default=start_ms)
    sizer = _Sizer()
    held: dict[int, float] = {}
    done: list[AccountTrade] = []
    curve: list[tuple[int, float]] = [(start_ms, equity)]
    for when, kind, index in _events(closed):
        result = closed[index]
        if kind == _OPEN:
            cash = max(0.0, equity - sum(held.values()))
            wanted = sizer.size(stake_of(result), result, equity) if equity > 0 else 0.0
            held[index] = min(max(0.0, wanted), cash)
            continue
        size = held.pop(index)
        pnl = size * result.pnl.pnl_percentage / 100
        equity += pnl
        sizer.learn(result.pnl.pnl_percentage)
        done.append(AccountTrade(result, size, size * PERCENT_FEE * 2 / 100, pnl, equity))
        curve.append((when, equity))
    best = max(done, key=lambda t: t.result.pnl.pnl_percentage, default=None)
    worst = min(done, key=lambda t: t.result.pnl.pnl_percentage, default=None)
    drawdown, duration = _drawdown(curve, end_ms)
    return Account(
        balance=float(balance),
        start_ms=start_ms,
        end_ms=end_ms,
        trades=tuple(done),
        equity_curve=tuple(curve),
        final_equity=equity,
        return_percent=(equity / balance - 1) * 100,
        cagr_percent=_cagr(balance, equity, start_ms, end_ms),
        max_drawdown_percent=drawdown,
        max_drawdown_duration_ms=duration,
        exposure_percent=_exposure(closed, start_ms, end_ms),
        fees_paid=sum(t.fee for t in done),
        expectancy=(equity - balance) / len(done) if done else None,
        best_trade_percent=best.result.pnl.pnl_percentage if best else None,
        best_trade_money=best.pnl_money if best else None,
        worst_trade_percent=worst.result.pnl.pnl_percentage if worst else None,
        worst_trade_money=worst.pnl_money if worst else None,
        longest_losing_streak=_streak(done),
    )
