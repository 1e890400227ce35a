"""Walker and heatmap runs for the desk: strategies × symbols ranked, one message per phase.

The walker runs on `engine.sim.parallel.SerialExecutor` inside the desk's thread worker: the
backtests run one after the other in this process, so every engine event (signals, partial
levels, heatmap rows) fires here and reaches the bridge, and a cancel takes effect before the
next strategy. Rows are reported as each strategy finishes.

Each walker or heatmap run of the session is kept as its own `HeatRun` in the desk's
`HeatRuns` (built from the run's closed signals alone), so the heatmap screen shows exactly
one run: never another frame's, a single backtest's or a live trade's signals.

The engine's reports of a strategy on a symbol (the walker's report viewer) are read from
the engine's stores as the desk's rows (`tui.runs`): the closed signals, the scheduled
signals, the partial levels and the timings of the pair's latest backtest in this process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from textual.message import Message

import engine
from engine.analytics.heat import HeatmapStatistics, heatmap_statistics
from engine.analytics.stats import BacktestStatistics
from engine.core.events import WalkerContract
from engine.core.models import Action
from engine.data.coverage import fit_range, frame_span
from engine.sim.parallel import SerialExecutor
from engine.sim.walker import add_walker, metric_field, walkers
from tui.engine_bridge import (
    DESK_WALKER,
    HEATMAP_WALKER,
    describe_error,
    signal_view,
    timing_rows,
)
from tui.runs import PartialLevel, ScheduledSignal, ScheduleOutcome, SignalView, TimingRow

Post = Callable[[Message], Any]

DEFAULT_FRAME = "demo-7d"
DEFAULT_METRIC = "sharpe_ratio"


@dataclass(frozen=True, slots=True)
class WalkerRequest:
    """What the walker screen asks for: strategies × symbols on one exchange and frame."""

    strategies: tuple[str, ...]
    symbols: tuple[str, ...]
    exchange_name: str
    frame_name: str
    metric: str = DEFAULT_METRIC

    @property
    def total(self) -> int:
        """The number of backtests the walker runs."""
        return len(self.strategies) * len(self.symbols)


@dataclass(frozen=True, slots=True)
class RankedRow:
    """One finished (symbol, strategy) backtest as the rankings table shows it."""

    symbol: str
    strategy_name: str
    metric_value: float | None
    trades: int
    win_rate: float | None
    total_pnl: float | None
    sharpe_ratio: float | None
    closed_pnls: tuple[float, ...]
    """The PnLs (percent) of the backtest's closed signals, in the order they closed."""

    @property
    def key(self) -> str:
        """The row's key in tables: `symbol/strategy`."""
        return f"{self.symbol}/{self.strategy_name}"


def ranked_row(contract: WalkerContract) -> RankedRow:
    """Return the desk's row for a walker row."""
    stats = contract.stats

    def number(name: str) -> float | None:
        value = getattr(stats, name, None)
        return None if value is None else float(value)

    return RankedRow(
        symbol=contract.symbol,
        strategy_name=contract.strategy_name,
        metric_value=contract.metric_value,
        trades=int(getattr(stats, "total_signals", 0) or 0),
        win_rate=number("win_rate"),
        total_pnl=number("total_pnl"),
        sharpe_ratio=number("sharpe_ratio"),
        closed_pnls=tuple(s.pnl.pnl_percentage for s in stats.signal_list),
    )


def ranking(rows: Sequence[RankedRow]) -> list[RankedRow]:
    """Order rows best first: metric descending, undefined last, ties in arrival order."""
    return sorted(rows, key=lambda r: (r.metric_value is None, -(r.metric_value or 0.0)))


@dataclass
class WalkerStarted(Message):
    """A walker began."""

    request: WalkerRequest


@dataclass
class WalkerRowRanked(Message):
    """One (symbol, strategy) backtest of the walker finished."""

    row: RankedRow
    processed: int
    total: int


@dataclass
class WalkerFinished(Message):
    """Every backtest of the walker finished."""

    request: WalkerRequest
    rows: int


@dataclass
class WalkerCancelled(Message):
    """The walker was cancelled before its last strategy."""

    request: WalkerRequest
    rows: int


@dataclass
class WalkerFailed(Message):
    """The walker could not run or stopped on an error."""

    request: WalkerRequest
    title: str
    msg: str


def _register(name: str, request: WalkerRequest) -> None:
    if walkers.has(name):
        walkers.remove(name)
    add_walker(
        walker_name=name,
        exchange_name=request.exchange_name,
        frame_name=request.frame_name,
        strategies=list(request.strategies),
        metric=request.metric,
        note="registered by the desk",
    )


def run_walker(
    request: WalkerRequest, post: Post, cancel: threading.Event, walker_name: str = DESK_WALKER
) -> int:
    """Run a walker to its end (blocking: call it from a thread worker); return its row count.

    Posts `WalkerStarted`, one `WalkerRowRanked` per finished backtest, then exactly one of
    `WalkerFinished`, `WalkerCancelled` or `WalkerFailed`.
    """
    post(WalkerStarted(request))
    done = 0
    try:
        metric_field(request.metric)
        for symbol in request.symbols:
            check_covered(request.exchange_name, symbol, request.frame_name)
        _register(walker_name, request)
        rows = engine.Walker.run_symbols(
            list(request.symbols),
            walker_name=walker_name,
            executor=SerialExecutor(),
            cancel=cancel,
        )
        for contract in rows:
            done += 1
            post(WalkerRowRanked(ranked_row(contract), done, request.total))
    except Exception as exc:  # the desk survives any failure of a walker and shows it
        post(WalkerFailed(request, *describe_error(exc)))
        return done
    if cancel.is_set() and done < request.total:
        post(WalkerCancelled(request, done))
    else:
        post(WalkerFinished(request, done))
    return done


def check_covered(exchange_name: str, symbol: str, frame_name: str) -> None:
    """Refuse a frame that the symbol's data does not cover from its first to its last time.

    Raises:
        ConfigError: the frame is unknown, or lies outside the data in whole or in part
            (the message says what the data covers).
    """
    window = frame_span(frame_name)
    if window is None:
        raise engine.ConfigError(f"frame {frame_name!r} is not registered")
    fitted = fit_range(exchange_name, symbol, *window)
    if fitted.warnings:
        raise engine.ConfigError(
            f"frame {frame_name} reaches past the data: {fitted.warnings[0]}; "
            "pick a frame inside the data"
        )


def run_heat(request: WalkerRequest, post: Post, cancel: threading.Event) -> int:
    """Backtest one strategy on every symbol (the heatmap screen's run); return its row count.

    Posts the walker's messages.
    """
    return run_walker(request, post, cancel, walker_name=HEATMAP_WALKER)


class RunOutcome(StrEnum):
    """How a walker or heatmap run stands."""

    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    FAILED = "failed"


@dataclass
class HeatRun:
    """One walker or heatmap run of the session: what ran, when, and its backtests' PnLs.

    Attributes:
        number: The run's number in the session (1 for the first).
        request: What ran.
        started_at: When the run started (the desk's clock).
        outcome: `running`, then `finished`, `cancelled` or `failed`.
        pnls: Each finished backtest's closed PnLs by (strategy, symbol), in arrival order.
    """

    number: int
    request: WalkerRequest
    started_at: datetime
    outcome: RunOutcome = RunOutcome.RUNNING
    pnls: dict[tuple[str, str], tuple[float, ...]] = field(default_factory=dict)

    def add(self, row: RankedRow) -> None:
        """Keep a finished backtest of the run."""
        self.pnls[(row.strategy_name, row.symbol)] = row.closed_pnls

    def statistics(self, strategy_name: str) -> HeatmapStatistics:
        """Return the heatmap of one strategy of this run: its symbols' closed signals only.

        Every symbol the strategy finished on has a row, also one without a closed signal.
        """
        return heatmap_statistics(
            {symbol: pnls for (name, symbol), pnls in self.pnls.items() if name == strategy_name}
        )

    def title(self, strategy_name: str) -> str:
        """Return `run 2 · bracket · demo-7d · 5 symbols · demo · 09:30:00` (with the outcome).

        A run of several strategies says which of them `strategy_name` is (`bracket 3/3`).
        """
        request = self.request
        strategy = strategy_name
        if len(request.strategies) > 1:
            place = request.strategies.index(strategy_name) + 1
            strategy += f" {place}/{len(request.strategies)}"
        symbols = request.symbols
        named = ", ".join(symbols) if len(symbols) <= 3 else f"{len(symbols)} symbols"
        text = (
            f"run {self.number} · {strategy} · {request.frame_name} · {named} · "
            f"{request.exchange_name} · {self.started_at:%H:%M:%S}"
        )
        return text if self.outcome is RunOutcome.FINISHED else f"{text} · {self.outcome}"


class HeatRuns:
    """The walker and heatmap runs of one desk session, oldest first (kept in memory).

    Args:
        clock: Stamps each run's start (the desk's clock).
    """

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._runs: list[HeatRun] = []

    def start(self, request: WalkerRequest) -> HeatRun:
        """Keep a new run (with no backtest finished yet) and return it."""
        run = HeatRun(len(self._runs) + 1, request, self._clock())
        self._runs.append(run)
        return run

    def views(self) -> list[tuple[HeatRun, str]]:
        """Return every (run, strategy) heatmap the runs make, oldest run first."""
        return [(run, name) for run in self._runs for name in run.request.strategies]

    def latest(self, strategy_name: str, symbol: str) -> HeatRun | None:
        """Return the newest run with a finished backtest of the strategy on the symbol."""
        return next((r for r in reversed(self._runs) if (strategy_name, symbol) in r.pnls), None)


def default_walker_request(
    strategies: Sequence[str],
    symbols: Sequence[str],
    exchange_name: str | None,
    frame_name: str | None,
    frames: Sequence[str],
) -> WalkerRequest:
    """Return the walker screen's first choice: every strategy on BTCUSDT, the last frame."""
    symbol = "BTCUSDT" if "BTCUSDT" in symbols or not symbols else symbols[0]
    frame = frame_name if frame_name in frames else None
    if frame is None:
        frame = DEFAULT_FRAME if DEFAULT_FRAME in frames or not frames else frames[0]
    return WalkerRequest(
        strategies=tuple(strategies),
        symbols=(symbol,),
        exchange_name=exchange_name or "demo",
        frame_name=frame,
    )


REPORT_KINDS: tuple[tuple[str, str], ...] = (
    ("backtest", "Backtest"),
    ("schedule", "Schedule"),
    ("performance", "Performance"),
    ("partial", "Partial"),
    ("heat", "Heatmap"),
)
"""The engine reports the report viewer offers for a strategy on a symbol: (kind, label)."""


def backtest_data(symbol: str, strategy_name: str) -> BacktestStatistics:
    """Return the engine's statistics of the pair's latest backtest (`Backtest.get_data`)."""
    return engine.Backtest.get_data(symbol, strategy_name)


def closed_signals(stats: BacktestStatistics) -> tuple[SignalView, ...]:
    """Return the desk's rows of a backtest's closed signals, in the order they closed."""
    views = (signal_view(result) for result in stats.signal_list)
    return tuple(view for view in views if view is not None)


def scheduled_signals(symbol: str, strategy_name: str) -> tuple[ScheduledSignal, ...]:
    """Return the limit signals of the pair's latest backtest (`Schedule.get_data`).

    A scheduled signal that closed activated (at its `pending_at`); a cancelled one waited
    its event's `duration`; any other reads as still waiting (also one that activated and was
    still open at the end). The engine's store keeps the last 250 events only.
    """
    stats = engine.Schedule.get_data(symbol, strategy_name)
    closed = backtest_data(symbol, strategy_name).signal_list
    filled = {result.signal.id: result.signal.pending_at for result in closed}
    rows = []
    for event in stats.event_list:
        outcome, ended_at = ScheduleOutcome.WAITING, None
        scheduled_at = event.timestamp
        if event.action is Action.CANCELLED and event.close_timestamp is not None:
            outcome, ended_at = ScheduleOutcome.CANCELLED, event.close_timestamp
            scheduled_at = event.close_timestamp - (event.duration or 0) * 60_000
        elif event.signal_id in filled:
            outcome, ended_at = ScheduleOutcome.ACTIVATED, filled[event.signal_id]
        rows.append(
            ScheduledSignal(
                event.signal_id,
                event.position,
                scheduled_at,
                event.price_open,
                event.take_profit,
                event.stop_loss,
                event.current_price,
                outcome,
                ended_at,
                event.note,
            )
        )
    return tuple(rows)


def partial_levels(symbol: str, strategy_name: str) -> tuple[PartialLevel, ...]:
    """Return the partial levels the closed signals of the pair's latest backtest reached.

    From `Partial.get_data`, whose store keeps the last 250 levels of a symbol.
    """
    closed = {result.signal.id for result in backtest_data(symbol, strategy_name).signal_list}
    return tuple(
        PartialLevel(e.timestamp, str(e.action), e.signal_id, e.position, e.level, e.current_price)
        for e in engine.Partial.get_data(symbol).event_list
        if e.signal_id in closed
    )


def timings(symbol: str, strategy_name: str) -> tuple[TimingRow, ...]:
    """Return the engine's timings of the pair's runs in this process (`Performance.get_data`)."""
    return timing_rows(engine.Performance.get_data(symbol, strategy_name))
