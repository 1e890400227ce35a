"""Walker and heatmap runs for the desk: strategies × symbols ranked, one message per phase.

The walker runs on `engine.parallel.SerialExecutor` inside the desk's thread worker: the
backtests run one after the other in this process, so every engine event (signals, partial
levels, heatmap rows) fires here and reaches the bridge, and a cancel takes effect before the
next strategy. Rows are reported as each strategy finishes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from textual.message import Message

import engine
from engine.events import WalkerContract
from engine.parallel import SerialExecutor
from engine.walker import add_walker, metric_field, walkers
from tui.engine_bridge import DESK_WALKER, HEATMAP_WALKER, describe_error

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


def run_heat(
    strategy_name: str,
    symbols: Sequence[str],
    exchange_name: str,
    frame_name: str,
    post: Post,
    cancel: threading.Event,
) -> int:
    """Backtest one strategy on every symbol, afresh, so that its heatmap covers them all.

    Forgets the strategy's earlier heatmap rows first. Posts the walker's messages.
    """
    engine.Heat.clear(strategy_name)
    request = WalkerRequest((strategy_name,), tuple(symbols), exchange_name, frame_name)
    return run_walker(request, post, cancel, walker_name=HEATMAP_WALKER)


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


def engine_report(kind: str, symbol: str, strategy_name: str) -> str:
    """Return one of the engine's markdown reports of a strategy on a symbol."""
    if kind == "backtest":
        return str(engine.Backtest.get_report(symbol, strategy_name))
    if kind == "schedule":
        return str(engine.Schedule.get_report(symbol, strategy_name))
    if kind == "performance":
        return str(engine.Performance.get_report(symbol, strategy_name))
    if kind == "partial":
        return str(engine.Partial.get_report(symbol))
    if kind == "heat":
        return str(engine.Heat.get_report(strategy_name))
    known = ", ".join(k for k, _ in REPORT_KINDS)
    raise ValueError(f"report kind {kind!r} is unknown; use one of {known}")
