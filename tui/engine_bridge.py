"""The only place where the desk talks to the engine: registry, module loading, runs, candles.

The bridge subscribes to the engine's events and forwards them as desk messages through a
`post` function (a `post_message` of the screen that shows runs). Engine callbacks arrive on
the engine's thread; `post` is thread-safe. Signal events are batched, progress snapshots
merge in the message queue, and a flood of strategy errors is capped per run (all of them
are counted: the finished run's `error_count` and `first_error`).

A finished run also carries its report's other sections (`RunSections`): its scheduled
signals and partial levels, collected from the run's own engine events as they come (the
engine's `Schedule` store keeps the last 250 events only, its `Partial` store mixes every
run of a symbol), and its timings from `engine.Performance` (the measurements taken since
the run started).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from textual.message import Message

import engine
from engine.analytics.performance import PerformanceStatistics, performance_statistics
from engine.core.errors import EngineError, StrategyError
from engine.core.loader import load_module
from engine.core.models import Action, CancelledResult, ClosedResult, TickResult
from engine.data.coverage import Span, data_span, fit_range
from engine.data.sources import (
    CacheSource,
    FileSource,
    cached_exchange_ids,
    register_cache,
    registered_sources,
)
from engine.data.store import CandleArrays
from engine.strategies import register_builtin_strategies
from tui.alerts import PartialAlerted, RiskRejected, partial_alert
from tui.formatting import format_date, format_timestamp, to_datetime, to_ms
from tui.messages import (
    EngineErrorReported,
    EngineNoticed,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunProgressed,
    RunStarted,
    SignalsReceived,
)
from tui.runs import (
    PartialLevel,
    RunRecord,
    RunRequest,
    RunSections,
    ScheduledSignal,
    ScheduleOutcome,
    SignalStatus,
    SignalView,
    TimingRow,
)

Post = Callable[[Message], Any]

MINUTE_MS = 60_000
SIGNAL_BATCH_SECONDS = 0.1
ERRORS_SHOWN_PER_RUN = 20
DESK_WALKER = "desk-walker"
"""The walker the walker screen registers (replaced on every run)."""
HEATMAP_WALKER = "desk-heatmap"
"""The walker the heatmap screen registers to run one strategy over every symbol."""
DESK_WALKERS = (DESK_WALKER, HEATMAP_WALKER)
"""The desk's own walkers: the registry pane lists the user's schemas, not these."""


@dataclass(frozen=True)
class RegistryEntry:
    """One registered schema as the registry tree shows it."""

    name: str
    detail: str
    note: str | None = None


@dataclass(frozen=True)
class RegistrySnapshot:
    """Every registered schema, by kind, in registration order."""

    exchanges: tuple[RegistryEntry, ...]
    strategies: tuple[RegistryEntry, ...]
    frames: tuple[RegistryEntry, ...]
    risks: tuple[RegistryEntry, ...] = ()
    sizings: tuple[RegistryEntry, ...] = ()
    walkers: tuple[RegistryEntry, ...] = ()


@dataclass(frozen=True)
class FrameWindow:
    """The registered frame a run uses and the time it covers (epoch ms, UTC)."""

    frame_name: str
    label: str
    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class PriceSeries:
    """Candles for a chart: parallel arrays, at most as many as the chart asked for."""

    timestamp: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray

    def __len__(self) -> int:
        return int(self.timestamp.shape[0])


def _schema_name(schema: Any, field: str) -> str:
    return str(getattr(schema, field, None) or "?")


def _entries(
    schemas: Iterable[Any], field: str, detail: Callable[[Any], str]
) -> tuple[RegistryEntry, ...]:
    return tuple(
        RegistryEntry(_schema_name(s, field), detail(s), getattr(s, "note", None)) for s in schemas
    )


def _frame_detail(schema: Any) -> str:
    start, end = schema.start_date, schema.end_date
    if start is None or end is None:
        return schema.interval or ""
    return span_text(to_ms(start), to_ms(end))


def span_text(first_ms: int, last_ms: int) -> str:
    """Return `2024-01-01 → 12-31`: the days a span covers, the year once when it is one."""
    first, last = format_date(first_ms), format_date(last_ms)
    return f"{first} → {last[5:] if first[:4] == last[:4] else last}"


def signal_view(result: Any) -> SignalView | None:
    """Return the desk's row for an engine result, or None for results the stream skips."""
    signal = getattr(result, "signal", None)
    if signal is None:
        return None
    base: dict[str, Any] = {
        "signal_id": signal.id,
        "position": str(signal.position),
        "price_open": signal.price_open,
        "price_take_profit": signal.price_take_profit,
        "price_stop_loss": signal.price_stop_loss,
        "opened_at": signal.pending_at or signal.scheduled_at,
        "note": signal.note,
    }
    if signal.pending_at and signal.scheduled_at and signal.scheduled_at != signal.pending_at:
        base["scheduled_at"] = signal.scheduled_at
    if isinstance(result, ClosedResult):
        pnl = result.pnl
        return SignalView(
            **base,
            status=SignalStatus.CLOSED,
            closed_at=result.close_timestamp,
            price_close=pnl.price_close if pnl is not None else result.current_price,
            close_reason=str(result.close_reason),
            pnl_percentage=pnl.pnl_percentage if pnl is not None else None,
            ambiguous=result.ambiguous,
        )
    if isinstance(result, CancelledResult):
        base["opened_at"] = signal.scheduled_at
        return SignalView(**base, status=SignalStatus.CANCELLED, closed_at=result.close_timestamp)
    if isinstance(result, TickResult) and result.action is Action.OPENED:
        return SignalView(**base, status=SignalStatus.OPENED)
    if isinstance(result, TickResult) and result.action is Action.SCHEDULED:
        base["opened_at"] = signal.scheduled_at
        return SignalView(**base, status=SignalStatus.SCHEDULED)
    return None


def statistics_of(
    stats: Any, fields: Iterable[str], account: Any = None
) -> dict[str, float | None]:
    """Return the named statistics as plain floats (None where the engine has none).

    Args:
        stats: backtest-kit's statistics (`Backtest.get_data`).
        fields: The names to keep.
        account: The run's account (`Backtest.get_account`): its figures come from it.
    """
    figures = account.figures() if account is not None else {}
    values: dict[str, float | None] = {}
    for name in fields:
        value = figures[name] if name in figures else getattr(stats, name, None)
        values[name] = None if value is None else float(value)
    return values


def with_money(views: Iterable[SignalView], account: Any) -> tuple[SignalView, ...]:
    """Return closed signal rows with their fee and money PnL from the run's account."""
    money = {t.signal_id: (t.fee, t.pnl_money) for t in account.trades}
    rows = []
    for view in views:
        fee, pnl = money.get(view.signal_id, (None, None))
        rows.append(view._replace(fee=fee, pnl_money=pnl) if fee is not None else view)
    return tuple(rows)


def scheduled_update(result: Any, known: ScheduledSignal | None) -> ScheduledSignal | None:
    """Return a limit signal's row after an engine result about it (None: nothing to keep).

    A `scheduled` result starts the row; a later `cancelled` one ends it as cancelled, and an
    opened or closed one (the signal reached its price) as activated.
    """
    signal = getattr(result, "signal", None)
    if signal is None:
        return None
    action = result.action
    if action is Action.SCHEDULED:
        return ScheduledSignal(
            signal_id=signal.id,
            position=str(signal.position),
            scheduled_at=signal.scheduled_at,
            price_open=signal.price_open,
            price_take_profit=signal.price_take_profit,
            price_stop_loss=signal.price_stop_loss,
            price_then=result.current_price,
            note=signal.note,
        )
    if known is None or known.outcome is not ScheduleOutcome.WAITING:
        return None
    if action is Action.CANCELLED:
        return known._replace(outcome=ScheduleOutcome.CANCELLED, ended_at=result.close_timestamp)
    if action in (Action.OPENED, Action.ACTIVE, Action.CLOSED) and not signal.is_scheduled:
        return known._replace(outcome=ScheduleOutcome.ACTIVATED, ended_at=signal.pending_at)
    return None


def timing_rows(stats: PerformanceStatistics) -> tuple[TimingRow, ...]:
    """Return the rows of the engine's timing statistics (`Performance.get_data`), slowest first."""
    metrics = sorted(stats.metric_stats.values(), key=lambda m: -m.total_duration)
    return tuple(
        TimingRow(
            m.metric_type,
            m.count,
            m.total_duration,
            m.avg_duration,
            m.min_duration,
            m.max_duration,
            m.p95,
        )
        for m in metrics
    )


def describe_error(exc: BaseException) -> tuple[str, str]:
    """Return a (title, message) pair for an exception, without a traceback."""
    title = type(exc).__name__
    message = str(exc) or repr(exc)
    cause = exc.__cause__
    if cause is not None and str(cause) and str(cause) not in message:
        message = f"{message}\ncaused by {type(cause).__name__}: {cause}"
    return title, message


def error_text(exc: BaseException) -> str:
    """Return an engine error as one line for a run's `first_error`.

    A strategy's error says already where it happened (`strategy x raised ValueError: …`);
    any other error is prefixed with its type.
    """
    if isinstance(exc, StrategyError):
        return str(exc)
    title, message = describe_error(exc)
    return f"{title}: {message.splitlines()[0]}"


class EngineBridge:
    """Subscribes to engine events, runs backtests and fetches candles for the desk.

    Args:
        post: Thread-safe function that delivers a message to the desk.
        dump_dir: The desk's report folder (the history writes each stored run's report to
            `<dump_dir>/backtest/<strategy>-<run id>.md`).
        statistics: The statistic names the desk keeps for each run.
        clock: Returns the current time (for `finished_at`).
    """

    def __init__(
        self,
        post: Post,
        dump_dir: Path,
        statistics: Iterable[str],
        clock: Callable[[], datetime],
    ) -> None:
        self._post = post
        self.dump_dir = dump_dir
        self._statistics = tuple(statistics)
        self._clock = clock
        self._unsubscribe: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._active: RunRequest | None = None
        self._buffer: list[SignalView] = []
        self._last_flush = 0.0
        self._errors = 0
        self._first_error: str | None = None
        self._scheduled: dict[str, ScheduledSignal] = {}
        self._partials: list[PartialLevel] = []

    def subscribe(self) -> None:
        """Start forwarding engine events to the desk."""
        if self._unsubscribe:
            return
        self._unsubscribe = [
            engine.listen_signal_backtest(self._on_signal),
            engine.listen_backtest_progress(self._on_progress),
            engine.listen_error(self._on_error),
            engine.listen_partial_profit(lambda e: self._on_partial("profit", e)),
            engine.listen_partial_loss(lambda e: self._on_partial("loss", e)),
            engine.listen_validation(self._on_validation),
        ]

    def unsubscribe(self) -> None:
        """Stop forwarding engine events."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    def _is_active(self, payload: Any) -> bool:
        active = self._active
        return (
            active is not None
            and getattr(payload, "strategy_name", None) == active.strategy_name
            and getattr(payload, "symbol", None) == active.symbol
        )

    def _on_signal(self, result: Any) -> None:
        if not self._is_active(result):
            return
        signal = getattr(result, "signal", None)
        known = self._scheduled.get(signal.id) if signal is not None else None
        scheduled = scheduled_update(result, known)
        if scheduled is not None:
            self._scheduled[scheduled.signal_id] = scheduled
        view = signal_view(result)
        if view is None:
            return
        with self._lock:
            self._buffer.append(view)
        if time.monotonic() - self._last_flush >= SIGNAL_BATCH_SECONDS:
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            latest = {view.signal_id: view for view in self._buffer}
            self._buffer = []
            self._last_flush = time.monotonic()
        if latest:
            self._post(SignalsReceived(tuple(latest.values())))

    def _on_progress(self, payload: Any) -> None:
        if self._is_active(payload):
            self._post(RunProgressed(payload.processed_frames, payload.total_frames))

    def _on_error(self, exc: BaseException) -> None:
        with self._lock:
            self._errors += 1
            count = self._errors
            if self._first_error is None:
                self._first_error = error_text(exc)
        if count <= ERRORS_SHOWN_PER_RUN:
            self._post(EngineErrorReported(*describe_error(exc)))

    def _on_partial(self, kind: str, payload: Any) -> None:
        signal = payload.data
        active = self._active
        if (
            active is not None
            and payload.backtest
            and payload.symbol == active.symbol
            and getattr(signal, "strategy_name", None) == active.strategy_name
        ):
            self._partials.append(
                PartialLevel(
                    payload.timestamp,
                    kind,
                    str(signal.id),
                    str(signal.position),
                    payload.level,
                    payload.current_price,
                )
            )
        signal_id = str(getattr(signal, "id", "?"))[:8]
        self._post(
            EngineNoticed(
                f"partial {kind} {payload.level} % on {signal_id} ({payload.symbol}) "
                f"at {format_timestamp(payload.timestamp)}"
            )
        )
        self._post(PartialAlerted(partial_alert(kind, payload)))

    def _on_validation(self, exc: BaseException) -> None:
        self._post(RiskRejected(*describe_error(exc)))

    def register_builtins(self) -> None:
        """Register the built-in strategies (idempotent)."""
        register_builtin_strategies()

    def load_module(self, path: str) -> None:
        """Import a user's strategy module (its `add_*` calls register schemas).

        Raises:
            ConfigError: The module failed to import; the message names file, line and error.
        """
        load_module(path)

    @staticmethod
    def describe(exc: BaseException) -> tuple[str, str]:
        """Return a (title, message) pair for an exception, without a traceback."""
        return describe_error(exc)

    def default_request(self) -> RunRequest | None:
        """Return a sensible first run: the first strategy on the demo market's shortest frame."""
        strategies = [s.strategy_name for s in engine.list_strategies() if s.strategy_name]
        exchanges = [e.exchange_name for e in engine.list_exchanges() if e.exchange_name]
        frames = [f.frame_name for f in engine.list_frames() if f.frame_name]
        if not strategies or not exchanges or not frames:
            return None
        exchange = "demo" if "demo" in exchanges else exchanges[0]
        symbols = self.symbols(exchange)
        return RunRequest(
            strategy_name=strategies[0],
            symbol=symbols[0] if symbols else "BTCUSDT",
            exchange_name=exchange,
            frame_name="demo-7d" if "demo-7d" in frames else frames[0],
        )

    def registry(self) -> RegistrySnapshot:
        """Return what is registered now (without the desk's own walkers)."""
        optional = {
            kind: tuple(getattr(engine, f"list_{kind}", lambda: [])())
            for kind in ("risks", "sizings", "walkers")
        }
        return RegistrySnapshot(
            exchanges=_entries(engine.list_exchanges(), "exchange_name", self._exchange_detail),
            strategies=_entries(
                engine.list_strategies(), "strategy_name", lambda s: s.interval or ""
            ),
            frames=_entries(engine.list_frames(), "frame_name", _frame_detail),
            risks=_entries(optional["risks"], "risk_name", lambda s: ""),
            sizings=_entries(
                optional["sizings"], "sizing_name", lambda s: getattr(s, "method", "") or ""
            ),
            walkers=_entries(
                [w for w in optional["walkers"] if w.walker_name not in DESK_WALKERS],
                "walker_name",
                lambda s: getattr(s, "metric", "") or "",
            ),
        )

    def _exchange_detail(self, schema: Any) -> str:
        name = _schema_name(schema, "exchange_name")
        kind = self.exchange_kind(name)
        return f"cache · {self._count(name)}" if kind == "cache" else kind

    def _count(self, exchange_name: str) -> str:
        count = len(self.symbols(exchange_name))
        return f"{count} symbol{'s' if count != 1 else ''}"

    def exchange_kind(self, exchange_name: str) -> str:
        """Return where an exchange's candles come from, in a word or two.

        `cache` (the local ccxt cache, offline), `N files`, `user code` (a module's
        `get_candles`), else the store's symbol count (`5 symbols`, the demo market).
        """
        source = next((s for s in registered_sources() if s.exchange_name == exchange_name), None)
        if isinstance(source, CacheSource):
            return "cache"
        if isinstance(source, FileSource):
            count = len(source.files)
            return f"{count} file{'s' if count != 1 else ''}"
        return self._count(exchange_name) if self.symbols(exchange_name) else "user code"

    def symbols(self, exchange_name: str) -> tuple[str, ...]:
        """Return the symbols an exchange can serve, when it says (stores do; user code may not)."""
        store = engine.exchange_store(exchange_name)
        return tuple(store.symbols()) if store is not None else ()

    def symbol_spans(self, exchange_name: str) -> dict[str, Span | None]:
        """Return each symbol of an exchange with the span its candles cover (None: unknown).

        Blocking the first time a cached symbol is asked for (it loads from disk).
        """
        spans: dict[str, Span | None] = {}
        for symbol in self.symbols(exchange_name):
            try:
                spans[symbol] = data_span(exchange_name, symbol)
            except EngineError:
                spans[symbol] = None
        return spans

    def refresh_sources(self) -> None:
        """Serve every exchange of the local ccxt cache (one per exchange id), offline.

        An id that a module registered itself stays the module's. Call it after the user's
        module loaded and whenever the cache may have changed (the launcher calls it).
        """
        for exchange_id in cached_exchange_ids():
            try:
                register_cache(exchange_id)
            except EngineError:  # a module took the name meanwhile: it stays the module's
                continue

    def fit_request(self, request: RunRequest) -> tuple[RunRequest, tuple[str, ...]]:
        """Check a request against the data before it runs; trim a range that overlaps it in part.

        Returns the request to run (a date range when trimmed) and warnings saying why.

        Raises:
            EngineError: the frame is unknown, the symbol is unknown, or the frame lies
                outside the data (the message says what the data covers).
        """
        window = self.frame_window(request)
        fitted = fit_range(request.exchange_name, request.symbol, window.start_ms, window.end_ms)
        if not fitted.warnings:
            return request, ()
        trimmed = request.model_copy(
            update={"frame_name": None, "start_ms": fitted.start_ms, "end_ms": fitted.end_ms}
        )
        return trimmed, fitted.warnings

    def frame_window(self, request: RunRequest) -> FrameWindow:
        """Return the frame a request runs on, registering an ad-hoc frame for a date range.

        Raises:
            EngineError: The frame is unknown or the range is empty.
        """
        if request.frame_name is not None:
            for schema in engine.list_frames():
                start, end = schema.start_date, schema.end_date
                if schema.frame_name == request.frame_name and start and end:
                    return FrameWindow(
                        request.frame_name, request.frame_name, to_ms(start), to_ms(end)
                    )
            raise engine.ConfigError(
                f"frame {request.frame_name!r} is not registered; "
                f"registered frames: {', '.join(f.frame_name or '?' for f in engine.list_frames())}"
            )
        if request.start_ms is None or request.end_ms is None or request.end_ms <= request.start_ms:
            raise engine.ConfigError(
                "a date range needs a start before its end, e.g. 2024-03-01 → 2024-03-08"
            )
        label = f"{format_date(request.start_ms)} → {format_date(request.end_ms)}"
        name = f"desk-{format_date(request.start_ms)}-{format_date(request.end_ms)}"
        if name not in {f.frame_name for f in engine.list_frames()}:
            engine.add_frame(
                frame_name=name,
                interval="1m",
                start_date=to_datetime(request.start_ms),
                end_date=to_datetime(request.end_ms),
                note=f"date range chosen in the desk: {label}",
            )
        return FrameWindow(name, label, request.start_ms, request.end_ms)

    def run(
        self,
        request: RunRequest,
        cancel: threading.Event,
        persist: Callable[[RunRecord], RunRecord] | None = None,
    ) -> RunRecord | None:
        """Run one backtest to its end (blocking: call it from a thread worker).

        Posts `RunStarted`, batches of `SignalsReceived`, `RunProgressed`, then exactly one of
        `RunFinished`, `RunCancelled` or `RunFailed`. Returns the finished record, if any.

        Args:
            request: What to run.
            cancel: Set it to stop the run promptly.
            persist: Stores the finished record (in this thread) and returns it as stored.
        """
        try:
            request, _ = self.fit_request(request)
            window = self.frame_window(request)
        except EngineError as exc:
            self._post(RunFailed(request, *describe_error(exc)))
            return None
        with self._lock:
            self._buffer, self._errors, self._first_error = [], 0, None
            self._scheduled, self._partials = {}, []
            self._active = request
        started_ms = time.time_ns() // 1_000_000  # the engine stamps timings by the wall clock
        self._post(RunStarted(request, window.label))
        closed: list[SignalView] = []
        try:
            for result in engine.Backtest.run(
                request.symbol,
                strategy_name=request.strategy_name,
                exchange_name=request.exchange_name,
                frame_name=window.frame_name,
                profile=str(request.profile),
                cancel=cancel,
            ):
                view = signal_view(result) if isinstance(result, ClosedResult) else None
                if view is not None:
                    closed.append(view)
            self._flush()
            if cancel.is_set():
                self._post(RunCancelled(request, len(closed)))
                return None
            record = self._record(request, window, closed, started_ms)
            if persist is not None:
                record = persist(record)
        except Exception as exc:  # the desk survives any failure of a run and shows it
            self._flush()
            self._post(RunFailed(request, *describe_error(exc)))
            return None
        finally:
            self._active = None
            self._report_suppressed_errors()
        self._post(RunFinished(record))
        return record

    def _report_suppressed_errors(self) -> None:
        hidden = self._errors - ERRORS_SHOWN_PER_RUN
        if hidden > 0:
            self._post(EngineNoticed(f"… and {hidden} more engine errors in this run", "error"))

    def _record(
        self, request: RunRequest, window: FrameWindow, closed: list[SignalView], started_ms: int
    ) -> RunRecord:
        stats = engine.Backtest.get_data(request.symbol, request.strategy_name)
        account = engine.Backtest.get_account(
            request.symbol, request.strategy_name, balance=request.balance
        )
        # The history writes the report file once it knows the run's id (`<strategy>-<id>.md`,
        # tui.state.DeskState.index_run), so a run never overwrites another run's report.
        report = engine.Backtest.get_report(request.symbol, request.strategy_name)
        return RunRecord(
            request=request,
            frame_label=window.label,
            start_ms=window.start_ms,
            end_ms=window.end_ms,
            finished_at=int(self._clock().timestamp() * 1000),
            statistics=statistics_of(stats, self._statistics, account),
            signals=with_money(closed, account),
            report=report,
            error_count=self._errors,
            first_error=self._first_error,
            sections=self._sections(request, started_ms),
        )

    def _sections(self, request: RunRequest, started_ms: int) -> RunSections:
        """Return the run's scheduled signals, partial levels and timings."""
        measured = engine.Performance.get_data(request.symbol, request.strategy_name)
        this_run = [e for e in measured.events if e.timestamp >= started_ms]
        timings = timing_rows(performance_statistics(request.strategy_name, this_run))
        return RunSections(
            scheduled=tuple(self._scheduled.values()),
            partials=tuple(self._partials),
            timings=timings,
        )

    def price_series(
        self, exchange_name: str, symbol: str, start_ms: int, end_ms: int, buckets: int
    ) -> PriceSeries:
        """Return candles covering `[start_ms, end_ms]` merged into at most `buckets` candles.

        Blocking (the first call for a demo symbol generates its year): call from a worker.
        """
        minutes = max(1, (end_ms - start_ms) // MINUTE_MS + 1)
        store = engine.exchange_store(exchange_name)
        if store is not None:
            arrays = store.window(symbol, "1m", start_ms, minutes)
        else:
            get_candles = next(
                (
                    s.get_candles
                    for s in engine.list_exchanges()
                    if s.exchange_name == exchange_name
                ),
                None,
            )
            if get_candles is None:
                raise engine.ConfigError(f"exchange {exchange_name!r} is not registered")
            arrays = CandleArrays.from_candles(
                get_candles(symbol, "1m", to_datetime(start_ms), minutes)
            )
        # A source answers with the candles at or after start_ms, however late they are:
        # never draw candles outside the range asked for.
        inside = (arrays.timestamp >= start_ms) & (arrays.timestamp <= end_ms)
        return _merge(arrays.take(np.flatnonzero(inside)), max(1, buckets))


def _merge(arrays: CandleArrays, buckets: int) -> PriceSeries:
    count = len(arrays)
    if count == 0:
        empty_i, empty_f = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        return PriceSeries(empty_i, empty_f, empty_f, empty_f, empty_f)
    per = max(1, -(-count // buckets))
    starts = np.arange(0, count, per)
    ends = np.minimum(starts + per, count) - 1
    return PriceSeries(
        arrays.timestamp[starts],
        arrays.open[starts],
        np.maximum.reduceat(arrays.high, starts),
        np.minimum.reduceat(arrays.low, starts),
        arrays.close[ends],
    )
