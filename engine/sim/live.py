"""The live loop (docs/live.md#loop) and the `Live` utility object.

Paper trading is all the engine does: it tracks signals and saves them; strategy
callbacks (`on_open`, `on_close`, …) are where a user places real orders.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from engine.analytics.live_stats import LiveEventLog, LiveStatistics, live_statistics
from engine.analytics.reports.live import live_report
from engine.analytics.reports.markdown import save_pair_report
from engine.core import events
from engine.core.clock import SYSTEM_CLOCK, Clock
from engine.core.config import snapshot
from engine.core.errors import ConfigError
from engine.core.events import DoneContract, PerformanceContract
from engine.core.logger import engine_logger
from engine.core.models import Action
from engine.core.registration import exchanges, risk_client, strategies
from engine.data.demo_live import DemoLiveFeed, ScaledClock, check_live_symbol
from engine.persist.adapters import get_state_dir
from engine.persist.base import StateError, StateLockedError
from engine.sim.builtins import exchange_store, shared_demo_store
from engine.sim.exchange import ClientExchange
from engine.sim.live_catchup import catch_up
from engine.sim.live_owner import Owner, lock_path, remove_owner, write_owner
from engine.sim.live_state import LiveSession, Recovered
from engine.sim.risk import ClientRisk
from engine.sim.strategy import ClientStrategy
from engine.sim.watchdog import FATAL, guarded

_log = engine_logger(__name__)

TICK_TTL_MS = 60_001
LOCK_WAIT_S = 1.0
"""How long a start waits for the session's lock: a reader (`read_owner`) holds it an instant."""
_SOURCE = "Live.run"
_YIELDED = (Action.OPENED, Action.CLOSED, Action.CANCELLED)
_active: set[tuple[str, str, str]] = set()
"""Sessions running in this process (file locks do not exclude a second run in-process)."""
_active_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class LiveStart:
    """Told to `on_start` once a live run holds its lock and has recovered its state."""

    symbol: str
    strategy_name: str
    exchange_name: str
    state_dir: Path
    now_ms: int
    recovered: Recovered


class _AnyEvent(threading.Event):
    """Set when any of several events is set (a clock sleeps on one event)."""

    def __init__(self, *events: threading.Event | None) -> None:
        super().__init__()
        self._events = [e for e in events if e is not None]

    def is_set(self) -> bool:
        return any(e.is_set() for e in self._events)

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            left = 0.05 if deadline is None else deadline - time.monotonic()
            if left <= 0:
                return False
            self._events[0].wait(min(left, 0.05))
        return True


def _names(context: Mapping[str, Any] | None, fields: dict[str, Any]) -> tuple[str, str]:
    merged = {**(context or {}), **{k: v for k, v in fields.items() if v is not None}}
    aliases = {"strategyName": "strategy_name", "exchangeName": "exchange_name"}
    named = {aliases.get(k, k): v for k, v in merged.items()}
    missing = [k for k in ("strategy_name", "exchange_name") if not named.get(k)]
    if missing:
        raise ConfigError(f"{_SOURCE}: missing {', '.join(missing)}")
    return named["strategy_name"], named["exchange_name"]


class LiveUtils:
    """Run strategies live and read their statistics and reports (upstream's `Live`)."""

    def __init__(self) -> None:
        self._logs: dict[tuple[str, str], LiveEventLog] = {}
        self._lock = threading.Lock()

    def run(
        self,
        symbol: str,
        context: Mapping[str, Any] | None = None,
        *,
        strategy_name: str | None = None,
        exchange_name: str | None = None,
        profile: str | None = None,
        clock: Clock | None = None,
        state_dir: str | Path | None = None,
        stop: threading.Event | None = None,
        cancel: threading.Event | None = None,
        on_start: Callable[[LiveStart], Any] | None = None,
        clock_factory: Callable[[], Clock] | None = None,
    ) -> Iterator[Any]:
        """Run a strategy live on a symbol; yield its opened, closed and cancelled signals.

        Ticks every minute (60 001 ms) on `clock` (the wall clock by default; tests pass a
        `SimulatedClock`). On start it takes the session's process lock and resumes the
        signals saved in `state_dir` (default `./dump`). A clock that keeps state (the demo
        market's fast clock writes its anchor) comes from `clock_factory`, called only once
        the lock is held, so a refused start never touches it. Setting `stop` is a graceful stop:
        no new signal, a scheduled one is dropped, an open one is watched until it closes,
        then the run ends. Setting `cancel` ends the run at once; the state is kept.

        Lifecycle callbacks (on_schedule, on_open, on_partial_profit, on_partial_loss,
        on_close, on_cancel) are journaled before they run and delivered at least once, in
        order, with a stable key (`engine.current_delivery()`); see engine/sim/live_journal.py.

        Raises:
            ConfigError: unknown names; `StateLockedError` when another process runs the
                same strategy and symbol on the same state directory.
            StateError: a state file is corrupt (it is moved aside, never dropped);
                `StateWriteError` when a change cannot be written (the run stops first).
        """
        strategy, exchange = _names(
            context, {"strategy_name": strategy_name, "exchange_name": exchange_name}
        )
        strategies.get(strategy, _SOURCE)
        exchanges.get(exchange, _SOURCE)
        check_live_symbol(exchange, symbol)
        if clock is not None and clock_factory is not None:
            raise ConfigError(f"{_SOURCE}: give clock or clock_factory, not both")
        folder = Path(state_dir) if state_dir is not None else get_state_dir()
        make_clock = clock_factory or (lambda: clock or SYSTEM_CLOCK)
        options = (profile, make_clock, folder, stop, cancel, on_start)
        return self._loop(symbol, strategy, exchange, *options)

    def _client(
        self, symbol: str, strategy: str, exchange: str, profile: str | None, clock: Clock
    ) -> ClientStrategy:
        settings = snapshot(profile)
        schema = exchanges.get(exchange, _SOURCE)
        if exchange_store(exchange) is shared_demo_store():
            schema = schema.model_copy(update={"get_candles": DemoLiveFeed(clock).get_candles})
        strategy_schema = strategies.get(strategy, _SOURCE)
        risk = risk_client(strategy_schema.risk_name, _SOURCE)
        client_exchange = ClientExchange(schema, settings, clock)
        return ClientStrategy(strategy_schema, client_exchange, symbol, settings, risk, False)

    def _loop(
        self,
        symbol: str,
        strategy: str,
        exchange: str,
        profile: str | None,
        make_clock: Callable[[], Clock],
        folder: Path,
        stop: threading.Event | None,
        cancel: threading.Event | None,
        on_start: Callable[[LiveStart], Any] | None,
    ) -> Iterator[Any]:
        folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(lock_path(folder, symbol, strategy)), timeout=LOCK_WAIT_S)
        key = (str(folder.resolve()), symbol, strategy)
        with _active_lock:
            taken = key in _active
            if not taken:
                try:
                    lock.acquire()
                except Timeout:
                    taken = True
            if taken:
                raise StateLockedError(
                    f"another live run of {strategy} on {symbol} is using the state directory "
                    f"{folder.resolve()} (lock {lock.lock_file}); stop it first, or give this "
                    "run another state directory"
                )
            _active.add(key)
        try:
            clock = make_clock()
            speed = clock.anchor.speed if isinstance(clock, ScaledClock) else None
            started = Owner(os.getpid(), SYSTEM_CLOCK.now_ms(), strategy, symbol, exchange, speed)
            write_owner(folder, started)
            client = self._client(symbol, strategy, exchange, profile, clock)
            session = self._attach(client, folder)
            recovered = session.recover()
            now = clock.now_ms()
            guarded(client, now, stop, cancel, self._resume, client, session, recovered, now)
            recovered, caught = catch_up(
                client, session, recovered, clock.now_ms, self._emit, stop, cancel
            )
            if on_start is not None:
                on_start(LiveStart(symbol, strategy, exchange, folder, now, recovered))
            names = {"symbol": symbol, "strategy_name": strategy, "exchange_name": exchange}
            _log.info("live run started", {**names, "state_dir": str(folder), "now": now})
            yield from caught
            yield from self._ticks(client, session, clock, stop, cancel)
            _log.info("live run ended", names)
        finally:
            with _active_lock:
                try:
                    remove_owner(folder, symbol, strategy)
                finally:
                    _active.discard(key)
                    lock.release()

    def _attach(self, client: ClientStrategy, folder: Path) -> LiveSession:
        session = LiveSession(client.symbol, client.name, client.exchange.name, folder)
        client.state = session
        client.journal = session.journal
        client.partial.store = session.partial
        if isinstance(client.risk, ClientRisk):
            client.risk.store = session.risk_positions(client.risk.name)
        log = LiveEventLog()
        for closed in session.closed_history():
            log.add(closed, closed.close_timestamp)
        with self._lock:
            self._logs[(client.symbol, client.name)] = log
        return session

    @staticmethod
    def _resume(
        client: ClientStrategy, session: LiveSession, recovered: Recovered, now: int
    ) -> None:
        for note in recovered.notes:
            _log.info(f"live {client.name} {client.symbol}: {note}")
        pending = recovered.pending
        history = session.history.items()
        session.journal.reconcile(history, pending, recovered.scheduled, client.listens)
        client.restore(pending, recovered.scheduled, now)
        if pending is not None:
            client.partial.restore(pending.id)
            client.risk.add_signal(client.symbol, client.name, client.exchange.name, now)
        else:
            client.risk.remove_signal(client.symbol, client.name)

    def _ticks(
        self,
        client: ClientStrategy,
        session: LiveSession,
        clock: Clock,
        stop: threading.Event | None,
        cancel: threading.Event | None,
    ) -> Iterator[Any]:
        stopping = False
        timer: int | None = None
        while not (cancel is not None and cancel.is_set()):
            if not stopping and stop is not None and stop.is_set():
                stopping = True
                if client.scheduled is not None:
                    client.scheduled = None
                    session.commit(None)
            if stopping and client.pending is None:
                return
            when = clock.now_ms()
            started = time.perf_counter()
            try:
                # what an earlier tick's callback did not acknowledge, then this tick
                guarded(client, when, stop, cancel, client.deliver, when)
                result = guarded(client, when, stop, cancel, client.tick, when)
            except (StateError, *FATAL):
                raise  # a change that cannot be saved, a hung or exiting strategy: stop
            except Exception as exc:
                client.report(exc, when, "tick")
                result = None
            session.commit(result)
            if result is not None:
                self._emit(result, when)
                timer = self._measure(client, started, timer)
                if result.action in _YIELDED:
                    yield result
                if stopping and result.action is Action.CLOSED:
                    return
            waiter = cancel if stopping else _AnyEvent(stop, cancel)
            clock.sleep(TICK_TTL_MS, waiter)

    @staticmethod
    def _measure(client: ClientStrategy, started: float, previous: int | None) -> int | None:
        now = time.time_ns() // 1_000_000
        events.performance_emitter.emit(
            PerformanceContract(
                now,
                previous,
                "live_tick",
                (time.perf_counter() - started) * 1000,
                client.name,
                client.exchange.name,
                client.symbol,
                False,
            )
        )
        return now

    def _emit(self, result: Any, when: int) -> None:
        with self._lock:
            log = self._logs.setdefault((result.symbol, result.strategy_name), LiveEventLog())
            log.add(result, when)
        if result.action in _YIELDED or result.action is Action.SCHEDULED:
            _log.debug(
                f"signal {result.action}",
                {
                    "symbol": result.symbol,
                    "strategy_name": result.strategy_name,
                    "exchange_name": result.exchange_name,
                    "signal_id": result.signal.id,
                    "price": result.current_price,
                    "when": when,
                    "backtest": False,
                },
            )
        if result.action is not Action.IDLE:
            events.result_emitter.emit(result)
        events.signal_emitter.emit(result)
        events.signal_live_emitter.emit(result)

    def background(
        self, symbol: str, context: Mapping[str, Any] | None = None, **options: Any
    ) -> Callable[[], None]:
        """Run live in a thread; return `stop()`, a graceful stop.

        After `stop()` no new signal opens and the open one is watched until it closes;
        then `listen_done_live` fires. A fatal error goes to `listen_exit`, setup errors
        too (unknown names, a state directory another run holds, a corrupt state file): as
        upstream, `background` itself never raises; a run that could not start emits no
        `done`.
        """
        stop = threading.Event()
        label = f"{(context or {}).get('strategyName') or options.get('strategy_name')}-{symbol}"

        def consume() -> None:
            try:
                strategy, exchange = _names(context, options)
                results = self.run(symbol, context, stop=stop, **options)
            except Exception as exc:
                _log.warn(f"Live.background {label} could not start: {exc!r}")
                events.exit_emitter.emit(exc)
                return
            try:
                for _ in results:
                    pass
            except Exception as exc:
                _log.warn(f"Live.background {strategy} {symbol} failed: {exc!r}")
                events.exit_emitter.emit(exc)
            events.done_live_emitter.emit(DoneContract(exchange, strategy, False, symbol))

        threading.Thread(target=consume, name=f"live-{label}", daemon=True).start()
        return stop.set

    def get_data(self, symbol: str, strategy_name: str) -> LiveStatistics:
        """Return the statistics of the live session of `strategy_name` on `symbol`."""
        with self._lock:
            log = self._logs.get((symbol, strategy_name))
            logged = log.events if log is not None else ()
        return live_statistics(logged)

    def get_report(self, symbol: str, strategy_name: str) -> str:
        """Return the markdown report of the live session of `strategy_name` on `symbol`."""
        return live_report(strategy_name, self.get_data(symbol, strategy_name))

    def dump(
        self, symbol: str, strategy_name: str | None = None, path: str | Path = "./dump/live"
    ) -> Path:
        """Write the report to `<path>/<strategy_name>.md` and return the file's path.

        Raises:
            ConfigError: called upstream's way, `dump(strategy_name)` (the message shows the
                Python call).
        """
        return save_pair_report(
            "Live", symbol, strategy_name, path, self.get_report, "Live trading report"
        )

    def clear(self, symbol: str | None = None, strategy_name: str | None = None) -> None:
        """Forget logged events (all, or one symbol/strategy pair)."""
        with self._lock:
            if symbol is None or strategy_name is None:
                self._logs.clear()
            else:
                self._logs.pop((symbol, strategy_name), None)


Live = LiveUtils()
