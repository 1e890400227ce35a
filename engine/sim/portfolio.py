"""The portfolio backtest: every (strategy, symbol) pair advancing on one simulated clock.

Upstream backtests strategies one at a time, or concurrently with JavaScript's event loop
deciding what a shared risk profile sees (docs/semantics.md#risk). Here every pair runs on
one clock, so a risk profile shared by several pairs sees exactly the positions open at each
moment.

How: a heap of pair events keyed by `(time, kind, pair)`. A pair's `TICK` is one of its
frames, processed as in `Backtest.run` (docs/semantics.md#backtest-loop). A market signal's
outcome comes from the fast path (docs/semantics.md#fast-path), but its risk position stays
registered until the clock reaches the close (`CLOSE`). A scheduled signal's
cancel-or-activate scan is computed up front, and the risk check at activation waits for
an `ACTIVATE` event at the activating candle's time; a rejection there cancels the signal
(docs/semantics.md#risk). Results come out when the clock reaches them (a close when it
closes), so the generator yields in time order.

Order of events at one timestamp T (one minute): first the frame ticks at T (decisions at
the start of the minute), then the activations of scheduled entries touched during minute T,
then the closes during minute T; within a kind, pairs go in order — the strategies as given,
each over the symbols as given. So a position is open from its open time to its close time,
both included, and a check at T sees the positions opened before it at T.

With one strategy on one symbol the results are exactly those of `Backtest.run`.

Parallel: pairs linked by a shared risk profile must share the clock; other pairs are
independent. Each group of linked pairs is one work unit for the executor (see
`engine.sim.parallel`), and the groups' results are merged back in the same time order, so the
output equals the serial run's.
"""

from __future__ import annotations

import heapq
import os
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.core import events
from engine.core.clock import SYSTEM_CLOCK
from engine.core.config import snapshot
from engine.core.errors import ConfigError
from engine.core.events import BacktestProgress, RunStarted
from engine.core.models import Action, ClosedResult
from engine.core.registration import exchanges, frames, risk_client, risks, strategies
from engine.data.store import CandleArrays
from engine.sim.backtest import PROGRESS_UPDATES, Backtest
from engine.sim.exchange import ClientExchange
from engine.sim.frame import priced_timeframes, timeframes
from engine.sim.parallel import (
    SerialExecutor,
    WorkerSetup,
    captured_errors,
    default_workers,
    deliver_errors,
    executor_scope,
    here,
    pair_seed,
)
from engine.sim.risk import Risk, RiskParams
from engine.sim.strategy import ClientStrategy

if TYPE_CHECKING:
    from engine.sim.backtest import BacktestUtils

TICK, ACTIVATE, CLOSE = 0, 1, 2
"""Event kinds, in their order at equal timestamps."""

EventKey = tuple[int, int, int]
"""`(time, kind, pair index)`: the order in which the clock processes events."""

Pair = tuple[int, str, str]
"""`(index, strategy_name, symbol)`: a pair and its place in the order of events."""

_SOURCE = "Backtest.run_portfolio"


class _PairRisk:
    """A pair's view of its risk profile: a close is applied when the clock reaches it."""

    def __init__(self, risk: Risk) -> None:
        self.risk = risk
        self.name = risk.name
        self.closing = False

    def check_signal(self, params: RiskParams) -> bool:
        return self.risk.check_signal(params)

    def add_signal(self, symbol: str, strategy_name: str, exchange_name: str, when: int) -> None:
        self.risk.add_signal(symbol, strategy_name, exchange_name, when)

    def remove_signal(self, symbol: str, strategy_name: str) -> None:
        self.closing = True

    def release(self, symbol: str, strategy_name: str) -> None:
        """Apply a close the strategy asked for (the clock has reached it)."""
        if self.closing:
            self.closing = False
            self.risk.remove_signal(symbol, strategy_name)


class _PairClock:
    """One pair's progress through the frames; each event handler sets the pair's next one."""

    def __init__(
        self,
        index: int,
        strategy: ClientStrategy,
        risk: _PairRisk,
        frames_ms: np.ndarray,
        publish: Callable[[Any], None],
    ) -> None:
        self.index = index
        self.strategy = strategy
        self.risk = risk
        self.publish = publish
        self.total = len(frames_ms)
        self.first = int(frames_ms[0]) if self.total else 0
        self.step = int(frames_ms[1] - frames_ms[0]) if self.total > 1 else 1
        self.i = 0
        self.next: tuple[int, int] | None = (self.first, TICK) if self.total else None
        self.outcome: Any = None
        self.activation: tuple[CandleArrays, int, int] | None = None
        self.progress_every = max(1, self.total // PROGRESS_UPDATES)
        self.next_progress = 0

    def handle(self, when: int, kind: int) -> Any:
        """Process one event; return the result it reports, if any."""
        self.next = None
        if kind == TICK:
            return self._tick(when)
        if kind == ACTIVATE:
            return self._activate(when)
        return self._close(when)

    def _frame(self, i: int) -> None:
        self.i = i
        if i < self.total:
            self.next = (self.first + i * self.step, TICK)
        else:
            self._progress(self.total)

    def _after(self, when: int) -> None:
        """Go on at the first frame after `when` (the loop's skip, docs/semantics.md)."""
        self._frame(max(self.i, -((self.first - when) // self.step)) + 1)

    def _progress(self, done: int) -> None:
        if events.progress_backtest_emitter.listeners:
            s = self.strategy
            events.progress_backtest_emitter.emit(
                BacktestProgress(
                    s.exchange.name, s.name, s.symbol, self.total, done, done / self.total
                )
            )

    def _tick(self, when: int) -> Any:
        s = self.strategy
        if self.i >= self.next_progress:
            self._progress(self.i)
            self.next_progress = self.i + self.progress_every
        try:
            result = s.tick(when)
        except Exception as exc:
            s.report(exc, when, "tick")
            return self._frame(self.i + 1)
        if result is None:
            return self._frame(self.i + 1)
        self.publish(result)
        action = result.action
        if action is Action.CLOSED:  # the tick path closed the position at `when`
            self.next = (when, CLOSE)
            return None
        if action is not Action.SCHEDULED and action is not Action.OPENED:
            return self._frame(self.i + 1)
        need = result.signal.minute_estimated_time
        if action is Action.SCHEDULED:
            need += int(s.settings.schedule_await_minutes) + 1
        try:
            candles = s.exchange.get_next_candles(s.symbol, "1m", need, when)
            if len(candles) == 0:
                return self._frame(self.i + 1)
            if action is Action.SCHEDULED:
                found = s.scan_scheduled(candles, when)
                if isinstance(found, int):
                    self.activation = (candles, found, when)
                    self.next = (int(candles.timestamp[found]), ACTIVATE)
                    return None
                outcome = found
            else:
                outcome = s.backtest(candles, when)
        except Exception as exc:
            s.report(exc, when, "backtest")
            return self._frame(self.i + 1)
        return self._resolve(outcome)

    def _resolve(self, outcome: Any) -> Any:
        close = getattr(outcome, "close_timestamp", None)
        if close is None:  # `active`: the data ran out while the entry waited
            self.publish(outcome)
            self._frame(self.i + 1)
            return outcome
        self.outcome = outcome
        self.next = (close, CLOSE)
        return None

    def _activate(self, when: int) -> Any:
        assert self.activation is not None
        candles, k, frame_time = self.activation
        self.activation = None
        try:
            outcome = self.strategy.activate_scheduled(candles, k, frame_time)
        except Exception as exc:
            self.strategy.report(exc, frame_time, "backtest")
            return self._after(when)
        return self._resolve(outcome)

    def _close(self, when: int) -> Any:
        self.risk.release(self.strategy.symbol, self.strategy.name)
        outcome, self.outcome = self.outcome, None
        if outcome is not None:
            self.publish(outcome)
        self._after(when)
        return outcome


def run_clock(
    pairs: Sequence[_PairClock], cancel: threading.Event | None = None
) -> Iterator[tuple[EventKey, Any]]:
    """Advance every pair on one clock; yield `(event key, result)` in time order."""
    by_index = {p.index: p for p in pairs}
    heap = [(p.next[0], p.next[1], p.index) for p in pairs if p.next is not None]
    heapq.heapify(heap)
    while heap:
        if cancel is not None and cancel.is_set():
            return
        key = heapq.heappop(heap)
        pair = by_index[key[2]]
        result = pair.handle(key[0], key[1])
        if pair.next is not None:
            heapq.heappush(heap, (pair.next[0], pair.next[1], key[2]))
        if result is not None:
            yield key, result


def build_pairs(
    utils: BacktestUtils,
    pairs: Sequence[Pair],
    exchange_name: str,
    frame_name: str,
    profile: str | None,
    source: str = _SOURCE,
) -> list[_PairClock]:
    """Create the pairs' strategies (sharing their risk profiles) and start their runs."""
    settings = snapshot(profile)
    exchange = ClientExchange(exchanges.get(exchange_name, source), settings, SYSTEM_CLOCK)
    frame = frames.get(frame_name, source)
    shared: dict[str, Risk] = {}
    times: dict[str, np.ndarray] = {}
    built = []
    for index, strategy_name, symbol in pairs:
        schema = strategies.get(strategy_name, source)
        risk_name = schema.risk_name or ""
        if risk_name not in shared:
            shared[risk_name] = risk_client(risk_name, source, fresh=True)
        risk = _PairRisk(shared[risk_name])
        client = ClientStrategy(
            schema, exchange, symbol, settings, risk, backtest=True, frame_name=frame_name
        )
        client.ids = random.Random(pair_seed(strategy_name, symbol))
        if symbol not in times:
            times[symbol] = priced_timeframes(
                timeframes(frame, symbol), exchange.first_known_ms(symbol)
            )
        built.append(_PairClock(index, client, risk, times[symbol], utils.publish))
    start_runs(utils, pairs, frame_name)
    return built


def start_runs(utils: BacktestUtils, pairs: Sequence[Pair], frame_name: str) -> None:
    """Forget the pairs' previous results and note their frame, as starting a backtest does."""
    for _, strategy_name, symbol in pairs:
        utils.clear(symbol, strategy_name)
        utils.remember_frame(symbol, strategy_name, frame_name)
        events.run_started_emitter.emit(RunStarted(symbol, strategy_name, True))


def risk_groups(pairs: Sequence[Pair]) -> list[tuple[Pair, ...]]:
    """Split pairs into independent groups: pairs sharing a risk profile go together."""
    groups: dict[str, list[Pair]] = {}
    alone: list[tuple[Pair, ...]] = []
    for pair in pairs:
        risk_name = strategies.get(pair[1], _SOURCE).risk_name
        if risk_name:
            groups.setdefault(risk_name, []).append(pair)
        else:
            alone.append((pair,))
    return [*(tuple(g) for g in groups.values()), *alone]


@dataclass(frozen=True, slots=True)
class PortfolioJob:
    """A group of pairs sharing risk profiles, as a work unit (see `engine.sim.parallel`)."""

    pairs: tuple[Pair, ...]
    exchange_name: str
    frame_name: str
    setup: WorkerSetup


@dataclass(frozen=True, slots=True)
class PortfolioJobResult:
    """What a portfolio job returns.

    Attributes:
        results: `(event key, result)` in time order, ready to merge with other groups.
        closed: `(symbol, strategy_name, closed results)` of every pair.
        errors: the errors the run reported (only when it ran in another process).
        ran_in: the process it ran in.
    """

    results: tuple[tuple[EventKey, Any], ...]
    closed: tuple[tuple[str, str, tuple[ClosedResult, ...]], ...]
    errors: tuple[BaseException, ...]
    ran_in: str

    def deliver(self) -> None:
        """In the caller: record the results of a run made elsewhere and re-emit its errors."""
        if self.ran_in != here():
            for symbol, strategy_name, closed in self.closed:
                Backtest.record(symbol, strategy_name, closed)
        deliver_errors(self.errors, self.ran_in)


def run_portfolio_job(job: PortfolioJob) -> PortfolioJobResult:
    """Run one group of pairs on its clock (in any process)."""
    setup = job.setup
    setup.prepare(sorted({p[1] for p in job.pairs}), job.exchange_name, job.frame_name)
    with captured_errors(setup) as errors:
        built = build_pairs(Backtest, job.pairs, job.exchange_name, job.frame_name, setup.profile)
        results = tuple(run_clock(built))
    closed = tuple(
        (symbol, name, Backtest.get_data(symbol, name).signal_list) for _, name, symbol in job.pairs
    )
    return PortfolioJobResult(results, closed, tuple(errors), here())


def run_portfolio(
    utils: BacktestUtils,
    symbols: Sequence[str],
    strategy_names: Sequence[str],
    *,
    exchange_name: str,
    frame_name: str,
    profile: str | None = None,
    executor: Executor | None = None,
    modules: Sequence[str | Path] | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[Any]:
    """Backtest every strategy on every symbol on one clock; return the results in time order.

    Args:
        utils: the `Backtest` object whose statistics and listeners get the results.
        symbols: the symbols, in the order used at equal timestamps.
        strategy_names: the strategies, in the order used at equal timestamps.
        exchange_name: the exchange.
        frame_name: the frame shared by every pair.
        profile: the execution profile (default: the current one).
        executor: where independent groups of pairs run. None: in this process when there
            is one group or one core, else a process pool over every core. `SerialExecutor`:
            in this process, results streamed as the clock advances.
        modules: the user modules workers load (default: the ones loaded in this process
            with `engine.core.loader.load_module`).
        cancel: set it to stop the run at the next event (serial) or job (parallel).

    Returns:
        A generator of results (closed, cancelled, active) in the order the clock reaches
        them. Names are checked before it starts. Once it is consumed,
        `utils.get_portfolio_account(symbols, strategy_names)` replays every pair's trades
        in one account.
    """
    if not symbols or not strategy_names:
        raise ConfigError(f"{_SOURCE}: give at least one symbol and one strategy")
    pairs = [
        (i * len(symbols) + j, name, symbol)
        for i, name in enumerate(strategy_names)
        for j, symbol in enumerate(symbols)
    ]
    for kind, names in (("symbol", list(symbols)), ("strategy", list(strategy_names))):
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ConfigError(f"{_SOURCE}: {kind} given twice: {', '.join(repeated)}")
    exchanges.get(exchange_name, _SOURCE)
    frames.get(frame_name, _SOURCE)
    for name in strategy_names:
        risk_name = strategies.get(name, _SOURCE).risk_name
        if risk_name:
            risks.get(risk_name, _SOURCE)
    groups = risk_groups(pairs)
    serial = isinstance(executor, SerialExecutor) or (
        executor is None and (len(groups) < 2 or (os.cpu_count() or 1) < 2)
    )
    if serial:
        built = build_pairs(utils, pairs, exchange_name, frame_name, profile)
        return (result for _, result in run_clock(built, cancel))
    setup = WorkerSetup.capture(profile, modules)
    start_runs(utils, pairs, frame_name)
    jobs = [PortfolioJob(group, exchange_name, frame_name, setup) for group in groups]
    return _fan_out(jobs, executor, cancel)


def _fan_out(
    jobs: Sequence[PortfolioJob], executor: Executor | None, cancel: threading.Event | None
) -> Iterator[Any]:
    outputs = []
    setup = jobs[0].setup if jobs else None
    with executor_scope(executor, default_workers(len(jobs)), setup) as pool:
        futures = [pool.submit(run_portfolio_job, job) for job in jobs]
        for future in futures:
            if cancel is not None and cancel.is_set():
                for pending in futures:
                    pending.cancel()
                return
            outputs.append(future.result())
    for output in outputs:
        output.deliver()
    merged = heapq.merge(*(o.results for o in outputs), key=lambda keyed: keyed[0])
    for _, result in merged:
        yield result
