"""The backtest loop (docs/semantics.md#backtest-loop) and the `Backtest` utility object."""

from __future__ import annotations

import random
import threading
import time
from array import array
from collections import defaultdict
from collections.abc import Generator, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import numpy as np

from engine.analytics.account import (
    DEFAULT_BALANCE,
    WHOLE_EQUITY,
    Account,
    SizingOf,
    Stake,
    check_stake,
)
from engine.analytics.account import replay as replay_account
from engine.analytics.performance import MAX_EVENTS, Measured, Performance
from engine.analytics.reports.backtest import backtest_report
from engine.analytics.reports.markdown import save_pair_report
from engine.analytics.stats import BacktestStatistics, backtest_statistics
from engine.core import events
from engine.core.clock import SYSTEM_CLOCK, Clock
from engine.core.config import snapshot
from engine.core.errors import ConfigError
from engine.core.events import (
    BacktestProgress,
    DoneContract,
    PerformanceContract,
    signal_backtest_emitter,
    signal_emitter,
)
from engine.core.logger import engine_logger
from engine.core.models import Action, ClosedResult, SignalRow
from engine.core.registration import exchanges, frames, risk_client, strategies
from engine.data.store import to_ms
from engine.sim.exchange import ClientExchange
from engine.sim.frame import priced_timeframes, timeframes
from engine.sim.strategy import ClientStrategy

_log = engine_logger(__name__)

PROGRESS_UPDATES = 200
_STORED = frozenset((Action.SCHEDULED, Action.CANCELLED, Action.CLOSED))
_ENDED = frozenset((Action.CANCELLED, Action.CLOSED))
_CLOSED = Action.CLOSED  # read once: on Python 3.11 each `Action.X` goes through a slow hook
_SOURCE = "Backtest.run"
_FRAME = "backtest_timeframe"  # the metric of a visited frame
_SIGNAL = "backtest_signal"  # the metric of a resolved signal


class _Timer:
    """Measures the run: every signal, every visited frame and the total, always.

    While a user listens (`listen_performance`) each measurement goes out as it is taken.
    Otherwise they are kept as plain numbers (a clock read and two appends to an array,
    no object per measurement) and handed to the Performance store once, when the run
    ends; the store builds the measurement objects only when they are read. It keeps only
    the newest `MAX_EVENTS` of them (and the one before, for the first one's wait), so
    no more than that are kept here either.
    """

    def __init__(self, strategy: str, exchange: str, symbol: str) -> None:
        self.names = (strategy, exchange, symbol)
        self.previous: int | None = None
        self._wall_ms = time.time_ns() / 1e6 - time.perf_counter() * 1000
        self.metrics: list[str] = []
        self.times = array("d")
        """`perf_counter` seconds, (started, ended) per kept measurement."""

    def emit(self, metric: str, started: float) -> None:
        ended = time.perf_counter()
        if not events.performance_emitter.watched:
            self.metrics.append(metric)
            self.times.append(started)
            self.times.append(ended)
            return
        now = int(self._wall_ms + ended * 1000)
        events.performance_emitter.emit(
            PerformanceContract(
                now, self.previous, metric, (ended - started) * 1000, *self.names, True
            )
        )
        self.previous = now

    def name_frames(self, since: int, signals: Sequence[int] = ()) -> None:
        """Name the measurements appended to `times` from index `since` on.

        They are frames, but those starting at the `times` indices in `signals` (signals
        resolved in a quiet stretch).
        """
        count = (len(self.times) - since) // 2
        if count:
            names = [_FRAME] * count
            for at in signals:
                names[(at - since) // 2] = _SIGNAL
            self.metrics += names

    def trim(self, slack: int = MAX_EVENTS) -> None:
        """Forget the measurements the store would drop, once there are more than `slack`.

        The store keeps the newest `MAX_EVENTS`; one more is kept for the first one's wait.
        """
        drop = len(self.metrics) - (MAX_EVENTS + 1)
        if drop > slack:
            del self.metrics[:drop]
            del self.times[: 2 * drop]

    def flush(self) -> None:
        """Hand the kept measurements to the Performance store."""
        self.trim(0)
        if self.metrics:
            batch = Measured(self.names, self.metrics, self.times, self._wall_ms, self.previous)
            Performance.record_batch(batch)
        self.metrics, self.times = [], array("d")


def _signal_context(result: Any) -> dict[str, Any]:
    """The context a log line of a signal's result carries."""
    signal = result.signal
    return {
        "symbol": result.symbol,
        "strategy_name": result.strategy_name,
        "exchange_name": result.exchange_name,
        "signal_id": signal.id,
        "position": signal.position,
        "reason": getattr(result, "close_reason", None),
        "timestamp": getattr(result, "close_timestamp", signal.pending_at),
        "backtest": True,
    }


def _names(context: Mapping[str, Any] | None, fields: dict[str, Any]) -> tuple[str, str, str]:
    merged = dict(context or {})
    merged.update({k: v for k, v in fields.items() if v is not None})
    aliases = {
        "strategyName": "strategy_name",
        "exchangeName": "exchange_name",
        "frameName": "frame_name",
    }
    named = {aliases.get(k, k): v for k, v in merged.items()}
    missing = [k for k in ("strategy_name", "exchange_name", "frame_name") if not named.get(k)]
    if missing:
        raise ConfigError(f"{_SOURCE}: missing {', '.join(missing)}")
    return named["strategy_name"], named["exchange_name"], named["frame_name"]


class BacktestUtils:
    """Run backtests and read their statistics and reports (upstream's `Backtest`)."""

    def __init__(self) -> None:
        self._closed: defaultdict[tuple[str, str], list[ClosedResult]] = defaultdict(list)
        self._frames: dict[tuple[str, str], tuple[int, int]] = {}
        self._lock = threading.Lock()

    def run(
        self,
        symbol: str,
        context: Mapping[str, Any] | None = None,
        *,
        strategy_name: str | None = None,
        exchange_name: str | None = None,
        frame_name: str | None = None,
        profile: str | None = None,
        cancel: threading.Event | None = None,
        clock: Clock | None = None,
        seed: int | None = None,
    ) -> Iterator[Any]:
        """Backtest a strategy on a symbol over a frame; yield one result per signal.

        Names come as keywords or in a `context` mapping (`{"strategyName": …}` works).
        Yields closed, cancelled and (at the end of data) active results. Setting `cancel`
        stops the run at the next frame. Names are checked before the first frame. A `seed`
        makes the signal ids reproducible (parallel walker runs use it to equal serial ones).
        """
        strategy, exchange, frame = _names(
            context,
            {
                "strategy_name": strategy_name,
                "exchange_name": exchange_name,
                "frame_name": frame_name,
            },
        )
        settings = snapshot(profile)
        strategy_schema = strategies.get(strategy, _SOURCE)
        exchange_client = ClientExchange(
            exchanges.get(exchange, _SOURCE), settings, clock or SYSTEM_CLOCK
        )
        frame_schema = frames.get(frame, _SOURCE)
        risk = risk_client(strategy_schema.risk_name, _SOURCE, fresh=True)
        client = ClientStrategy(
            strategy_schema,
            exchange_client,
            symbol,
            settings,
            risk,
            backtest=True,
            frame_name=frame,
        )
        if seed is not None:
            client.ids = random.Random(seed)
        with self._lock:
            self._closed[(symbol, strategy)] = []
        self.remember_frame(symbol, strategy, frame)
        events.run_started_emitter.emit(events.RunStarted(symbol, strategy, True))
        times = priced_timeframes(
            timeframes(frame_schema, symbol), exchange_client.first_known_ms(symbol)
        )
        context_of_run = {
            "symbol": symbol,
            "strategy_name": strategy,
            "exchange_name": exchange,
            "frame_name": frame,
            "profile": settings.profile,
            "frames": len(times),
        }
        _log.info("backtest run started", context_of_run)
        return self._logged(self._loop(client, times, cancel), context_of_run)

    @staticmethod
    def _logged(results: Iterator[Any], context_of_run: dict[str, Any]) -> Iterator[Any]:
        closed = 0
        for result in results:
            closed += result.action is _CLOSED
            yield result
        _log.info("backtest run finished", {**context_of_run, "closed": closed})

    def _loop(
        self, strategy: ClientStrategy, frames_ms: np.ndarray, cancel: threading.Event | None
    ) -> Iterator[Any]:
        # Frames are evenly spaced (docs/semantics.md#frames): times and skips are computed.
        symbol, exchange = strategy.symbol, strategy.exchange
        settings = strategy.settings
        timer = _Timer(strategy.name, exchange.name, symbol)
        run_started = time.perf_counter()
        total = len(frames_ms)
        step = max(1, total // PROGRESS_UPDATES)
        next_progress = 0
        first = int(frames_ms[0]) if total else 0
        step_ms = int(frames_ms[1] - frames_ms[0]) if total > 1 else 1
        performance = events.performance_emitter
        i = 0
        while i < total:
            if cancel is not None and cancel.is_set():
                return
            when = first + i * step_ms
            frame_started = time.perf_counter()
            if i >= next_progress:
                self._progress(strategy, total, i)
                timer.trim()
                next_progress = i + step
            row = None
            if strategy.quiet() and not performance.watched:
                found = yield from self._quietly(
                    strategy, timer, first, step_ms, i, min(next_progress, total), cancel
                )
                if found is None:
                    return
                i, when, row, frame_started = found
                if row is None:
                    continue
            try:
                result = strategy.tick(when) if row is None else strategy.start_signal(row, when)
            except Exception as exc:
                strategy.report(exc, when, "tick")
                i += 1
                continue
            if result is None:
                # Idle and unobserved: jump to the first frame the throttle lets through.
                ready = strategy.next_signal_time()
                if ready is not None and ready > when + step_ms:
                    i = max(i + 1, -((first - ready) // step_ms))
                    continue
            else:
                self._emit(result)
                action = result.action
                if action is Action.SCHEDULED or action is Action.OPENED:
                    signal = result.signal
                    need = signal.minute_estimated_time
                    if action is Action.SCHEDULED:
                        need = int(settings.schedule_await_minutes) + need + 1
                    try:
                        candles, lo, hi = exchange.next_candles_span(symbol, "1m", need, when)
                        if hi == lo:
                            i += 1
                            continue
                        outcome = strategy.backtest(candles, when, lo, hi)
                    except Exception as exc:
                        strategy.report(exc, when, "backtest")
                        i += 1
                        continue
                    self._emit(outcome)
                    timer.emit(_SIGNAL, frame_started)
                    close = getattr(outcome, "close_timestamp", None)
                    if close is not None:
                        i = max(i, -((first - close) // step_ms))
                    yield outcome
                elif action in _ENDED:  # a signal left to the frames (after an error) ends
                    yield result
            timer.emit(_FRAME, frame_started)
            i += 1
        self._progress(strategy, total, total)
        timer.emit("backtest_total", run_started)
        timer.flush()

    def _quietly(
        self,
        strategy: ClientStrategy,
        timer: _Timer,
        first: int,
        step_ms: int,
        i: int,
        stop: int,
        cancel: threading.Event | None,
    ) -> Generator[ClosedResult, None, tuple[int, int, SignalRow | None, float] | None]:
        """Run frames while nothing else can happen (the hot loop); yield the closed trades.

        Nothing is open, no idle result or measurement is watched: a tick would only ask
        `get_signal`, and each frame is measured as the main loop does. The strategy's
        context is entered once for the whole stretch (`ClientStrategy.quietly`) and left
        while a result is yielded. When nothing can see a signal open either
        (`ClientStrategy.unobserved`), a market signal is opened, resolved and closed here
        (`ClientStrategy.resolve_quietly`), with the results, measurements and cancel points
        of the main loop. Returns `(frame index, time, row, frame start)` at a signal left
        to the main loop, the same with no row at frame `stop` (the next progress update),
        when the strategy stops being quiet or a trade needs the main loop; None when
        cancelled.
        """
        ask, next_time = strategy.ask_signal, strategy.next_signal_time
        throttled = strategy.interval_ms > step_ms  # else the throttle never skips a frame
        clock, watched = time.perf_counter, events.performance_emitter
        signals, backtest_signals = signal_emitter, signal_backtest_emitter
        trades = strategy.unobserved()
        # Unwatched measurements are kept as `_Timer.emit` keeps them, without its call;
        # their names are added when the stretch ends (`resolved`: where the resolved
        # signals' measurements start).
        times, kept = timer.times.append, len(timer.times)
        resolved: list[int] = []
        when, started = first + i * step_ms, clock()
        token: object | None = strategy.quietly(step_ms)
        try:
            while i < stop:
                when = first + i * step_ms
                started = clock()
                try:
                    row = ask(when)
                except Exception as exc:  # sys.exit in get_signal: a tick's error, as in `_loop`
                    strategy.report(exc, when, "tick")
                    return i + 1, when, None, started
                measured = True
                if row is None:
                    ready = next_time() if throttled else None
                    if ready is not None and ready > when + step_ms:
                        i = max(i + 1, -((first - ready) // step_ms))
                        measured = False  # as in the main loop: a throttled jump
                else:
                    if (
                        not trades
                        or row.is_scheduled
                        or signals.listeners  # subscribed by get_signal: it hears the opening
                        or backtest_signals.listeners
                    ):
                        return i, when, row, started
                    try:
                        outcome = strategy.resolve_quietly(row, when)
                    except Exception as exc:
                        strategy.report(exc, when, "backtest")
                        return i + 1, when, None, started
                    if outcome is None:  # no candle after it: the main loop goes on
                        return i + 1, when, None, started
                    self._emit(outcome)
                    if watched.watched:  # subscribed by get_signal: measured as it goes now
                        timer.name_frames(kept, resolved)
                        timer.emit(_SIGNAL, started)
                        kept = len(timer.times)
                        resolved.clear()
                    else:
                        resolved.append(len(timer.times))
                        times(started)
                        times(clock())
                    strategy.end_quietly(token)
                    token = None
                    yield outcome
                    token = strategy.quietly(step_ms)
                    i = max(i, -((first - outcome.close_timestamp) // step_ms))
                if measured:  # the frame (a trade's included, after its result)
                    if watched.watched:
                        timer.emit(_FRAME, started)
                    else:
                        times(started)
                        times(clock())
                    i += 1
                if cancel is not None and cancel.is_set():
                    return None
                if strategy.stopped or signals.listeners or backtest_signals.listeners:
                    break
                if row is not None and watched.watched:
                    break  # measured as it goes now: the main loop's frames
        finally:
            if token is not None:
                strategy.end_quietly(token)
            timer.name_frames(kept, resolved)
        return i, when, None, started

    def _progress(self, strategy: ClientStrategy, total: int, done: int) -> None:
        if events.progress_backtest_emitter.listeners:
            events.progress_backtest_emitter.emit(
                BacktestProgress(
                    strategy.exchange.name,
                    strategy.name,
                    strategy.symbol,
                    total,
                    done,
                    done / total if total else 1.0,
                )
            )

    def _emit(self, result: Any) -> None:
        action = result.action
        if action is _CLOSED:
            with self._lock:
                self._closed[(result.symbol, result.strategy_name)].append(result)
            if _log.debugging:
                _log.debug("signal closed", _signal_context(result))
        # Emitters without listeners are skipped: this runs twice per signal. The stores
        # behind `result_emitter` keep only the results that end or schedule a signal.
        if action in _STORED and events.result_emitter.listeners:
            events.result_emitter.emit(result)
        if events.signal_emitter.listeners:
            events.signal_emitter.emit(result)
        if events.signal_backtest_emitter.listeners:
            events.signal_backtest_emitter.emit(result)

    def publish(self, result: Any) -> None:
        """Deliver a result to the statistics, the stores and the listeners, as a run does."""
        self._emit(result)

    def record(self, symbol: str, strategy_name: str, closed: Sequence[ClosedResult]) -> None:
        """Store closed results computed elsewhere (a worker process) as the pair's last run."""
        with self._lock:
            self._closed[(symbol, strategy_name)] = list(closed)

    def remember_frame(self, symbol: str, strategy_name: str, frame_name: str) -> None:
        """Note the frame a pair's run covers (the account's CAGR and exposure use it)."""
        schema = frames.get(frame_name, _SOURCE)
        if schema.start_date is not None and schema.end_date is not None:
            span = (to_ms(schema.start_date), to_ms(schema.end_date))
            with self._lock:
                self._frames[(symbol, strategy_name)] = span

    def run_portfolio(
        self,
        symbols: Sequence[str],
        strategies: Sequence[str],
        *,
        exchange_name: str,
        frame_name: str,
        profile: str | None = None,
        executor: Executor | None = None,
        modules: Sequence[str | Path] | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[Any]:
        """Backtest every strategy on every symbol on one simulated clock.

        Shared risk profiles see the positions really open at each moment; results come in
        time order. See `engine.sim.portfolio` for the rules, the executor and `modules`.
        """
        from engine.sim.portfolio import run_portfolio  # the portfolio builds on this module

        return run_portfolio(
            self,
            symbols,
            strategies,
            exchange_name=exchange_name,
            frame_name=frame_name,
            profile=profile,
            executor=executor,
            modules=modules,
            cancel=cancel,
        )

    def background(
        self, symbol: str, context: Mapping[str, Any] | None = None, **names: Any
    ) -> Any:
        """Run a backtest in a thread; return a function that stops it.

        Emits `listen_done_backtest` when it ends (also after a stop); a fatal error goes to
        `listen_exit`, setup errors too (an unknown strategy, exchange or frame): as
        upstream, `background` itself never raises; a run that could not start emits no
        `done`.
        """
        cancel = threading.Event()
        label = f"{(context or {}).get('strategyName') or names.get('strategy_name')}-{symbol}"

        def consume() -> None:
            try:
                strategy, exchange, _ = _names(context, names)
                results = self.run(symbol, context, cancel=cancel, **names)
            except Exception as exc:
                _log.warn(f"Backtest.background {label} could not start: {exc!r}")
                events.exit_emitter.emit(exc)
                return
            try:
                for _ in results:
                    pass
            except Exception as exc:
                _log.warn(f"Backtest.background {strategy} {symbol} failed: {exc!r}")
                events.exit_emitter.emit(exc)
            events.done_backtest_emitter.emit(DoneContract(exchange, strategy, True, symbol))

        thread = threading.Thread(target=consume, name=f"backtest-{label}", daemon=True)
        thread.start()

        def stop() -> None:
            cancel.set()

        return stop

    def get_data(self, symbol: str, strategy_name: str) -> BacktestStatistics:
        """Return the statistics of the last backtest of `strategy_name` on `symbol`."""
        with self._lock:
            closed = list(self._closed.get((symbol, strategy_name), ()))
        return backtest_statistics(closed)

    def get_account(
        self,
        symbol: str,
        strategy_name: str,
        *,
        balance: float = DEFAULT_BALANCE,
        stake: Stake | None = None,
    ) -> Account:
        """Return the last backtest of `strategy_name` on `symbol` replayed in money.

        Args:
            symbol: The symbol of the run.
            strategy_name: The strategy of the run.
            balance: The starting balance in the quote currency (default 10,000).
            stake: How positions are sized: `EquityFraction`, `FixedAmount` or an
                `add_sizing` name. Default: the strategy's `sizing_name`, else the whole
                equity per position.

        Raises:
            ConfigError: The balance or the stake is invalid, or the sizing is unknown.
        """
        return self.get_portfolio_account([symbol], [strategy_name], balance=balance, stake=stake)

    def get_portfolio_account(
        self,
        symbols: Sequence[str],
        strategy_names: Sequence[str],
        *,
        balance: float = DEFAULT_BALANCE,
        stake: Stake | None = None,
    ) -> Account:
        """Return the last runs of every strategy on every symbol replayed in one account.

        This is the account of `run_portfolio`: the trades of all pairs, in time order,
        share one equity (a position gets only the cash the open ones leave). Arguments as
        in `get_account`; the frame is the union of the pairs' frames.
        """
        with self._lock:
            keys = [(sym, name) for name in strategy_names for sym in symbols]
            closed = [r for key in keys for r in self._closed.get(key, ())]
            spans = [self._frames[key] for key in keys if key in self._frames]
        closed.sort(key=lambda r: r.close_timestamp)
        return replay_account(
            closed,
            balance=balance,
            stake=_stake_of(stake),
            start_ms=min(s for s, _ in spans) if spans else None,
            end_ms=max(e for _, e in spans) if spans else None,
        )

    def get_report(self, symbol: str, strategy_name: str) -> str:
        """Return the markdown report of the last backtest of `strategy_name` on `symbol`."""
        return backtest_report(strategy_name, self.get_data(symbol, strategy_name))

    def dump(
        self, symbol: str, strategy_name: str | None = None, path: str | Path = "./dump/backtest"
    ) -> Path:
        """Write the report to `<path>/<strategy_name>.md` and return the file's path.

        Raises:
            ConfigError: called upstream's way, `dump(strategy_name)` (the message shows the
                Python call).
        """
        return save_pair_report(
            "Backtest", symbol, strategy_name, path, self.get_report, "Backtest report"
        )

    def clear(self, symbol: str | None = None, strategy_name: str | None = None) -> None:
        """Forget stored results (all, or one symbol/strategy pair)."""
        with self._lock:
            if symbol is None or strategy_name is None:
                self._closed.clear()
                self._frames.clear()
            else:
                self._closed.pop((symbol, strategy_name), None)


def _stake_of(stake: Stake | None) -> SizingOf:
    """Return each trade's stake: the one given, else its strategy's sizing, else all equity."""
    if stake is not None:
        fixed = check_stake(stake)
        return lambda _result: fixed
    known: dict[str, Stake] = {}

    def strategy_stake(result: ClosedResult) -> Stake:
        name = result.strategy_name
        if name not in known:
            sizing = strategies.get(name, _SOURCE).sizing_name if strategies.has(name) else None
            known[name] = check_stake(sizing) if sizing else WHOLE_EQUITY
        return known[name]

    return strategy_stake


Backtest = BacktestUtils()
