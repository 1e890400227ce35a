"""Engine events: emitters and the public `listen_*` functions (docs/semantics.md#events).

Listeners are called synchronously, one at a time and in order, on the thread that runs the
engine. A listener that raises is logged and reported through `listen_error`; it never stops
a run. Every `listen_*` returns a function that unsubscribes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

from engine.core.asyncs import syncify
from engine.core.logger import engine_logger

_log = engine_logger(__name__)

if TYPE_CHECKING:
    from engine.analytics.stats import BacktestStatistics

T = TypeVar("T")
Unsubscribe = Callable[[], None]


class Emitter(Generic[T]):
    """A list of subscribers; emitting with none subscribed costs one attribute read."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.listeners: tuple[Callable[[T], Any], ...] = ()
        self.watched = False
        """True while a listener other than the engine's own stores is subscribed."""
        self._internal: tuple[Callable[[T], Any], ...] = ()
        self._lock = threading.Lock()

    def subscribe(self, fn: Callable[[T], Any], internal: bool = False) -> Unsubscribe:
        """Add `fn`; return a function that removes it.

        `internal` marks the engine's own stores: they receive what is emitted but do not
        make the engine measure or build anything extra for them. An `async def` listener
        is run to completion before the next listener is called.
        """
        fn = syncify(fn)
        with self._lock:
            self.listeners = (*self.listeners, fn)
            if internal:
                self._internal = (*self._internal, fn)
            self._update_watched()

        def unsubscribe() -> None:
            with self._lock:
                self.listeners = tuple(f for f in self.listeners if f is not fn)
                self._internal = tuple(f for f in self._internal if f is not fn)
                self._update_watched()

        return unsubscribe

    def _update_watched(self) -> None:
        self.watched = len(self.listeners) > len(self._internal)

    def once(self, filter_fn: Callable[[T], bool], fn: Callable[[T], Any]) -> Unsubscribe:
        """Call `fn` for the first value that passes `filter_fn`, then unsubscribe."""
        done = threading.Event()
        fn = syncify(fn)

        def wrapper(value: T) -> None:
            if done.is_set() or not filter_fn(value):
                return
            done.set()
            unsubscribe()
            fn(value)

        unsubscribe = self.subscribe(wrapper)
        return unsubscribe

    def emit(self, value: T) -> None:
        """Deliver `value` to every listener in subscription order."""
        for fn in self.listeners:
            try:
                fn(value)
            except Exception as exc:  # a listener must never kill a run
                _log.warn(f"listener of {self.name} raised {exc!r}")
                if self is not error_emitter:
                    error_emitter.emit(exc)

    def clear(self) -> None:
        """Remove every listener."""
        with self._lock:
            self.listeners = ()
            self._internal = ()
            self.watched = False


@dataclass(frozen=True, slots=True)
class DoneContract:
    """Sent when a background run finishes."""

    exchange_name: str
    strategy_name: str
    backtest: bool
    symbol: str


@dataclass(frozen=True, slots=True)
class BacktestProgress:
    """Progress of a backtest: frames processed out of the total."""

    exchange_name: str
    strategy_name: str
    symbol: str
    total_frames: int
    processed_frames: int
    progress: float


class PerformanceContract(NamedTuple):
    """One timing measurement of the engine (docs/semantics.md#performance)."""

    timestamp: int
    previous_timestamp: int | None
    metric_type: str
    duration: float
    strategy_name: str
    exchange_name: str
    symbol: str
    backtest: bool


@dataclass(frozen=True, slots=True)
class PartialContract:
    """A partial profit or loss level reached by an open signal (docs/semantics.md#partial)."""

    symbol: str
    data: Any
    current_price: float
    level: int
    backtest: bool
    timestamp: int


@dataclass(frozen=True, slots=True)
class RunStarted:
    """A run of a strategy on a symbol began; stores of its previous run start afresh."""

    symbol: str
    strategy_name: str
    backtest: bool


@dataclass(frozen=True, slots=True)
class OptimizerProgress:
    """Progress of `Optimizer.get_data`: (range, source) steps done out of the total."""

    optimizer_name: str
    symbol: str
    total_sources: int
    processed_sources: int
    progress: float


@dataclass(frozen=True, slots=True)
class WalkerContract:
    """One strategy of a walker done: its statistics, metric and the best so far (docs/walker.md).

    `metric_value` is None when the metric is undefined (no trades, NaN); `best_strategy` is
    the first strategy with the highest metric so far (None while no metric is defined).
    """

    walker_name: str
    exchange_name: str
    frame_name: str
    symbol: str
    strategy_name: str
    stats: BacktestStatistics
    metric_value: float | None
    metric: str
    best_metric: float | None
    best_strategy: str | None
    strategies_tested: int
    total_strategies: int


@dataclass(frozen=True, slots=True)
class WalkerProgress:
    """Progress of a walker on a symbol: strategies processed out of the total."""

    walker_name: str
    exchange_name: str
    frame_name: str
    symbol: str
    total_strategies: int
    processed_strategies: int
    progress: float


@dataclass(frozen=True, slots=True)
class WalkerRank:
    """A strategy's place in a walker's ranking (1 is the best)."""

    rank: int
    strategy_name: str
    metric_value: float | None
    stats: BacktestStatistics


@dataclass(frozen=True, slots=True)
class WalkerResults:
    """The outcome of a walker on a symbol (upstream's `IWalkerResults`, plus the ranking).

    `ranking` lists every strategy tested, best first: metric descending, undefined metrics
    last, ties in the walker's strategy order (so the first one wins, as upstream).
    """

    walker_name: str
    symbol: str
    exchange_name: str
    frame_name: str
    metric: str
    total_strategies: int
    best_strategy: str | None
    best_metric: float | None
    best_stats: BacktestStatistics | None
    ranking: tuple[WalkerRank, ...]


signal_emitter: Emitter[Any] = Emitter("signal")
result_emitter: Emitter[Any] = Emitter("result")
"""Scheduled, cancelled and closed results (live: every one but `idle`), for the engine's own
stores (schedule, heatmap); not public."""
run_started_emitter: Emitter[RunStarted] = Emitter("run_started")
"""Sent when a run starts, before its first frame, for the engine's own stores; not public."""
signal_backtest_emitter: Emitter[Any] = Emitter("signal_backtest")
signal_live_emitter: Emitter[Any] = Emitter("signal_live")
error_emitter: Emitter[BaseException] = Emitter("error")
exit_emitter: Emitter[BaseException] = Emitter("exit")
done_backtest_emitter: Emitter[DoneContract] = Emitter("done_backtest")
done_live_emitter: Emitter[DoneContract] = Emitter("done_live")
done_walker_emitter: Emitter[DoneContract] = Emitter("done_walker")
walker_emitter: Emitter[WalkerContract] = Emitter("walker")
walker_complete_emitter: Emitter[WalkerResults] = Emitter("walker_complete")
progress_walker_emitter: Emitter[WalkerProgress] = Emitter("progress_walker")
progress_backtest_emitter: Emitter[BacktestProgress] = Emitter("progress_backtest")
performance_emitter: Emitter[PerformanceContract] = Emitter("performance")
partial_profit_emitter: Emitter[PartialContract] = Emitter("partial_profit")
partial_loss_emitter: Emitter[PartialContract] = Emitter("partial_loss")
validation_emitter: Emitter[BaseException] = Emitter("validation")
progress_optimizer_emitter: Emitter[OptimizerProgress] = Emitter("progress_optimizer")


def _always(_: Any) -> bool:
    return True


def listen_signal(fn: Callable[[Any], Any]) -> Unsubscribe:
    """Receive every tick and backtest result of every run (backtest and live)."""
    return signal_emitter.subscribe(fn)


def listen_signal_once(filter_fn: Callable[[Any], bool], fn: Callable[[Any], Any]) -> Unsubscribe:
    """Receive the first result that passes `filter_fn`, then unsubscribe."""
    return signal_emitter.once(filter_fn, fn)


def listen_signal_backtest(fn: Callable[[Any], Any]) -> Unsubscribe:
    """Receive every result of backtest runs."""
    return signal_backtest_emitter.subscribe(fn)


def listen_signal_backtest_once(
    filter_fn: Callable[[Any], bool], fn: Callable[[Any], Any]
) -> Unsubscribe:
    """Receive the first backtest result that passes `filter_fn`, then unsubscribe."""
    return signal_backtest_emitter.once(filter_fn, fn)


def listen_signal_live(fn: Callable[[Any], Any]) -> Unsubscribe:
    """Receive every result of live runs."""
    return signal_live_emitter.subscribe(fn)


def listen_signal_live_once(
    filter_fn: Callable[[Any], bool], fn: Callable[[Any], Any]
) -> Unsubscribe:
    """Receive the first live result that passes `filter_fn`, then unsubscribe."""
    return signal_live_emitter.once(filter_fn, fn)


def listen_error(fn: Callable[[BaseException], Any]) -> Unsubscribe:
    """Receive recoverable errors: strategy exceptions, invalid signals, failed fetches."""
    return error_emitter.subscribe(fn)


def listen_exit(fn: Callable[[BaseException], Any]) -> Unsubscribe:
    """Receive fatal errors that ended a background run."""
    return exit_emitter.subscribe(fn)


def listen_done_backtest(fn: Callable[[DoneContract], Any]) -> Unsubscribe:
    """Receive the end of every background backtest."""
    return done_backtest_emitter.subscribe(fn)


def listen_done_backtest_once(
    filter_fn: Callable[[DoneContract], bool], fn: Callable[[DoneContract], Any]
) -> Unsubscribe:
    """Receive the end of the first background backtest that passes `filter_fn`."""
    return done_backtest_emitter.once(filter_fn, fn)


def listen_done_live(fn: Callable[[DoneContract], Any]) -> Unsubscribe:
    """Receive the end of every background live run."""
    return done_live_emitter.subscribe(fn)


def listen_done_live_once(
    filter_fn: Callable[[DoneContract], bool], fn: Callable[[DoneContract], Any]
) -> Unsubscribe:
    """Receive the end of the first background live run that passes `filter_fn`."""
    return done_live_emitter.once(filter_fn, fn)


def listen_backtest_progress(fn: Callable[[BacktestProgress], Any]) -> Unsubscribe:
    """Receive backtest progress (batched: about 200 updates per run, always the last)."""
    return progress_backtest_emitter.subscribe(fn)


def listen_performance(fn: Callable[[PerformanceContract], Any]) -> Unsubscribe:
    """Receive timing measurements of the engine's steps."""
    return performance_emitter.subscribe(fn)


def listen_partial_profit(fn: Callable[[PartialContract], Any]) -> Unsubscribe:
    """Receive every partial profit level (10 %, 20 % … of price move) an open signal reaches."""
    return partial_profit_emitter.subscribe(fn)


def listen_partial_profit_once(
    filter_fn: Callable[[PartialContract], bool], fn: Callable[[PartialContract], Any]
) -> Unsubscribe:
    """Receive the first partial profit event that passes `filter_fn`."""
    return partial_profit_emitter.once(filter_fn, fn)


def listen_partial_loss(fn: Callable[[PartialContract], Any]) -> Unsubscribe:
    """Receive every partial loss level an open signal reaches."""
    return partial_loss_emitter.subscribe(fn)


def listen_partial_loss_once(
    filter_fn: Callable[[PartialContract], bool], fn: Callable[[PartialContract], Any]
) -> Unsubscribe:
    """Receive the first partial loss event that passes `filter_fn`."""
    return partial_loss_emitter.once(filter_fn, fn)


def listen_validation(fn: Callable[[BaseException], Any]) -> Unsubscribe:
    """Receive the errors raised by risk validations (rejections)."""
    return validation_emitter.subscribe(fn)


def listen_optimizer_progress(fn: Callable[[OptimizerProgress], Any]) -> Unsubscribe:
    """Receive optimizer progress: one event before each (range, source) step, then 1.0."""
    return progress_optimizer_emitter.subscribe(fn)


def listen_walker(fn: Callable[[WalkerContract], Any]) -> Unsubscribe:
    """Receive each strategy a walker finishes (the rows `Walker.run` yields)."""
    return walker_emitter.subscribe(fn)


def listen_walker_once(
    filter_fn: Callable[[WalkerContract], bool], fn: Callable[[WalkerContract], Any]
) -> Unsubscribe:
    """Receive the first walker row that passes `filter_fn`, then unsubscribe."""
    return walker_emitter.once(filter_fn, fn)


def listen_walker_complete(fn: Callable[[WalkerResults], Any]) -> Unsubscribe:
    """Receive the final results of every walker, per symbol."""
    return walker_complete_emitter.subscribe(fn)


def listen_walker_progress(fn: Callable[[WalkerProgress], Any]) -> Unsubscribe:
    """Receive walker progress: strategies processed out of the total, per symbol."""
    return progress_walker_emitter.subscribe(fn)


def listen_done_walker(fn: Callable[[DoneContract], Any]) -> Unsubscribe:
    """Receive the end of every background walker (`strategy_name` is the walker's name)."""
    return done_walker_emitter.subscribe(fn)


def listen_done_walker_once(
    filter_fn: Callable[[DoneContract], bool], fn: Callable[[DoneContract], Any]
) -> Unsubscribe:
    """Receive the end of the first background walker that passes `filter_fn`."""
    return done_walker_emitter.once(filter_fn, fn)
