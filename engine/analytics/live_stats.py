"""Live statistics: the last 250 live ticks and their figures (docs/semantics.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.analytics.stats import left_sum, safe, trade_figures
from engine.core.jsformat import js_round
from engine.core.models import Action, ClosedResult, TickResult

MAX_EVENTS = 250


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """One row of the live log; fields a kind of event lacks are None."""

    timestamp: int
    action: str
    current_price: float
    symbol: str | None = None
    signal_id: str | None = None
    position: str | None = None
    note: str | None = None
    price_open: float | None = None
    price_take_profit: float | None = None
    price_stop_loss: float | None = None
    pnl: float | None = None
    close_reason: str | None = None
    duration: int | None = None


@dataclass(frozen=True, slots=True)
class LiveStatistics:
    """Figures of a live session's closed signals (None when undefined).

    With events but no closed signal, the averages are 0 and `win_rate` is None (upstream).
    """

    event_list: tuple[LiveEvent, ...]
    total_events: int
    total_closed: int
    win_count: int
    loss_count: int
    win_rate: float | None
    avg_pnl: float | None
    total_pnl: float | None
    std_dev: float | None
    sharpe_ratio: float | None
    annualized_sharpe_ratio: float | None
    certainty_ratio: float | None
    expected_yearly_returns: float | None


class LiveEventLog:
    """The event list of one symbol and strategy, updated like upstream's ReportStorage."""

    def __init__(self) -> None:
        self._events: list[LiveEvent] = []

    @property
    def events(self) -> tuple[LiveEvent, ...]:
        """The events, oldest first."""
        return tuple(self._events)

    def add(self, result: TickResult | ClosedResult, now: int) -> None:
        """Record a live tick result seen at time `now` (cancelled/scheduled are ignored)."""
        action = result.action
        if action is Action.IDLE:
            self._idle(LiveEvent(now, "idle", result.current_price))
        elif action is Action.OPENED:
            signal = result.signal
            assert signal is not None
            self._append(self._signal_event(result, signal.pending_at, signal.price_open))
        elif action is Action.ACTIVE:
            self._replace(self._signal_event(result, now, result.current_price))
        elif action is Action.CLOSED:
            assert isinstance(result, ClosedResult)
            signal = result.signal
            event = self._signal_event(result, result.close_timestamp, result.current_price)
            minutes = js_round((result.close_timestamp - signal.pending_at) / 60000)
            self._replace(
                _with(
                    event,
                    pnl=result.pnl.pnl_percentage,
                    close_reason=str(result.close_reason),
                    duration=minutes,
                )
            )

    @staticmethod
    def _signal_event(result: TickResult | ClosedResult, timestamp: int, price: float) -> LiveEvent:
        s = result.signal
        assert s is not None
        return LiveEvent(
            timestamp,
            str(result.action),
            price,
            s.symbol,
            s.id,
            s.position,
            s.note,
            s.price_open,
            s.price_take_profit,
            s.price_stop_loss,
        )

    def _append(self, event: LiveEvent) -> None:
        self._events.append(event)
        if len(self._events) > MAX_EVENTS:
            del self._events[0]

    def _idle(self, event: LiveEvent) -> None:
        last = next(
            (i for i in range(len(self._events) - 1, -1, -1) if self._events[i].action == "idle"),
            -1,
        )
        later = self._events[last + 1 :] if last >= 0 else []
        if last >= 0 and not any(e.action in ("opened", "active") for e in later):
            self._events[last] = event
        else:
            self._append(event)

    def _replace(self, event: LiveEvent) -> None:
        for i, old in enumerate(self._events):
            if old.signal_id == event.signal_id:
                self._events[i] = event
                return
        self._append(event)


def _with(event: LiveEvent, **changes: object) -> LiveEvent:
    fields = {name: getattr(event, name) for name in LiveEvent.__slots__}
    fields.update(changes)
    return LiveEvent(**fields)


def live_statistics(events: tuple[LiveEvent, ...]) -> LiveStatistics:
    """Compute the live figures of an event list as upstream (docs/semantics.md#live-statistics)."""
    if not events:
        return LiveStatistics((), 0, 0, 0, 0, None, None, None, None, None, None, None, None)
    closed = [e for e in events if e.action == "closed"]
    n = len(closed)
    pnls = [e.pnl or 0.0 for e in closed]
    avg_days = left_sum([float(e.duration or 0) for e in closed]) / n / (60 * 24) if n else 0.0
    f = trade_figures(pnls, max(n, 1), avg_days)  # no closes: every figure is 0
    return LiveStatistics(
        event_list=tuple(events),
        total_events=len(events),
        total_closed=n,
        win_count=len(f.wins),
        loss_count=len(f.losses),
        win_rate=safe(len(f.wins) / n * 100 if n else math.nan),
        avg_pnl=safe(f.avg),
        total_pnl=safe(f.total),
        std_dev=safe(f.std),
        sharpe_ratio=safe(f.sharpe),
        annualized_sharpe_ratio=safe(f.sharpe * math.sqrt(365)),
        certainty_ratio=safe(f.certainty),
        expected_yearly_returns=safe(f.yearly),
    )
