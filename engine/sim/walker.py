"""The walker: backtest several strategies on a symbol and rank them by a metric (docs/walker.md).

Each strategy's backtest is an independent job (`engine.sim.parallel`), so the backtests run on
an executor — by default a process pool over every core — and are reported in the walker's
strategy order, exactly as a serial run reports them. The metric is always maximised; on a
tie the first strategy wins, as upstream.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import BrokenExecutor, Executor, Future
from pathlib import Path
from typing import Any

from engine.analytics.reports.markdown import save_report
from engine.analytics.reports.walker import walker_report
from engine.analytics.stats import safe
from engine.core.errors import ConfigError
from engine.core.events import (
    DoneContract,
    WalkerContract,
    WalkerProgress,
    WalkerRank,
    WalkerResults,
    done_walker_emitter,
    error_emitter,
    exit_emitter,
    progress_walker_emitter,
    walker_complete_emitter,
    walker_emitter,
)
from engine.core.logger import engine_logger
from engine.core.registration import exchanges, frames, risks, strategies
from engine.core.registry import Registry
from engine.core.schemas import Fn, Schema
from engine.sim.backtest import Backtest
from engine.sim.parallel import (
    BacktestJob,
    BacktestJobResult,
    WorkerSetup,
    batches,
    default_workers,
    executor_scope,
    run_backtest_job,
)

_log = engine_logger(__name__)

METRICS = {
    "sharpeRatio": "sharpe_ratio",
    "annualizedSharpeRatio": "annualized_sharpe_ratio",
    "winRate": "win_rate",
    "totalPnl": "total_pnl",
    "certaintyRatio": "certainty_ratio",
    "avgPnl": "avg_pnl",
    "expectedYearlyReturns": "expected_yearly_returns",
    "sortinoRatio": "sortino_ratio",
    "profitFactor": "profit_factor",
}
"""Metrics a walker can maximise: upstream's camelCase names → the statistics' fields."""
_SOURCE = "Walker.run"
NO_DATA = "No walker data available - no results added yet"


def metric_field(name: str | None) -> str:
    """Return the statistics field of a metric given in snake_case or camelCase."""
    if name is None:
        return "sharpe_ratio"
    field = METRICS.get(name, name)
    if field not in METRICS.values():
        known = ", ".join(METRICS.values())
        raise ConfigError(f"metric {name!r} is unknown; use one of {known}")
    return field


class WalkerCallbacks(Schema):
    """Optional hooks of a walker."""

    on_strategy_start: Fn | None = None
    on_strategy_complete: Fn | None = None
    on_strategy_error: Fn | None = None
    on_complete: Fn | None = None


class WalkerSchema(Schema):
    """A walker: strategies compared on one exchange and frame by a metric."""

    walker_name: str | None = None
    note: str | None = None
    exchange_name: str | None = None
    frame_name: str | None = None
    strategies: Any = None
    metric: str | None = None
    callbacks: WalkerCallbacks | None = None

    def check(self) -> None:
        """Raise upstream's text for a missing or bad field (docs/semantics.md#registration)."""
        prefix = "walker schema validation failed:"
        name = self.walker_name
        if not name:
            raise ConfigError(f"{prefix} missing walkerName")
        if not isinstance(self.exchange_name, str):
            raise ConfigError(f"{prefix} missing exchangeName for walkerName={name}")
        if not isinstance(self.frame_name, str):
            raise ConfigError(f"{prefix} missing frameName for walkerName={name}")
        if not isinstance(self.strategies, list | tuple):
            raise ConfigError(f"{prefix} strategies must be an array for walkerName={name}")
        if len(self.strategies) == 0:
            raise ConfigError(f"{prefix} strategies array cannot be empty for walkerName={name}")
        try:
            metric_field(self.metric)
        except ConfigError as exc:
            raise ConfigError(f"{prefix} {exc} (walkerName={name})") from None

    @property
    def metric_name(self) -> str:
        """The statistics field this walker maximises (default `sharpe_ratio`)."""
        return metric_field(self.metric)


walkers: Registry[WalkerSchema] = Registry("walker", "walker_name")


def add_walker(schema: Any = None, /, **fields: Any) -> None:
    """Register a walker: `exchange_name`, `frame_name`, `strategies`, `metric`, `callbacks`."""
    model = WalkerSchema.build("walker", schema, fields)
    if model.walker_name and walkers.has(model.walker_name):
        raise ConfigError(f"walker {model.walker_name} already exist")
    model.check()
    walkers.add(model)


def list_walkers() -> list[WalkerSchema]:
    """Return the registered walkers."""
    return walkers.list()


def rank(rows: Sequence[WalkerContract]) -> tuple[WalkerRank, ...]:
    """Order strategies best first: metric descending, undefined last, ties in given order."""
    ordered = sorted(rows, key=lambda r: (r.metric_value is None, -(r.metric_value or 0.0)))
    return tuple(
        WalkerRank(i, r.strategy_name, r.metric_value, r.stats) for i, r in enumerate(ordered, 1)
    )


def _name(context: Mapping[str, Any] | None, walker_name: str | None) -> str:
    name = walker_name or (context or {}).get("walker_name") or (context or {}).get("walkerName")
    if not name:
        raise ConfigError(f"{_SOURCE}: missing walker_name")
    return str(name)


def _result(
    future: Future[tuple[BacktestJobResult, ...]], index: int, job: BacktestJob, strategy: str
) -> BacktestJobResult:
    """Return a strategy's result; run it here if the worker pool broke down."""
    try:
        return future.result()[index]
    except BrokenExecutor as exc:
        _log.warn(
            f"the worker processes stopped ({exc!r}); running {strategy} on {job.symbol} "
            "in this process instead"
        )
        (output,) = run_backtest_job(dataclasses.replace(job, strategy_names=(strategy,)))
        return output


class WalkerUtils:
    """Run walkers and read their results and reports (upstream's `Walker`)."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], list[WalkerContract]] = {}
        self._lock = threading.Lock()

    def run(
        self,
        symbol: str,
        context: Mapping[str, Any] | None = None,
        *,
        walker_name: str | None = None,
        profile: str | None = None,
        executor: Executor | None = None,
        modules: Sequence[str | Path] | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[WalkerContract]:
        """Backtest the walker's strategies on `symbol`; yield one row per strategy, in order.

        Args:
            symbol: the symbol.
            context: `{"walkerName": …}` (upstream's form), or use `walker_name`.
            walker_name: the registered walker.
            profile: the execution profile (default: the current one).
            executor: where the backtests run. None: a process pool over every core (in this
                process when there is a single strategy or core, and, with a logged
                warning, when worker processes could not run them: a script without a
                main guard while other threads run, or strategies registered outside a
                module file). `SerialExecutor()`: one after the other in this process.
                Either way the events you listen to reach you here, in order per
                backtest; strategy callbacks (`on_open`, …) run where the backtest runs.
            modules: the user modules the workers load (default: the ones loaded in this
                process with `engine.core.loader.load_module`).
            cancel: set it to stop before the next strategy.

        Names are checked before anything runs. Strategies whose backtest raises are
        skipped (`on_strategy_error`, `listen_error`). If the worker pool breaks down, the
        strategies it had not finished run in this process (a logged warning): a walker
        never returns an empty ranking without an error.
        """
        return self.run_symbols(
            [symbol],
            context,
            walker_name=walker_name,
            profile=profile,
            executor=executor,
            modules=modules,
            cancel=cancel,
        )

    def run_symbols(
        self,
        symbols: Sequence[str],
        context: Mapping[str, Any] | None = None,
        *,
        walker_name: str | None = None,
        profile: str | None = None,
        executor: Executor | None = None,
        modules: Sequence[str | Path] | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[WalkerContract]:
        """Run the walker on several symbols with one executor; yield rows symbol by symbol.

        Every (symbol, strategy) backtest is submitted at once, so all cores stay busy;
        each symbol gets its own results (`get_data(symbol, walker_name)`). Arguments as
        for `run`.
        """
        name = _name(context, walker_name)
        schema = walkers.get(name, _SOURCE)
        exchange = schema.exchange_name or ""
        frame = schema.frame_name or ""
        exchanges.get(exchange, _SOURCE)
        frames.get(frame, _SOURCE)
        for strategy in schema.strategies:
            risk_name = strategies.get(strategy, _SOURCE).risk_name
            if risk_name:
                risks.get(risk_name, _SOURCE)
        setup = WorkerSetup.capture(profile, modules)
        with self._lock:
            for symbol in symbols:
                self._rows[(symbol, name)] = []
        for symbol in symbols:
            for strategy in schema.strategies:
                Backtest.clear(symbol, strategy)
        return self._walk(schema, list(symbols), setup, executor, cancel)

    def _walk(
        self,
        schema: WalkerSchema,
        symbols: list[str],
        setup: WorkerSetup,
        executor: Executor | None,
        cancel: threading.Event | None,
    ) -> Iterator[WalkerContract]:
        names = list(schema.strategies)
        workers = default_workers(len(symbols) * len(names)) if executor is None else 0
        jobs = [
            BacktestJob(symbol, chunk, schema.exchange_name or "", schema.frame_name or "", setup)
            for symbol, chunk in batches(symbols, names, workers)
        ]
        with executor_scope(executor, workers, setup) as pool:
            futures = [pool.submit(run_backtest_job, job) for job in jobs]
            where = {
                (job.symbol, strategy): (future, i, job)
                for job, future in zip(jobs, futures, strict=True)
                for i, strategy in enumerate(job.strategy_names)
            }
            try:
                for symbol in symbols:
                    mine = [(s, *where[(symbol, s)]) for s in names]
                    yield from self._symbol(schema, symbol, mine, cancel)
                    if cancel is not None and cancel.is_set():
                        return
            finally:
                for future in futures:
                    future.cancel()

    def _symbol(
        self,
        schema: WalkerSchema,
        symbol: str,
        jobs: list[tuple[str, Future[tuple[BacktestJobResult, ...]], int, BacktestJob]],
        cancel: threading.Event | None,
    ) -> Iterator[WalkerContract]:
        name = schema.walker_name or ""
        metric = schema.metric_name
        exchange, frame = schema.exchange_name or "", schema.frame_name or ""
        callbacks = schema.callbacks or WalkerCallbacks()
        best_metric: float | None = None
        best_strategy: str | None = None
        tested = 0
        for strategy, future, index, job in jobs:
            if cancel is not None and cancel.is_set():
                return
            _call(callbacks.on_strategy_start, strategy, symbol)
            try:
                output = _result(future, index, job, strategy)
            except ConfigError:
                raise
            except Exception as exc:
                _log.warn(f"walker {name}: {strategy} on {symbol} failed: {exc!r}")
                error_emitter.emit(exc)
                _call(callbacks.on_strategy_error, strategy, symbol, exc)
                continue
            output.deliver()
            stats = output.statistics
            value = safe(getattr(stats, metric))
            _log.info(
                "walker strategy done",
                {"walker_name": name, "symbol": symbol, "strategy_name": strategy,
                 "metric": metric, "value": value},
            )  # fmt: skip
            if value is not None and (best_metric is None or value > best_metric):
                best_metric, best_strategy = value, strategy
            tested += 1
            row = WalkerContract(
                name,
                exchange,
                frame,
                symbol,
                strategy,
                stats,
                value,
                metric,
                best_metric,
                best_strategy,
                tested,
                len(jobs),
            )
            with self._lock:
                self._rows.setdefault((symbol, name), []).append(row)
            progress_walker_emitter.emit(
                WalkerProgress(name, exchange, frame, symbol, len(jobs), tested, tested / len(jobs))
            )
            _call(callbacks.on_strategy_complete, strategy, symbol, stats, value)
            walker_emitter.emit(row)
            yield row
        with self._lock:
            rows = list(self._rows.get((symbol, name), ()))
        results = _results(name, symbol, exchange, frame, metric, len(jobs), rows)
        _call(callbacks.on_complete, results)
        walker_complete_emitter.emit(results)

    def background(
        self,
        symbol: str,
        context: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Callable[[], None]:
        """Run a walker in a thread; return a function that stops it before its next strategy.

        Takes the arguments of `run`. Emits `listen_done_walker` when it ends (also after a
        stop); a fatal error goes to `listen_exit`, setup errors too (an unknown walker,
        strategy, exchange or frame): as upstream, `background` itself never raises; a run
        that could not start emits no `done`.
        """
        cancel = threading.Event()
        name = str((context or {}).get("walkerName") or options.get("walker_name"))

        def consume() -> None:
            try:
                walker = _name(context, options.get("walker_name"))
                exchange = walkers.get(walker, "Walker.background").exchange_name or ""
                rows = self.run(symbol, context, cancel=cancel, **options)
            except Exception as exc:
                _log.warn(f"Walker.background {name} {symbol} could not start: {exc!r}")
                exit_emitter.emit(exc)
                return
            try:
                for _ in rows:
                    pass
            except Exception as exc:
                _log.warn(f"Walker.background {walker} {symbol} failed: {exc!r}")
                exit_emitter.emit(exc)
            done_walker_emitter.emit(DoneContract(exchange, walker, True, symbol))

        thread = threading.Thread(target=consume, name=f"walker-{name}-{symbol}", daemon=True)
        thread.start()
        return cancel.set

    def get_data(self, symbol: str, walker_name: str) -> WalkerResults:
        """Return the walker's results on `symbol`: the best strategy and the ranking.

        Raises:
            ConfigError: the walker is unknown, or it has no result on `symbol` yet.
        """
        walkers.get(walker_name, "Walker.get_data")
        with self._lock:
            rows = list(self._rows.get((symbol, walker_name), ()))
        if not rows:
            raise ConfigError(NO_DATA)
        last = rows[-1]
        return _results(
            walker_name,
            symbol,
            last.exchange_name,
            last.frame_name,
            last.metric,
            last.total_strategies,
            rows,
        )

    def get_report(self, symbol: str, walker_name: str) -> str:
        """Return the markdown comparison report of the walker on `symbol`."""
        return walker_report(self.get_data(symbol, walker_name))

    def dump(self, symbol: str, walker_name: str, path: str | Path = "./dump/walker") -> Path:
        """Write the report to `<path>/<walker_name>.md` and return the file's path."""
        report = self.get_report(symbol, walker_name)
        return save_report(path, walker_name, report, "Walker report")

    def clear(self, symbol: str | None = None, walker_name: str | None = None) -> None:
        """Forget stored results (all, or one symbol/walker pair)."""
        with self._lock:
            if symbol is None or walker_name is None:
                self._rows.clear()
            else:
                self._rows.pop((symbol, walker_name), None)


def _results(
    walker_name: str,
    symbol: str,
    exchange_name: str,
    frame_name: str,
    metric: str,
    total: int,
    rows: Sequence[WalkerContract],
) -> WalkerResults:
    ranking = rank(rows)
    best = ranking[0] if ranking and ranking[0].metric_value is not None else None
    return WalkerResults(
        walker_name,
        symbol,
        exchange_name,
        frame_name,
        metric,
        total,
        best.strategy_name if best else None,
        best.metric_value if best else None,
        best.stats if best else None,
        ranking,
    )


def _call(fn: Callable[..., Any] | None, *args: Any) -> None:
    """Call a walker callback; an exception is reported, never fatal."""
    if fn is None:
        return
    try:
        fn(*args)
    except Exception as exc:
        _log.warn(f"walker callback {getattr(fn, '__name__', fn)} raised {exc!r}")
        error_emitter.emit(exc)


Walker = WalkerUtils()
