"""Backtests fanned out to a `concurrent.futures.Executor` (a process pool, Dask, Ray).

A work unit is a frozen, picklable job that is self-sufficient in a fresh process: it names
the strategy (or a few), symbol, exchange and frame, and carries a `WorkerSetup` (the execution
profile, the `CC_*` settings and the user modules — files that call `add_*` — to load
before running, with the built-in strategies). Any executor runs it unchanged: the default
process pool, `distributed.Client.get_executor()`, Ray's executor, or `SerialExecutor`,
which runs each job in the caller's thread.

Signal ids are seeded per (strategy, symbol), so a parallel run returns exactly what the
serial run returns. A job that runs in another process records the events the caller
listens to (`listen_signal`, `listen_signal_backtest`, `listen_partial_*`, progress,
performance) and the caller re-emits them, in order per backtest, with its closed results
(so `Backtest.get_data` and reports work) and its errors (`listen_error`). Strategy
callbacks (`on_open`, …) run where the backtest runs: in the worker process.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
import threading
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from engine.analytics.stats import BacktestStatistics
from engine.core import events
from engine.core.config import get_config, get_profile, set_config
from engine.core.errors import ConfigError, StrategyError
from engine.core.events import error_emitter
from engine.core.loader import load_module
from engine.core.logger import engine_logger
from engine.core.models import ClosedResult
from engine.core.registration import exchanges, frames, strategies
from engine.data.sources import Source, register_source, registered_sources
from engine.sim.backtest import Backtest

_log = engine_logger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

FORWARDED = {
    emitter.name: emitter
    for emitter in (
        events.signal_emitter,
        events.signal_backtest_emitter,
        events.progress_backtest_emitter,
        events.partial_profit_emitter,
        events.partial_loss_emitter,
        events.performance_emitter,
    )
}
"""The events of a backtest that reach the caller's listeners from a worker process."""
USER_MODULE_PREFIX = "desk_user_"  # how engine.core.loader.load_module names what it imports
_TOKEN = uuid.uuid4().hex
_loaded_here: set[str] = set()
_prepare_lock = threading.Lock()  # executors may run several jobs at once in one process


def here() -> str:
    """Return an id of this process (distinct in forked children and on other machines)."""
    return f"{_TOKEN}:{os.getpid()}"


def pair_seed(strategy_name: str, symbol: str) -> int:
    """Return the signal-id seed of a (strategy, symbol) pair."""
    return zlib.crc32(f"{strategy_name}\x00{symbol}".encode())


class _LazyFuture(Future[T]):
    """A future that runs its call when its result is first asked for."""

    def __init__(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]):
        super().__init__()
        self._call: tuple[Callable[..., T], tuple[Any, ...], dict[str, Any]] | None = (
            fn,
            args,
            kwargs,
        )

    def _run(self) -> None:
        call, self._call = self._call, None
        if call is None or not self.set_running_or_notify_cancel():
            return
        fn, args, kwargs = call
        try:
            self.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to whoever asks for the result
            self.set_exception(exc)

    def result(self, timeout: float | None = None) -> T:
        """Run the call if it has not run yet, then return its result."""
        self._run()
        return super().result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """Run the call if it has not run yet, then return what it raised."""
        self._run()
        return super().exception(timeout)


class SerialExecutor(Executor):
    """Runs each job in the caller's thread, when its result is asked for.

    The serial choice: everything stays in this process (all events fire here) and work
    happens in the order results are read, so a walker still reports strategy by strategy.
    Read results in order (`as_completed` would wait forever for jobs never asked for).
    """

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Return a future that runs `fn(*args, **kwargs)` when its result is read."""
        return _LazyFuture(fn, args, kwargs)


def _pool_context(setup: WorkerSetup | None) -> Any:
    """Return the multiprocessing start method of the default pool, or None for serial.

    On Linux, `fork` when this process runs no other thread (scripts, `desk walker`):
    workers start at once with what is imported and loaded here. With threads running (the
    desk, `Walker.background`, a Jupyter kernel) forking is unsafe, so `forkserver` forks
    workers from a clean server that imports the engine (`spawn` elsewhere); a job then
    prepares what its process lacks. Those workers re-import the main script and know only
    what user modules register, so where that cannot work (`serial_reason`) None says:
    run serially.
    """
    methods = multiprocessing.get_all_start_methods()
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if setup is not None and serial_reason(setup) is not None:
        return None
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["engine"])
        return context
    return multiprocessing.get_context("spawn")


def serial_reason(setup: WorkerSetup) -> str | None:
    """Say why fresh worker processes cannot run the caller's backtests (None: they can).

    A fresh worker imports the caller's main script again (`multiprocessing` does, to find
    what it unpickles): a script without an `if __name__ == "__main__":` guard would run
    its walker again there. And a worker knows only the built-ins, the registered candle
    sources and what the user modules (`engine.core.loader.load_module`) register: schemas
    added in the script itself or in a notebook are not there.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path and Path(path).is_file():
        source = Path(path).read_text(encoding="utf-8", errors="replace")
        if "__main__" not in source:
            return (
                f'the script {path} has no `if __name__ == "__main__":` guard, which '
                "worker processes need"
            )
    if not setup.modules:
        return (
            "its strategies were not registered from a module file, so worker processes "
            "would not know them (load them with engine.core.loader.load_module, or pass "
            "modules=[...])"
        )
    return None


def default_workers(jobs: int) -> int:
    """Return how many processes the default pool uses for `jobs` jobs (one per core)."""
    return min(os.cpu_count() or 1, jobs)


@contextmanager
def executor_scope(
    executor: Executor | None, workers: int, setup: WorkerSetup | None = None
) -> Iterator[Executor]:
    """Yield `executor`, or a pool of `workers` processes that is shut down afterwards.

    With fewer than two workers the default is `SerialExecutor`: a pool would only add its
    start-up time. So it is, with a logged warning, when worker processes could not run
    the jobs of `setup` (`serial_reason`).
    """
    if executor is not None:
        yield executor
        return
    context = _pool_context(setup) if workers >= 2 else None
    if context is None:
        if workers >= 2 and setup is not None:
            _log.warn(f"running the backtests one by one in this process: {serial_reason(setup)}")
        yield SerialExecutor()
        return
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def loaded_modules() -> tuple[str, ...]:
    """Return the files this process loaded with `engine.core.loader.load_module`, in load order."""
    files = []
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if name.startswith(USER_MODULE_PREFIX) and file:
            files.append(str(Path(file).resolve()))
    return tuple(files)


@dataclass(frozen=True, slots=True)
class WorkerSetup:
    """What a fresh process needs before it can run the caller's backtests.

    Attributes:
        profile: the execution profile of the runs.
        config: the caller's `CC_*` settings, as (key, value) pairs.
        modules: absolute paths of the user modules to load (files that call `add_*`).
        origin: the caller's process id (`here()`); a job running there skips the setup.
        sources: the candle files and cached exchanges the caller registered
            (`engine.data.sources`), registered again where missing or out of date.
        forwarded: the events the caller listens to (emitter names): a job running in
            another process records them and the caller re-emits them, in order.
    """

    profile: str
    config: tuple[tuple[str, float], ...]
    modules: tuple[str, ...]
    origin: str
    sources: tuple[Source, ...] = ()
    forwarded: tuple[str, ...] = ()

    @classmethod
    def capture(
        cls, profile: str | None, modules: Iterable[str | Path] | None = None
    ) -> WorkerSetup:
        """Describe this process: its profile and settings, and its user modules.

        Args:
            profile: the profile of the runs (None: the current one).
            modules: the user modules to load in workers (None: every module this process
                loaded with `engine.core.loader.load_module`).
        """
        config = get_config()
        del config["profile"]
        files = (
            loaded_modules()
            if modules is None
            else tuple(str(Path(m).expanduser().resolve()) for m in modules)
        )
        return cls(
            profile or get_profile(),
            tuple(sorted(config.items())),
            files,
            here(),
            registered_sources(),
            tuple(name for name, emitter in FORWARDED.items() if emitter.watched),
        )

    def prepare(self, strategy_names: Sequence[str], exchange_name: str, frame_name: str) -> None:
        """Make this process ready to run the named backtests (nothing to do in the caller's).

        Applies the settings, registers the caller's candle sources, loads the user modules
        (only if a needed name is missing, and each module once per process), then registers
        the built-in strategies.

        Raises:
            ConfigError: a name is still unknown after loading the modules.
        """
        if self.origin == here():
            return
        with _prepare_lock:
            self._prepare(strategy_names, exchange_name, frame_name)

    def _prepare(self, strategy_names: Sequence[str], exchange_name: str, frame_name: str) -> None:
        current = get_config()
        changed = {k: v for k, v in self.config if current.get(k) != v}
        if changed:
            set_config(changed)
        for source in self.sources:
            register_source(source)
        if _missing(strategy_names, exchange_name, frame_name):
            for path in self.modules:
                if path not in _loaded_here:
                    load_module(path)
                    _loaded_here.add(path)
        from engine.strategies import register_builtin_strategies

        register_builtin_strategies()
        missing = _missing(strategy_names, exchange_name, frame_name)
        if missing:
            raise ConfigError(
                f"{', '.join(missing)} not found in a worker process; backtests run in fresh "
                "processes, so register them in a module file (passed as modules=[...] or "
                "loaded with engine.core.loader.load_module), or pass executor=SerialExecutor()"
            )


def _missing(strategy_names: Sequence[str], exchange_name: str, frame_name: str) -> list[str]:
    missing = [f"strategy {s}" for s in strategy_names if not strategies.has(s)]
    if not exchanges.has(exchange_name):
        missing.append(f"exchange {exchange_name}")
    if not frames.has(frame_name):
        missing.append(f"frame {frame_name}")
    return missing


def _portable(exc: BaseException) -> BaseException:
    """Return `exc` if it survives pickling, else a `StrategyError` with its text."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return StrategyError(f"{type(exc).__name__}: {exc}")
    return exc


@contextmanager
def captured_errors(setup: WorkerSetup) -> Iterator[list[BaseException]]:
    """Collect the `listen_error` errors of a job running away from the caller.

    Only errors raised on this thread count: an executor may run other jobs beside it.
    """
    errors: list[BaseException] = []
    if setup.origin == here():
        yield errors
        return
    thread = threading.get_ident()

    def collect(exc: BaseException) -> None:
        if threading.get_ident() == thread:
            errors.append(_portable(exc))

    unsubscribe = error_emitter.subscribe(collect)
    try:
        yield errors
    finally:
        unsubscribe()


@contextmanager
def captured_events(setup: WorkerSetup) -> Iterator[list[tuple[str, Any]]]:
    """Record, in order, the events the caller listens to, of a job running away from it."""
    recorded: list[tuple[str, Any]] = []
    if setup.origin == here() or not setup.forwarded:
        yield recorded
        return
    thread = threading.get_ident()

    def collector(name: str) -> Callable[[Any], None]:
        def collect(value: Any) -> None:
            if threading.get_ident() == thread:
                recorded.append((name, value))

        return collect

    offs = [FORWARDED[name].subscribe(collector(name)) for name in setup.forwarded]
    try:
        yield recorded
    finally:
        for off in offs:
            off()


def deliver_errors(errors: Sequence[BaseException], ran_in: str) -> None:
    """Re-emit on `listen_error` the errors of a job that ran in another process."""
    if ran_in != here():
        for exc in errors:
            error_emitter.emit(exc)


@dataclass(frozen=True, slots=True)
class BacktestJob:
    """Backtests as a work unit: strategies, one after the other, on a symbol over a frame.

    Usually one strategy; several share the symbol's candles, loaded once per process.
    """

    symbol: str
    strategy_names: tuple[str, ...]
    exchange_name: str
    frame_name: str
    setup: WorkerSetup


def batches(
    symbols: Sequence[str], strategy_names: Sequence[str], workers: int
) -> list[tuple[str, tuple[str, ...]]]:
    """Split (symbol, strategy) backtests into jobs for `workers` processes.

    One job per pair unless a pool's size is known (`workers` ≥ 2): then each symbol's
    strategies are dealt round-robin into as few jobs as keep two jobs per worker, so that a
    worker loads a symbol's candles once instead of once per strategy.
    """
    if workers < 2:
        return [(symbol, (name,)) for symbol in symbols for name in strategy_names]
    per_symbol = min(len(strategy_names), -(-2 * workers // max(len(symbols), 1)))
    return [
        (symbol, tuple(strategy_names[k::per_symbol]))
        for symbol in symbols
        for k in range(per_symbol)
    ]


@dataclass(frozen=True, slots=True)
class BacktestJobResult:
    """What a backtest job returns.

    Attributes:
        symbol, strategy_name: the pair.
        results: what `Backtest.run` yielded (closed, cancelled, active), in order.
        statistics: `Backtest.get_data` of the run (its `signal_list` holds every closed one).
        errors: the errors the run reported (only when it ran in another process).
        ran_in: the process it ran in (`here()` there).
        events: the events the caller listens to, in order (only from another process).
    """

    symbol: str
    strategy_name: str
    results: tuple[Any, ...]
    statistics: BacktestStatistics
    errors: tuple[BaseException, ...]
    ran_in: str
    events: tuple[tuple[str, Any], ...] = ()

    @property
    def closed(self) -> tuple[ClosedResult, ...]:
        """Every closed result of the run, in closing order."""
        return self.statistics.signal_list

    def deliver(self) -> None:
        """In the caller: record the results of a run made elsewhere, re-emit its events."""
        if self.ran_in != here():
            Backtest.record(self.symbol, self.strategy_name, self.closed)
            for name, value in self.events:
                FORWARDED[name].emit(value)
        deliver_errors(self.errors, self.ran_in)


def run_backtest_job(job: BacktestJob) -> tuple[BacktestJobResult, ...]:
    """Run a backtest job (in any process); return each strategy's results and statistics."""
    setup = job.setup
    setup.prepare(job.strategy_names, job.exchange_name, job.frame_name)
    return tuple(_run_one(job, name) for name in job.strategy_names)


def _run_one(job: BacktestJob, strategy_name: str) -> BacktestJobResult:
    setup = job.setup
    with captured_errors(setup) as errors, captured_events(setup) as recorded:
        results = tuple(
            Backtest.run(
                job.symbol,
                strategy_name=strategy_name,
                exchange_name=job.exchange_name,
                frame_name=job.frame_name,
                profile=setup.profile,
                seed=pair_seed(strategy_name, job.symbol),
            )
        )
    statistics = Backtest.get_data(job.symbol, strategy_name)
    return BacktestJobResult(
        job.symbol, strategy_name, results, statistics, tuple(errors), here(), tuple(recorded)
    )
