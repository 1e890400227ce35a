"""ClientStrategy: the signal lifecycle, tick by tick and on candle arrays.

See docs/semantics.md#lifecycle.
"""

from __future__ import annotations

import difflib
import math
import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import numpy as np

from engine.core import context
from engine.core.config import Settings
from engine.core.errors import SignalValidationError, StrategyError
from engine.core.events import error_emitter, signal_backtest_emitter, signal_emitter
from engine.core.intervals import MINUTES, STRATEGY_INTERVALS
from engine.core.jsformat import js_string
from engine.core.logger import engine_logger
from engine.core.models import (
    Action,
    CancelledResult,
    ClosedResult,
    CloseReason,
    SignalRow,
    TickResult,
)
from engine.core.pnl import profit_loss
from engine.core.schemas import StrategySchema
from engine.core.validation import quick_valid, signal_errors
from engine.data.store import CandleArrays
from engine.sim.exchange import ClientExchange, ms_to_datetime, vwap
from engine.sim.live_journal import (
    CALLBACKS,
    CANCELLED,
    CLOSED,
    OPENED,
    PARTIAL_LOSS,
    PARTIAL_PROFIT,
    SCHEDULED,
    Entry,
    LifecycleJournal,
    delivering,
)
from engine.sim.partial import LEVELS, ClientPartial, revenue_percent
from engine.sim.risk import Risk, RiskParams
from engine.sim.watchdog import exit_error

_log = engine_logger(__name__)

MINUTE_MS = 60_000
_DTO_FIELDS = {
    "id": "id",
    "position": "position",
    "note": "note",
    "price_open": "price_open",
    "priceOpen": "price_open",
    "price_take_profit": "price_take_profit",
    "priceTakeProfit": "price_take_profit",
    "price_stop_loss": "price_stop_loss",
    "priceStopLoss": "price_stop_loss",
    "minute_estimated_time": "minute_estimated_time",
    "minuteEstimatedTime": "minute_estimated_time",
}
_SNAKE_FIELDS = frozenset(_DTO_FIELDS.values())
_ids = random.Random()


def new_signal_id(rng: random.Random = _ids) -> str:
    """Return a random uuid-shaped id (upstream's `randomString`) drawn from `rng`."""
    h = rng.getrandbits(128).to_bytes(16).hex()  # 32 hex digits, as f"{…:032x}" but faster
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def seed_signal_ids(seed: int) -> None:
    """Make signal ids reproducible (tests, screenshots)."""
    _ids.seed(seed)


def normalize_dto(dto: Any) -> dict[str, Any]:
    """Return a signal dto as a dict with snake_case keys, or explain the unknown fields."""
    if type(dto) is dict and dto.keys() <= _SNAKE_FIELDS:  # the common case, checked in C
        return dict(dto)
    if not isinstance(dto, Mapping) and hasattr(dto, "model_dump"):  # a SignalDto (pydantic)
        dto = dto.model_dump(exclude_unset=True)
    if not isinstance(dto, Mapping):
        raise SignalValidationError(
            f"get_signal returned {type(dto).__name__}; return a dict (or SignalDto) with "
            "position, price_take_profit, price_stop_loss, minute_estimated_time, or None"
        )
    out: dict[str, Any] = {}
    for key, value in dto.items():
        field = _DTO_FIELDS.get(key)
        if field is None:
            hint = difflib.get_close_matches(str(key), list(_DTO_FIELDS), n=1)
            fix = f"did you mean {hint[0]!r}?" if hint else "remove it"
            raise SignalValidationError(f"get_signal returned unknown field {key!r} ({fix})")
        out[field] = value
    return out


class SignalState(Protocol):
    """Where a live strategy's signals are saved on every change (crash safety)."""

    def save(
        self,
        symbol: str,
        strategy_name: str,
        pending: SignalRow | None,
        scheduled: SignalRow | None,
    ) -> None:
        """Persist the current pending and scheduled signals (None means none)."""
        ...

    def check_new_id(self, signal_id: Any) -> None:
        """Raise `SignalValidationError` when an earlier signal already used `signal_id`."""
        ...


# Builds a named tuple without its Python-level __new__ (hot paths): pass every field, in order.
_new_tuple = tuple.__new__
_fromtimestamp = datetime.fromtimestamp
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _QuietStretch:
    """The context a backtest's quiet stretches of frames enter once (`ClientStrategy.quietly`).

    Calls mostly come at a steady pace, `pace_ms` apart (every frame, or every throttle
    interval): a call one pace after the previous one gets that call's datetime plus the
    pace (exact, like building it from the timestamp, and cheaper).
    """

    __slots__ = ("context", "date", "ms", "pace", "pace_ms", "step_ms")

    def __init__(self, ctx: context.ExecutionContext, step_ms: int, pace_ms: int) -> None:
        self.context = ctx
        self.step_ms = step_ms
        self.pace_ms = pace_ms
        self.pace = timedelta(milliseconds=pace_ms)
        self.ms, self.date = 0, _EPOCH  # the last call's time and its datetime

    def call(self, fn: Callable[[str, datetime], Any], symbol: str, when: int) -> Any:
        """Run `get_signal` at `when` under the stretch's context."""
        if when - self.ms == self.pace_ms:
            date = self.date + self.pace
        else:
            date = _fromtimestamp(when / 1000, UTC)
        self.ms, self.date = when, date
        ctx = self.context
        ctx.when = when
        ctx.inside = True
        try:
            return fn(symbol, date)
        finally:
            ctx.inside = False


def _first_true(mask: np.ndarray, stop: int) -> int:
    """Return the first index `< stop` where `mask` is true, or -1."""
    if stop <= 0:
        return -1
    k = int(mask[:stop].argmax())
    return k if mask[k] else -1


class ClientStrategy:
    """One strategy on one symbol: holds its pending or scheduled signal and runs the rules.

    `tick(when)` is the live-style step (VWAP monitoring); `backtest(candles, when)` resolves
    an opened or scheduled signal on the candles that follow it in one vectorised pass.
    """

    def __init__(
        self,
        schema: StrategySchema,
        exchange: ClientExchange,
        symbol: str,
        settings: Settings,
        risk: Risk,
        backtest: bool,
        frame_name: str = "",
    ) -> None:
        self.schema = schema
        self.name = schema.strategy_name or ""
        self.exchange = exchange
        self.symbol = symbol
        self.settings = settings
        self.risk = risk
        self.is_backtest = backtest
        self.frame_name = frame_name
        self._pending: SignalRow | None = None
        self._scheduled: SignalRow | None = None
        self.state: SignalState | None = None
        self.journal: LifecycleJournal | None = None
        """Live runs only: lifecycle callbacks are journaled, then delivered from it."""
        self.last_signal_at: int | None = None
        self.stopped = False
        self.partial = ClientPartial()
        interval = schema.interval or ""
        self.interval_ms = (
            MINUTES[interval] * MINUTE_MS if interval in STRATEGY_INTERVALS else math.nan
        )
        self.callbacks = schema.callbacks
        self.always_idle = not backtest
        self._window = settings.avg_price_candles
        self._price_first = settings.legacy or bool(risk.name)
        get_signal = schema.get_signal
        assert get_signal is not None  # checked at registration
        self._user_get_signal = get_signal
        self.ids = _ids  # where signal ids come from; a run may seed its own generator
        self._when = 0  # the time of the tick being processed (for callbacks outside one)
        self._stretch: _QuietStretch | None = None  # set while `quietly` runs
        self._quiet: _QuietStretch | None = None  # made at the first `quietly`, then reused

    # ----- signal state ----------------------------------------------------------------

    @property
    def pending(self) -> SignalRow | None:
        """The open (pending) signal, if any."""
        return self._pending

    @pending.setter
    def pending(self, row: SignalRow | None) -> None:
        if self.state is not None:  # saved first: a failed write changes nothing in memory
            self.state.save(self.symbol, self.name, row, self._scheduled)
        self._pending = row
        if self.state is not None and self.callbacks is not None:
            self._callback(self._when, "on_write", row, self.is_backtest)

    @property
    def scheduled(self) -> SignalRow | None:
        """The scheduled signal waiting for its entry price, if any."""
        return self._scheduled

    @scheduled.setter
    def scheduled(self, row: SignalRow | None) -> None:
        if self.state is not None:
            self.state.save(self.symbol, self.name, self._pending, row)
        self._scheduled = row

    def restore(self, pending: SignalRow | None, scheduled: SignalRow | None, when: int) -> None:
        """Resume signals recovered after a restart (no save), firing on_active/on_schedule.

        With a journal, the lifecycle callbacks a stop left undelivered go first (oldest
        first), and on_schedule is not repeated for a schedule already delivered.
        """
        self._pending, self._scheduled = pending, scheduled
        self.deliver(when)
        if self.callbacks is None:
            return
        if pending is not None:
            self._callback(when, "on_active", pending, pending.price_open, self.is_backtest)
        if scheduled is not None and self.journal is None:
            self._callback(when, "on_schedule", scheduled, scheduled.price_open, self.is_backtest)

    # ----- user code -------------------------------------------------------------------

    def _context(self, when: int) -> context.ExecutionContext:
        return context.ExecutionContext(
            self.symbol, when, self.is_backtest, self.name, self.exchange, self.frame_name
        )

    def _call(self, when: int, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        token = context.enter(self._context(when))
        try:
            return fn(*args)
        except Exception as exc:
            self.report(exc, when, what)
            return None
        except SystemExit as exc:
            raise exit_error(self.name, exc) from exc
        finally:
            context.leave(token)

    def _callback(self, when: int, name: str, *args: Any) -> None:
        callbacks = self.callbacks
        fn = getattr(callbacks, name) if callbacks is not None else None
        if fn is not None:
            self._call(when, name, fn, self.symbol, *args)

    def listens(self, event: str) -> bool:
        """Return whether the strategy has a callback for a lifecycle `event`."""
        return self.callbacks is not None and getattr(self.callbacks, CALLBACKS[event]) is not None

    def _lifecycle(
        self,
        when: int,
        event: str,
        signal: SignalRow,
        price: float,
        *extra: float,
        level: int | None = None,
        result: Any = None,
    ) -> None:
        """Run a lifecycle callback: at once in a backtest; live, journaled then delivered."""
        journal = self.journal
        if journal is None:
            self._callback(when, CALLBACKS[event], signal, price, *extra, self.is_backtest)
            return
        delivered = not self.listens(event)
        journal.record(event, signal, price, extra, level, result, delivered)
        self.deliver(when)

    def deliver(self, when: int) -> None:
        """Deliver the journaled lifecycle callbacks not yet acknowledged, oldest first.

        Each is acknowledged (durably) once it returns. One that raises is reported, stays
        in the journal, and the ones after it wait: all are tried again at the next tick
        and after a restart. Without a journal (backtests) there is nothing to do.
        """
        journal = self.journal
        if journal is None:
            return
        for entry in journal.undelivered():
            if self.listens(entry.delivery.event) and not self._deliver(when, entry):
                journal.failed(entry.delivery.key)
                return
            journal.acknowledge(entry.delivery.key)

    def _deliver(self, when: int, entry: Entry) -> bool:
        fn = getattr(self.callbacks, entry.callback)
        token = context.enter(self._context(when))
        try:
            with delivering(entry.delivery):
                fn(self.symbol, *entry.args, self.is_backtest)
            return True
        except Exception as exc:
            what = f"{entry.callback} (delivery {entry.delivery.key}, delivered again later)"
            self.report(exc, when, what)
            return False
        finally:
            context.leave(token)

    def report(self, exc: Exception, when: int, what: str) -> None:
        """Send a recoverable error to `listen_error`, wrapped with where it happened."""
        if not isinstance(exc, SignalValidationError | StrategyError):
            wrapped = StrategyError(
                f"strategy {self.name} raised {type(exc).__name__}: {exc} in {what} "
                f"for {self.symbol} at {ms_to_datetime(when).isoformat()}"
            )
            wrapped.__cause__ = exc
            exc = wrapped
        _log.warn(
            str(exc),
            {"symbol": self.symbol, "strategy_name": self.name, "when": when, "call": what},
        )
        error_emitter.emit(exc)

    # ----- getting a signal (docs/semantics.md#get-signal) ---------------------------------

    def _allowed(self, price: float, when: int) -> bool:
        """Ask the risk profile (if any) whether a signal at `price` may go ahead."""
        if not self.risk.name:
            return True
        params = RiskParams(self.symbol, self.name, self.exchange.name, price, when)
        return self.risk.check_signal(params)

    def _get_signal(self, when: int) -> SignalRow | None:
        """Ask `get_signal` at `when` (throttled); a row goes to `start_signal` next.

        This runs at every frame of an idle strategy: it is kept lean (no VWAP unless needed;
        inside `quietly`, no context entered and no datetime built from the timestamp).
        """
        self._when = when
        if self.stopped:
            return None
        last = self.last_signal_at
        if last is not None and when - last < self.interval_ms:
            return None
        self.last_signal_at = when
        try:
            # The VWAP is computed only when needed: for the risk check and for a signal row.
            # The backtest-kit-1.4.10 profile asks for it first, as upstream does: no candles
            # for it means get_signal is not called.
            price = None
            if self._price_first:
                if self.risk.name:
                    price = self.exchange.average_price(self.symbol, when)
                    if not self._allowed(price, when):
                        return None
                else:  # its value is needed only with a signal
                    self.exchange.check_average_price(self.symbol, when)
            stretch = self._stretch
            if stretch is None:
                token = context.enter(self._context(when))
                try:
                    dto = self._user_get_signal(self.symbol, _fromtimestamp(when / 1000, UTC))
                finally:
                    context.leave(token)
            else:
                dto = stretch.call(self._user_get_signal, self.symbol, when)
            if not dto or self.stopped:
                return None
            if price is None:
                price = self.exchange.average_price(self.symbol, when)
            return self._build_row(normalize_dto(dto), price, when)
        except Exception as exc:
            self.report(exc, when, "get_signal")
            return None
        except SystemExit as exc:
            raise exit_error(self.name, exc) from exc

    ask_signal = _get_signal  # public name; the frame keeps `_get_signal` for the watchdog

    def quietly(self, step_ms: int) -> object:
        """Enter one context for a stretch of `ask_signal` calls on frames `step_ms` apart.

        Until `end_quietly(token)`, each call moves that context's time instead of entering
        a context of its own (a backtest's hot loop). Returns the token for `end_quietly`.
        """
        stretch = self._quiet
        if stretch is None or stretch.step_ms != step_ms:
            ctx = context.ExecutionContext(
                self.symbol, 0, self.is_backtest, self.name, self.exchange, self.frame_name, False
            )
            # Asked every frame, or at the strategy's interval when the throttle skips frames.
            pace_ms = int(self.interval_ms) if self.interval_ms > step_ms else step_ms
            stretch = self._quiet = _QuietStretch(ctx, step_ms, pace_ms)
        self._stretch = stretch
        return context.enter(stretch.context)

    def end_quietly(self, token: object) -> None:
        """Leave the context `quietly` entered."""
        self._stretch = None
        context.leave(token)

    def _build_row(self, dto: dict[str, Any], price: float, when: int) -> SignalRow:
        """Turn a normalised dto into a validated signal row (docs/semantics.md#get-signal)."""
        open_price = dto.get("price_open")
        position = dto.get("position")
        if open_price is None:
            signal_id = dto["id"] if "id" in dto else new_signal_id(self.ids)
            if "id" in dto and self.state is not None:
                self.state.check_new_id(signal_id)
            scheduled = False
            if "price_open" not in dto:
                open_price = price
        else:
            signal_id = new_signal_id(self.ids)
            reached = (position == "long" and price <= open_price) or (
                position == "short" and price >= open_price
            )
            scheduled = not reached
        # Built before validation, so fields may still hold what the user wrongly returned.
        row = _new_tuple(
            SignalRow,
            (
                signal_id,
                open_price,
                str(position) if isinstance(position, str) else position,
                dto.get("note"),
                dto.get("price_take_profit"),
                dto.get("price_stop_loss"),
                dto.get("minute_estimated_time"),
                self.symbol,
                self.exchange.name,
                self.name,
                when,
                when,
                scheduled,
            ),
        )
        if quick_valid(row, price, scheduled, self.settings):  # the common case
            return row
        errors = signal_errors(row, price, scheduled, self.settings)
        raise SignalValidationError(
            f"Invalid signal for {js_string(position)} position:\n" + "\n".join(errors)
        )

    # ----- results ----------------------------------------------------------------------

    def _result(self, action: Action, signal: SignalRow | None, price: float) -> TickResult:
        return _new_tuple(
            TickResult, (action, signal, price, self.name, self.exchange.name, self.symbol)
        )

    def _closed(
        self,
        signal: SignalRow,
        price: float,
        reason: CloseReason,
        close_ts: int,
        when: int,
        ambiguous: bool = False,
        result_signal: SignalRow | None = None,
    ) -> ClosedResult:
        pnl = profit_loss(signal.position, signal.price_open, price)
        result = _new_tuple(
            ClosedResult,
            (
                Action.CLOSED,
                result_signal or signal,
                price,
                self.name,
                self.exchange.name,
                self.symbol,
                reason,
                close_ts,
                pnl,
                ambiguous,
            ),
        )
        if self.callbacks is not None or self.journal is not None:
            self._lifecycle(when, CLOSED, signal, price, result=result)
        self.partial.clear(signal.id)
        self.risk.remove_signal(self.symbol, self.name)
        self.pending = None
        if self.callbacks is not None:
            self._callback(when, "on_tick", result, self.is_backtest)
        return result

    def _cancelled(self, signal: SignalRow, price: float, close_ts: int, when: int) -> Any:
        self.scheduled = None
        result = CancelledResult(
            Action.CANCELLED, signal, price, self.name, self.exchange.name, self.symbol, close_ts
        )
        if self.callbacks is not None or self.journal is not None:
            self._lifecycle(when, CANCELLED, signal, price, result=result)
        if self.callbacks is not None:
            self._callback(when, "on_tick", result, self.is_backtest)
        return result

    # ----- tick (docs/semantics.md#lifecycle, docs/live.md#loop) ---------------------------

    def tick(self, when: int) -> Any:
        """Advance one step at time `when` and return the tick result."""
        self._when = when
        if self.stopped:
            return self._idle(when, self._price_or_nan(when))
        if self._scheduled is not None and self._pending is None:
            return self._monitor_scheduled(when)
        if self._pending is None and self._scheduled is None:
            return self.start_signal(self._get_signal(when), when)
        return self._monitor_pending(when)

    def quiet(self) -> bool:
        """Return whether a tick would only ask for a signal (then `ask_signal` may replace it).

        True with nothing open, scheduled or stopped, and no idle result anyone would see.
        """
        if self.stopped or self._pending is not None or self._scheduled is not None:
            return False
        callbacks = self.callbacks
        return not (
            self.always_idle
            or signal_emitter.listeners
            or signal_backtest_emitter.listeners
            or (callbacks is not None and (callbacks.on_idle or callbacks.on_tick))
        )

    def unobserved(self) -> bool:
        """Return whether nothing can see a signal open or close but its closed result.

        True with no callbacks, risk profile, saved state, journal or partial store (a
        backtest's plain run): `resolve_quietly` may then replace `start_signal` and
        `backtest`.
        """
        return (
            self.callbacks is None
            and not self.risk.name
            and self.state is None
            and self.journal is None
            and self.partial.store is None
        )

    def resolve_quietly(self, row: SignalRow, when: int) -> ClosedResult | None:
        """Open the market signal `row` at `when` and resolve it on the candles that follow.

        What `start_signal` then `backtest` do when `unobserved()`, without building the
        opened result nobody sees. Returns None, the signal left open, when no candle
        follows `when` (the run's main loop then carries on).
        """
        self._pending = row
        candles, lo, hi = self.exchange.next_candles_span(
            self.symbol, "1m", row.minute_estimated_time, when
        )
        if hi == lo:
            return None
        return self._backtest_pending(row, candles, lo, hi, when)

    def start_signal(self, row: SignalRow | None, when: int) -> Any:
        """Schedule or open the signal `get_signal` returned at `when` (idle without one)."""
        if row is None:
            return self._idle(when, None)
        if row.is_scheduled:
            self.scheduled = row
            price = self.exchange.average_price(self.symbol, when)
            if self.callbacks is not None or self.journal is not None:
                self._lifecycle(when, SCHEDULED, row, price)
            result = self._result(Action.SCHEDULED, row, price)
            if self.callbacks is not None:
                self._callback(when, "on_tick", result, self.is_backtest)
            return result
        return self._open(row, when)

    def _price_or_nan(self, when: int) -> float:
        try:
            return self.exchange.average_price(self.symbol, when)
        except Exception:
            return math.nan

    def _idle(self, when: int, price: float | None) -> TickResult | None:
        """Return an idle result; skip building it when nobody would see it."""
        callbacks = self.callbacks
        wants = callbacks is not None and (
            callbacks.on_idle is not None or callbacks.on_tick is not None
        )
        watched = signal_emitter.listeners or signal_backtest_emitter.listeners
        if not (wants or self.always_idle or watched):
            return None
        if price is None:
            price = self._price_or_nan(when)
        if self.callbacks is not None:
            self._callback(when, "on_idle", price, self.is_backtest)
        result = self._result(Action.IDLE, None, price)
        if self.callbacks is not None:
            self._callback(when, "on_tick", result, self.is_backtest)
        return result

    def _open(self, row: SignalRow, when: int) -> TickResult | None:
        self.pending = row
        if not self._allowed(row.price_open, when):
            self.pending = None
            return self._idle(when, None)
        self.risk.add_signal(self.symbol, self.name, self.exchange.name, when)
        return self._opened(row, when)

    def _opened(self, row: SignalRow, when: int) -> TickResult:
        result = self._result(Action.OPENED, row, row.price_open)
        if self.callbacks is not None or self.journal is not None:
            self._lifecycle(when, OPENED, row, row.price_open, result=result)
        if self.callbacks is not None:
            self._callback(when, "on_tick", result, self.is_backtest)
        return result

    def _monitor_scheduled(self, when: int) -> Any:
        signal = self._scheduled
        assert signal is not None
        price = self.exchange.average_price(self.symbol, when)
        if when - signal.scheduled_at >= self.settings.schedule_await_minutes * MINUTE_MS:
            return self._cancelled(signal, price, when, when)
        long = signal.position == "long"
        if (long and price <= signal.price_stop_loss) or (
            not long and price >= signal.price_stop_loss
        ):
            self.scheduled = None
            return self._idle(when, price)
        if (long and price <= signal.price_open) or (not long and price >= signal.price_open):
            self.scheduled = None
            if self.stopped:
                return self._idle(when, price)
            if not self._allowed(signal.price_open, when):
                return self._idle(when, price)
            row = signal._replace(pending_at=when, is_scheduled=False)
            self.pending = row
            self.risk.add_signal(self.symbol, self.name, self.exchange.name, when)
            return self._opened(row, when)
        result = self._result(Action.ACTIVE, signal, price)
        if self.callbacks is not None:
            self._callback(when, "on_tick", result, self.is_backtest)
        return result

    def _monitor_pending(self, when: int) -> Any:
        signal = self._pending
        assert signal is not None
        price = self.exchange.average_price(self.symbol, when)
        long = signal.position == "long"
        if when - signal.pending_at >= signal.minute_estimated_time * MINUTE_MS:
            return self._closed(signal, price, CloseReason.TIME_EXPIRED, when, when)
        tp, sl = signal.price_take_profit, signal.price_stop_loss
        if (long and price >= tp) or (not long and price <= tp):
            return self._closed(signal, tp, CloseReason.TAKE_PROFIT, when, when)
        if (long and price <= sl) or (not long and price >= sl):
            return self._closed(signal, sl, CloseReason.STOP_LOSS, when, when)
        self._partial_step(signal, price, when, when)
        if self.callbacks is not None:
            self._callback(when, "on_active", signal, price, self.is_backtest)
        result = self._result(Action.ACTIVE, signal, price)
        if self.callbacks is not None:
            self._callback(when, "on_tick", result, self.is_backtest)
        return result

    def _partial_step(self, signal: SignalRow, price: float, event_ts: int, when: int) -> None:
        revenue = revenue_percent(signal, price)
        self.partial.check(signal, price, revenue, event_ts, self.is_backtest)
        if self.journal is not None:
            self._partial_levels(signal, price, revenue, when)
            return
        if self.callbacks is None:
            return
        if revenue > 0:
            self._callback(when, "on_partial_profit", signal, price, revenue, self.is_backtest)
        elif revenue < 0:
            self._callback(when, "on_partial_loss", signal, price, -revenue, self.is_backtest)

    def _partial_levels(self, signal: SignalRow, price: float, revenue: float, when: int) -> None:
        """Live: deliver on_partial_profit/loss once per level reached (10 %, 20 %, …)."""
        event = PARTIAL_PROFIT if revenue > 0 else PARTIAL_LOSS
        amount = abs(revenue)
        for level in LEVELS:
            if amount >= level:
                self._lifecycle(when, event, signal, price, amount, level=level)

    def next_signal_time(self) -> int | None:
        """Return when the throttle next lets `get_signal` run, if nothing else is pending.

        None when a signal is open or scheduled, the strategy is stopped, or the interval
        is unknown (no throttle): then every frame matters.
        """
        last = self.last_signal_at
        if last is None or self._pending is not None or self._scheduled is not None:
            return None
        if self.stopped or math.isnan(self.interval_ms):
            return None
        return last + int(self.interval_ms)

    def stop(self) -> None:
        """Stop taking new signals and drop a scheduled one (graceful stop)."""
        self.stopped = True
        self.scheduled = None

    # ----- fast backtest (docs/semantics.md#fast-path) -------------------------------------

    def backtest(self, candles: CandleArrays, when: int, lo: int = 0, hi: int | None = None) -> Any:
        """Resolve the opened or scheduled signal on the candles that follow `when`.

        Those are `candles[lo:hi]` (all of them by default): the run passes the whole store
        with bounds instead of a slice per signal.
        """
        if hi is None:
            hi = len(candles)
        if self._scheduled is not None and self._pending is None:
            if lo or hi < len(candles):
                candles = candles.slice(lo, hi)
            return self._backtest_scheduled(candles, when)
        signal = self._pending
        if signal is None:
            raise StrategyError(
                f"strategy {self.name}: backtest() called with no open or scheduled signal"
            )
        return self._backtest_pending(signal, candles, lo, hi, when)

    def _backtest_scheduled(self, c: CandleArrays, when: int) -> Any:
        found = self.scan_scheduled(c, when)
        return self.activate_scheduled(c, found, when) if isinstance(found, int) else found

    def scan_scheduled(self, c: CandleArrays, when: int) -> Any:
        """Find what becomes of the scheduled signal on the candles that follow `when`.

        Returns:
            The `cancelled` result (timeout or stop loss first), the `active` result (the
            data ran out), or the index of the candle that reaches the entry price, which
            `activate_scheduled` then opens the position on.
        """
        signal = self._scheduled
        assert signal is not None
        n = self._window
        size = len(c)
        ts = c.timestamp
        timeout = int(ts.searchsorted(signal.scheduled_at + self._await_ms()))
        if signal.position == "long":
            cancel = c.low <= signal.price_stop_loss
            touch = cancel | (c.low <= signal.price_open)
        else:
            cancel = c.high >= signal.price_stop_loss
            touch = cancel | (c.high >= signal.price_open)
        k = _first_true(touch, timeout)
        if k < 0:
            if timeout < size:
                price = vwap(c, max(0, timeout - (n - 1)), timeout + 1)
                return self._cancelled(signal, price, int(ts[timeout]), when)
            return self._result(Action.ACTIVE, signal, vwap(c, max(0, size - n), size))
        if cancel[k]:
            return self._cancelled(signal, vwap(c, max(0, k - (n - 1)), k + 1), int(ts[k]), when)
        return k

    def activate_scheduled(self, c: CandleArrays, k: int, when: int) -> Any:
        """Open the scheduled signal on candle `k` (risk checked at its time), then resolve it.

        A risk rejection cancels the signal at that candle (docs/semantics.md#profiles). Returns
        the closed or cancelled result.
        """
        signal = self._scheduled
        assert signal is not None
        n = self._window
        size = len(c)
        at = int(c.timestamp[k])
        if not self._allowed(signal.price_open, at):
            return self._cancelled(signal, vwap(c, max(0, k - (n - 1)), k + 1), at, when)
        row = signal._replace(pending_at=at, is_scheduled=False)
        self.scheduled = None
        self.pending = row
        self.risk.add_signal(self.symbol, self.name, self.exchange.name, at)
        if self.callbacks is not None:
            self._callback(when, "on_open", row, row.price_open, self.is_backtest)
        if k + 1 >= size:
            # The data ends with the activating candle: close at the VWAP up to it, at its
            # open time upstream, at its close time (when that VWAP is known) by default.
            price = vwap(c, max(0, k - (n - 1)), k + 1)
            if self.settings.legacy:
                return self._closed(
                    row, price, CloseReason.TIME_EXPIRED, at, when, result_signal=signal
                )
            return self._closed(row, price, CloseReason.TIME_EXPIRED, at + MINUTE_MS, when)
        return self._backtest_pending(row, c, k + 1, size, when)

    def _await_ms(self) -> float:
        return self.settings.schedule_await_minutes * MINUTE_MS

    def _backtest_pending(
        self, signal: SignalRow, c: CandleArrays, lo: int, hi: int, when: int
    ) -> ClosedResult:
        """Resolve the open `signal` on candles `c[lo:hi]` (indices below are into `c`)."""
        n = self._window
        legacy = self.settings.legacy
        ts = c.timestamp
        start = lo + n - 1 if legacy else lo  # upstream skips the first n - 1 candles
        expiry_ts = signal.pending_at + signal.minute_estimated_time * MINUTE_MS
        last_ts = int(ts[hi - 1]) if hi > lo else 0
        if hi > lo and last_ts < expiry_ts:  # the common case: every candle is before expiry
            expiry = hi
        else:  # `ts` is sorted: its index in the whole array, clamped to [lo, hi]
            expiry = int(ts.searchsorted(expiry_ts))
            expiry = lo if expiry < lo else hi if expiry > hi else expiry
        tp, sl = signal.price_take_profit, signal.price_stop_loss
        # The scan starts at `lo`: when the leading candles (before `start`, not checked
        # upstream) touch neither TP nor SL, they lie strictly between them, which spares
        # `_partials` looking at them again.
        i = -1  # the first candle of `[start, expiry)` that touches TP or SL
        lead_inside = False
        if start < expiry:
            if signal.position == "long":
                tp_hit = c.high[lo:expiry] >= tp
                sl_hit = c.low[lo:expiry] <= sl
            else:
                tp_hit = c.low[lo:expiry] <= tp
                sl_hit = c.high[lo:expiry] >= sl
            hit = tp_hit | sl_hit
            j = int(hit.argmax())
            found = bool(hit[j])
            lead = start - lo
            lead_inside = not (found and j < lead)
            if not lead_inside:  # a leading candle touches: the first hit from `start`
                j = lead + int(hit[lead:].argmax())
                found = bool(hit[j])
            if found:
                i = lo + j
        stop = i if i >= 0 else max(start, expiry) if expiry < hi else hi
        self._partials(signal, c, lo, start, stop, when, lead_inside)
        if i >= 0:
            if legacy:  # upstream takes the profit when both are touched in one candle
                take, ambiguous = bool(tp_hit[i - lo]), False
            else:  # the stop loss wins, and the result says it was ambiguous
                stopped = bool(sl_hit[i - lo])
                take, ambiguous = not stopped, stopped and bool(tp_hit[i - lo])
            reason = CloseReason.TAKE_PROFIT if take else CloseReason.STOP_LOSS
            close_ts = int(ts[i])
            return self._closed(signal, tp if take else sl, reason, close_ts, when, ambiguous)
        if legacy:
            due = max(start, expiry)
            if due < hi:
                price = vwap(c, due - (n - 1), due + 1)
                return self._closed(signal, price, CloseReason.TIME_EXPIRED, int(ts[due]), when)
            price = vwap(c, max(lo, hi - n), hi)
            return self._closed(signal, price, CloseReason.TIME_EXPIRED, last_ts, when)
        if expiry < hi or (hi > lo and last_ts + MINUTE_MS >= expiry_ts):
            if expiry > lo:
                price = vwap(c, max(lo, expiry - n), expiry)
            else:  # it expired before a candle of its life closed: the VWAP known then
                price = self.exchange.average_price(self.symbol, expiry_ts)
            return self._closed(signal, price, CloseReason.TIME_EXPIRED, expiry_ts, when)
        price = vwap(c, max(lo, hi - n), hi)
        return self._closed(signal, price, CloseReason.TIME_EXPIRED, last_ts + MINUTE_MS, when)

    def _partials(
        self,
        signal: SignalRow,
        c: CandleArrays,
        lo: int,
        start: int,
        stop: int,
        when: int,
        lead_inside: bool,
    ) -> None:
        """Run partial levels and callbacks for candles `[start, stop)` that did not close.

        VWAP windows reach back to candle `lo` at most (the first one after the signal);
        `lead_inside` tells that the candles `[lo, start)` lie strictly between TP and SL.
        """
        if stop <= start:
            return
        callbacks = self.callbacks
        has_callbacks = callbacks is not None and (
            callbacks.on_partial_profit is not None or callbacks.on_partial_loss is not None
        )
        n = self._window
        first = max(lo, start - (n - 1))
        if not has_callbacks:
            # A VWAP lies between the lows and highs of its window, and the candles from
            # `start` on stayed strictly between TP and SL; a level (10 % of price move)
            # is only reachable when TP/SL or the unchecked leading candles lie that far.
            low_bound, high_bound = signal.price_open * 0.9001, signal.price_open * 1.0999
            tp, sl = signal.price_take_profit, signal.price_stop_loss
            near = low_bound < tp < high_bound and low_bound < sl < high_bound
            if near and lead_inside:  # the common case: no candle to look at
                return
            end = start if near else stop
            if first == end or (
                max(c.high[first:end].tolist()) < high_bound
                and min(c.low[first:end].tolist()) > low_bound
            ):
                return
        legacy = self.settings.legacy
        for i, ts in enumerate(c.timestamp[start:stop].tolist(), start):
            price = vwap(c, max(lo, i - (n - 1)), i + 1)
            self._partial_step(signal, price, when if legacy else ts, when)
