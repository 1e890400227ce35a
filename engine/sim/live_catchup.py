"""Catch-up after downtime: judge a resumed signal at every minute the live loop missed.

An uninterrupted live run ticks about once a minute and judges its signal on the VWAP of
the candles closed by the tick (`ClientExchange.average_price`). After a restart the
minutes the process was down are replayed the same way, one tick per minute, on the
candles closed by each of them, so a TP, SL or expiry crossed while it was down closes the
position at the minute and price an uninterrupted run would have used (and a scheduled
signal activates or is cancelled at its minute). Once the signal is resolved the run goes
on live from now: no new signal is opened in the past.

The replay starts at the signal's own `pending_at` (or `scheduled_at`) instead of at a
persisted "last processed minute": the minutes judged before the stop did not resolve the
signal (a close is in the history before the signal is cleared, and recovery clears a
closed one), the candles and the rule are the same, so judging them again is idempotent,
and it needs no extra write per tick, no extra file and has no crash window of its own.
Replayed minutes that do not resolve the signal run no callback (`on_active`, `on_tick`,
`on_partial_*` are observations of minutes that are gone); partial levels are checked, and
a level already reached is stored and not announced again. Candles are fetched in pages
of `PAGE` minutes, not one request per minute.

Minutes whose candle the exchange does not have, or which could not be fetched, are
reported (a log warning and a note in the recovery notes `desk live` prints).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from engine.core.logger import engine_logger
from engine.core.models import Action
from engine.data.store import CandleArrays
from engine.persist.base import StateError
from engine.sim.exchange import ClientExchange, ms_to_datetime, vwap
from engine.sim.live_state import LiveSession, Recovered
from engine.sim.partial import revenue_percent
from engine.sim.strategy import ClientStrategy
from engine.sim.watchdog import FATAL, guarded

_log = engine_logger(__name__)

MINUTE_MS = 60_000
PAGE = 500
"""Candles asked for per request; an exchange that serves fewer is paged on from its last."""
_RESOLVED = (Action.CLOSED, Action.CANCELLED)


@dataclass(frozen=True, slots=True)
class _Candles:
    """The one-minute candles of the missed minutes, and where fetching them stopped."""

    arrays: CandleArrays
    fetched_until: int
    error: str = ""


def _minute(ms: int) -> int:
    return ms - ms % MINUTE_MS


def _origin(client: ClientStrategy) -> int | None:
    if client.pending is not None:
        return client.pending.pending_at
    if client.scheduled is not None:
        return client.scheduled.scheduled_at
    return None


def _ticks(first: int, now: int) -> list[int]:
    """Tick times `first + k minutes` whose minute is before `now`'s (its tick is live)."""
    count = (_minute(now) - _minute(first)) // MINUTE_MS
    return [first + k * MINUTE_MS for k in range(max(count, 0))]


def _fetch(exchange: ClientExchange, symbol: str, first: int, last: int) -> _Candles:
    """Fetch the one-minute candles opening in `[first, last]`, page by page."""
    parts: list[CandleArrays] = []
    since = first
    while since <= last:
        limit = min(PAGE, (last - since) // MINUTE_MS + 1)
        try:
            page = exchange.fetch(symbol, "1m", since, limit)
        except Exception as exc:
            return _Candles(_joined(parts), since, f"{type(exc).__name__}: {exc}")
        ts = page.timestamp
        inside = page.take(np.flatnonzero((ts >= since) & (ts <= last)))
        if len(inside) == 0:
            since += limit * MINUTE_MS
            continue
        parts.append(inside)
        since = int(inside.timestamp.max()) + MINUTE_MS
    return _Candles(_joined(parts), last + MINUTE_MS)


def _joined(parts: list[CandleArrays]) -> CandleArrays:
    names = ("timestamp", "open", "high", "low", "close", "volume")
    if not parts:
        return CandleArrays.from_columns([], [], [], [], [], [])
    columns = [np.concatenate([getattr(p, name) for p in parts]) for name in names]
    order = np.argsort(columns[0], kind="stable")
    return CandleArrays.from_columns(*(c[order] for c in columns))


def _resolves(client: ClientStrategy, price: float, when: int) -> bool:
    """Whether the live rules (`ClientStrategy.tick`) resolve the signal at `when`."""
    signal = client.pending
    if signal is not None:
        if when - signal.pending_at >= signal.minute_estimated_time * MINUTE_MS:
            return True
        tp, sl = signal.price_take_profit, signal.price_stop_loss
        if signal.position == "long":
            return price >= tp or price <= sl
        return price <= tp or price >= sl
    scheduled = client.scheduled
    assert scheduled is not None
    if when - scheduled.scheduled_at >= client.settings.schedule_await_minutes * MINUTE_MS:
        return True
    if scheduled.position == "long":
        return price <= scheduled.price_stop_loss or price <= scheduled.price_open
    return price >= scheduled.price_stop_loss or price >= scheduled.price_open


class _Replay:
    """One catch-up: the ticks of the missed minutes, judged on pre-fetched candles."""

    def __init__(
        self,
        client: ClientStrategy,
        session: LiveSession,
        emit: Callable[[Any, int], None],
        stop: threading.Event | None,
        cancel: threading.Event | None,
    ) -> None:
        self.client, self.session, self.emit = client, session, emit
        self.stop, self.cancel = stop, cancel
        self.results: list[Any] = []
        self.missing: set[int] = set()
        self.unjudged: list[int] = []
        self.failures: list[str] = []

    def window(self, when: int) -> tuple[int, int]:
        """Return `(since, last_open)` of the VWAP window at `when` (the exchange's own)."""
        limit = self.client.settings.avg_price_candles
        return self.client.exchange._window("1m", limit, when)

    def run(self, first: int, now: int) -> bool:
        """Replay the ticks from `first` to `now`; return False once nothing is left open."""
        ticks = _ticks(first, now)
        if not ticks:
            return True
        oldest, newest = self.window(ticks[0])[0], _minute(self.window(ticks[-1])[1])
        client = self.client
        candles = guarded(
            client,
            now,
            self.stop,
            self.cancel,
            _fetch,
            client.exchange,
            client.symbol,
            oldest,
            newest,
        )
        if candles.error:
            self.failures.append(
                f"fetching candles from {_iso(candles.fetched_until)} failed ({candles.error})"
            )
        ts = candles.arrays.timestamp
        expected = range(_minute(oldest), min(newest, candles.fetched_until - 1) + 1, MINUTE_MS)
        self.missing.update(set(expected) - set(ts.tolist()))
        for when in ticks:
            if self.cancel is not None and self.cancel.is_set():
                return False
            since, last_open = self.window(when)
            lo = int(ts.searchsorted(since, "left"))
            hi = int(ts.searchsorted(last_open, "right"))
            if lo == hi or _minute(last_open) >= candles.fetched_until:
                self.unjudged.append(when)
                continue
            if not self.step(when, vwap(candles.arrays, lo, hi)):
                return False
        return True

    def step(self, when: int, price: float) -> bool:
        """Judge one missed minute; return False once nothing is left open."""
        client = self.client
        signal, scheduled = client.pending, client.scheduled
        if not _resolves(client, price, when):
            if signal is not None:
                client.partial.check(signal, price, revenue_percent(signal, price), when, False)
            return True
        try:
            guarded(client, when, self.stop, self.cancel, client.deliver, when)
            result = guarded(client, when, self.stop, self.cancel, client.tick, when)
        except (StateError, *FATAL):
            raise
        except Exception as exc:
            client.report(exc, when, "catch-up tick")
            self.failures.append(f"the tick at {_iso(when)} failed ({exc}); going on live")
            return False
        self.session.commit(result)
        if result is not None:
            self.emit(result, when)
            if result.action in (*_RESOLVED, Action.OPENED):
                self.results.append(result)
            elif signal is None and scheduled is not None and client.scheduled is None:
                self.failures.append(
                    f"scheduled signal {scheduled.id} was dropped at {_iso(when)}: the price "
                    "crossed its stop loss before its entry price, or the risk profile refused it"
                )
        return client.pending is not None or client.scheduled is not None

    def notes(self, name: str) -> list[str]:
        """Return what the catch-up did and what it could not do, for the recovery notes."""
        notes = [
            f"caught up: {result.action} signal {result.signal.id} at "
            f"{_iso(_result_time(result))} (while the run was down)"
            for result in self.results
        ]
        if self.missing:
            missing = sorted(self.missing)
            notes.append(
                f"catch-up: the exchange has no candles opening {_spans(missing)} "
                f"({_minutes(missing)}); the minutes after them were judged on the candles "
                "it has"
            )
        if self.unjudged:
            notes.append(
                f"catch-up: the minutes {_spans(self.unjudged)} ({_minutes(self.unjudged)}) "
                "could not be judged (no candles): a TP, SL or expiry in them was not seen"
            )
        notes.extend(f"catch-up: {failure}" for failure in self.failures)
        for i, note in enumerate(notes):
            log = _log.info if i < len(self.results) else _log.warn
            log(f"live {name}: {note}")
        return notes


def catch_up(
    client: ClientStrategy,
    session: LiveSession,
    recovered: Recovered,
    clock_now: Callable[[], int],
    emit: Callable[[Any, int], None],
    stop: threading.Event | None = None,
    cancel: threading.Event | None = None,
) -> tuple[Recovered, Iterator[Any]]:
    """Replay the minutes a resumed signal missed while the process was down.

    Commits and emits (`emit(result, when)`) each result the way a live tick does. Repeats
    until less than a minute is left, since replaying takes time on a fast clock too.

    Returns:
        The recovery (the signals found on disk) with the catch-up's notes added, and the
        opened, closed or cancelled results of the replay, for the run to yield.
    """
    replay = _Replay(client, session, emit, stop, cancel)
    origin = _origin(client)
    if origin is None:
        return recovered, iter(())
    first, now = origin + MINUTE_MS, clock_now()
    while replay.run(first, now) and not replay.failures:
        first += len(_ticks(first, now)) * MINUTE_MS
        now = clock_now()
        if _minute(first) >= _minute(now):
            break
    notes = replay.notes(f"{client.name} {client.symbol}")
    return replace(recovered, notes=(*recovered.notes, *notes)), iter(replay.results)


def _result_time(result: Any) -> int:
    close = getattr(result, "close_timestamp", None)
    return int(close if close is not None else result.signal.pending_at)


def _iso(ms: int) -> str:
    return ms_to_datetime(ms).strftime("%Y-%m-%d %H:%M UTC")


def _minutes(ticks: list[int]) -> str:
    return f"{len(ticks)} minute" + ("" if len(ticks) == 1 else "s")


def _spans(ticks: list[int]) -> str:
    """Return minutes as ranges, e.g. `2024-01-01 00:05 UTC to 2024-01-01 00:09 UTC`."""
    spans: list[tuple[int, int]] = []
    for when in sorted(_minute(t) for t in ticks):
        if spans and when - spans[-1][1] <= MINUTE_MS:
            spans[-1] = (spans[-1][0], when)
        else:
            spans.append((when, when))
    return ", ".join(_iso(a) if a == b else f"{_iso(a)} to {_iso(b)}" for a, b in spans)
