"""The desk's side of live trading: paper loops, their book on disk, and their messages.

Only this bridge subscribes to the engine's live events (`listen_signal_live`, partial
profit and loss). A loop runs `Live.run` in a thread worker of the live screen; the bridge
turns what the engine emits into desk messages, posted through a thread-safe `post`. Price
ticks go through one coalescing message carrying a full snapshot of the loop, so a burst of
ticks costs the UI one redraw.

The book (`loops.json` under the live state directory) remembers every loop and whether it
was stopped on purpose: loops that were running when the desk closed are reconnected on the
next start, and `Live.run` resumes their saved positions.
"""

from __future__ import annotations

import json
import os
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from textual.message import Message

import engine
from engine.core.clock import SYSTEM_CLOCK, Clock
from engine.core.models import Action, SignalRow
from engine.core.pnl import profit_loss
from engine.core.secrets import exchange_credentials, mask
from engine.data.demo_live import resume_scaled_clock
from engine.persist import TinyDBPersist
from engine.sim.live import Live, LiveStart
from engine.sim.live_schema import finite_speed
from tui.engine_bridge import describe_error, signal_view
from tui.runs import SignalView

Post = Callable[[Message], Any]
ClockFactory = Callable[["LoopSpec", Path], Clock]

PRICE_POINTS = 240
BOOK_FILE = "loops.json"
PAPER_EXCHANGES = frozenset({"demo"})


class LoopState(StrEnum):
    """Where a live loop is in its life (serialised in the book)."""

    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping — waiting for close"
    STOPPED = "stopped"
    DISCONNECTED = "disconnected"
    FAILED = "failed"
    ATTACHED = "attached"
    """Run by another process (a headless `desk live`): shown read-only, never in the book."""


@dataclass(frozen=True, slots=True)
class LoopSpec:
    """What a live loop runs: a strategy on a symbol of an exchange, at a clock speed.

    Attributes:
        speed: How many times faster than the wall clock the demo market runs (1: real time).
    """

    strategy_name: str
    symbol: str
    exchange_name: str = "demo"
    speed: float = 1.0

    @property
    def key(self) -> str:
        """Return the loop's key (one loop per strategy and symbol)."""
        return f"{self.strategy_name}:{self.symbol}"

    @property
    def label(self) -> str:
        """Return "strategy on symbol", as the desk names a loop."""
        return f"{self.strategy_name} on {self.symbol}"


@dataclass(frozen=True, slots=True)
class PositionView:
    """An open position of a live loop with its unrealised PnL at the last price."""

    signal_id: str
    position: str
    price_open: float
    price_take_profit: float
    price_stop_loss: float
    opened_at: int
    current_price: float
    unrealised_percentage: float
    recovered: bool = False


@dataclass(frozen=True, slots=True)
class LoopSnapshot:
    """Everything the live screen shows about one loop at one moment."""

    spec: LoopSpec
    state: LoopState
    now_ms: int | None = None
    price: float | None = None
    position: PositionView | None = None
    prices: tuple[tuple[int, float], ...] = ()
    detail: str = ""


@dataclass
class LoopChanged(Message):
    """A loop started, stopped, failed, or its price or position moved (a full snapshot)."""

    snapshot: LoopSnapshot

    def can_replace(self, message: Message) -> bool:
        """Merge with an older queued snapshot of the same loop in the same state.

        A change of state is never merged away, so the screen sees (and logs) every one.
        """
        return (
            isinstance(message, LoopChanged)
            and message.snapshot.spec == self.snapshot.spec
            and message.snapshot.state is self.snapshot.state
        )


@dataclass
class LiveSignalReceived(Message):
    """A live loop opened, scheduled, closed or cancelled a signal."""

    spec: LoopSpec
    view: SignalView
    at_ms: int


@dataclass
class PartialReached(Message):
    """A live position crossed a partial profit or loss level (price and time when known)."""

    spec: LoopSpec
    kind: str
    level: int
    signal_id: str
    price: float | None = None
    at_ms: int | None = None


@dataclass
class _Tracked:
    spec: LoopSpec
    state: LoopState
    now_ms: int | None = None
    price: float | None = None
    position: PositionView | None = None
    recovered_id: str | None = None
    clock: Clock | None = None
    prices: deque[tuple[int, float]] = field(default_factory=lambda: deque(maxlen=PRICE_POINTS))
    detail: str = ""

    def snapshot(self) -> LoopSnapshot:
        return LoopSnapshot(
            self.spec,
            self.state,
            self.now_ms,
            self.price,
            self.position,
            tuple(self.prices),
            self.detail,
        )


def position_view(signal: SignalRow, price: float, recovered: bool = False) -> PositionView:
    """Return an open signal as a position valued at `price`."""
    pnl = profit_loss(str(signal.position), signal.price_open, price)
    return PositionView(
        signal.id,
        str(signal.position),
        signal.price_open,
        signal.price_take_profit,
        signal.price_stop_loss,
        signal.pending_at,
        price,
        pnl.pnl_percentage,
        recovered,
    )


def key_hint(exchange_name: str) -> str:
    """Return what the desk shows of an exchange's API key: never more than its last four."""
    if exchange_name in PAPER_EXCHANGES:
        return "paper"
    try:
        credentials = exchange_credentials(exchange_name, None)
    except engine.EngineError:
        return mask(None)
    return mask(credentials.api_key if credentials is not None else None)


def make_live_clock(spec: LoopSpec, state_dir: Path) -> Clock:
    """Return the clock of a loop: the wall clock, or a faster one that resumes where it was.

    The faster one writes its anchor: only call this holding the session's lock (as
    `Live.run` does with its `clock_factory`).
    """
    if spec.speed == 1 or spec.exchange_name not in PAPER_EXCHANGES:
        return SYSTEM_CLOCK
    store = TinyDBPersist("clock", state_dir / "data")
    store.wait_for_init()
    return resume_scaled_clock(spec.speed, store, f"{spec.symbol}_{spec.strategy_name}")


class LoopBook:
    """The loops the desk started, saved atomically as JSON (the reconnect list)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def read(self) -> dict[str, tuple[LoopSpec, LoopState]]:
        """Return every loop in the book by key (an unreadable book reads as empty)."""
        try:
            rows = json.loads(self.path.read_text(encoding="utf-8"))
            return {
                spec.key: (spec, LoopState(row["state"]))
                for row in rows
                for spec in [LoopSpec(**row["spec"])]
            }
        except (OSError, ValueError, TypeError, KeyError):
            return {}

    def write(self, spec: LoopSpec, state: LoopState) -> None:
        """Record a loop's state."""
        with self._lock:
            book = self.read()
            book[spec.key] = (spec, state)
            rows = [{"spec": asdict(s), "state": str(st)} for s, st in book.values()]
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(json.dumps(rows, indent=1), encoding="utf-8")
            os.replace(temporary, self.path)

    def to_reconnect(self) -> list[LoopSpec]:
        """Return the loops that were running (or stopping) when the desk last closed."""
        live = (LoopState.RUNNING, LoopState.STOPPING, LoopState.STARTING)
        return [spec for spec, state in self.read().values() if state in live]


class LiveBridge:
    """Runs live paper loops for the live screen and forwards their events as messages.

    Args:
        post: Thread-safe function that delivers a message to the live screen.
        state_dir: The live state directory (positions, clocks and the loop book).
        clock_factory: Returns a loop's clock (default: `make_live_clock`).
    """

    def __init__(
        self, post: Post, state_dir: Path, clock_factory: ClockFactory | None = None
    ) -> None:
        self._post = post
        self.state_dir = state_dir
        self.book = LoopBook(state_dir / BOOK_FILE)
        self._clock_factory = clock_factory or make_live_clock
        self._tracked: dict[str, _Tracked] = {}
        self._stops: dict[str, threading.Event] = {}
        self._idle = threading.Condition()
        self._loops_running = 0
        self._lock = threading.Lock()
        self._unsubscribe: list[Callable[[], None]] = []

    def subscribe(self) -> None:
        """Start forwarding live engine events."""
        if self._unsubscribe:
            return
        self._unsubscribe = [
            engine.listen_signal_live(self._on_signal),
            engine.listen_partial_profit(lambda e: self._on_partial("profit", e)),
            engine.listen_partial_loss(lambda e: self._on_partial("loss", e)),
        ]

    def unsubscribe(self) -> None:
        """Stop forwarding live engine events."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    def is_running(self, spec: LoopSpec) -> bool:
        """Return True while a loop of this strategy and symbol is running or stopping."""
        with self._lock:
            tracked = self._tracked.get(spec.key)
            return tracked is not None and tracked.state in (
                LoopState.STARTING,
                LoopState.RUNNING,
                LoopState.STOPPING,
            )

    def stop(self, spec: LoopSpec) -> None:
        """Stop a loop gracefully: no new signal; the open position is watched until it closes."""
        with self._lock:
            event = self._stops.get(spec.key)
            tracked = self._tracked.get(spec.key)
            if event is None or tracked is None:
                return
            event.set()
            tracked.state, tracked.detail = LoopState.STOPPING, ""
            snapshot = tracked.snapshot()
        self.book.write(spec, LoopState.STOPPING)
        self._post(LoopChanged(snapshot))

    def run_loop(self, spec: LoopSpec, cancel: threading.Event) -> None:
        """Run one loop until it is stopped gracefully, cancelled or fails (blocking).

        Cancelling (the desk quits) keeps the loop in the book, so the next start reconnects.
        """
        with self._idle:
            self._loops_running += 1
        try:
            self._run_loop(spec, cancel)
        finally:
            with self._idle:
                self._loops_running -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no loop runs (after cancelling them); return False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._loops_running == 0, timeout)

    def _run_loop(self, spec: LoopSpec, cancel: threading.Event) -> None:
        stop = threading.Event()
        with self._lock:
            previous = self._tracked.get(spec.key)
            if previous is not None and previous.state is LoopState.STOPPING:
                stop.set()
            self._stops[spec.key] = stop
            self._tracked[spec.key] = _Tracked(
                spec, LoopState.STOPPING if stop.is_set() else LoopState.STARTING
            )
        self._emit(spec)

        def build_clock() -> Clock:  # Live.run calls it once it holds the session's lock
            self.book.write(spec, LoopState.STOPPING if stop.is_set() else LoopState.RUNNING)
            clock = self._clock_factory(spec, self.state_dir)
            with self._lock:
                self._tracked[spec.key].clock = clock
            return clock

        try:
            finite_speed(spec.speed)
            results = Live.run(
                spec.symbol,
                strategy_name=spec.strategy_name,
                exchange_name=spec.exchange_name,
                clock_factory=build_clock,
                state_dir=self.state_dir,
                stop=stop,
                cancel=cancel,
                on_start=self._on_start,
            )
            for _ in results:
                pass
        except Exception as exc:  # a failed loop shows its reason; the desk goes on
            title, msg = describe_error(exc)
            self._finish(spec, LoopState.FAILED, f"{title}: {msg}")
            if spec.key in self.book.read():  # remembered: never reconnected on next launch
                self.book.write(spec, LoopState.FAILED)
            return
        if cancel.is_set() and not stop.is_set():
            self._finish(spec, LoopState.DISCONNECTED, "the desk closed; reconnects on restart")
            self.book.write(spec, LoopState.RUNNING)
            return
        if cancel.is_set():
            self._finish(spec, LoopState.DISCONNECTED, "stop interrupted; resumes on restart")
            return
        self._finish(spec, LoopState.STOPPED, "")
        self.book.write(spec, LoopState.STOPPED)

    def _finish(self, spec: LoopSpec, state: LoopState, detail: str) -> None:
        with self._lock:
            tracked = self._tracked[spec.key]
            tracked.state, tracked.detail = state, detail
            self._stops.pop(spec.key, None)
        self._emit(spec)

    def _emit(self, spec: LoopSpec) -> None:
        with self._lock:
            snapshot = self._tracked[spec.key].snapshot()
        self._post(LoopChanged(snapshot))

    def _on_start(self, start: LiveStart) -> None:
        key = LoopSpec(start.strategy_name, start.symbol).key
        with self._lock:
            tracked = self._tracked[key]
            if tracked.state is LoopState.STARTING:
                tracked.state = LoopState.RUNNING
            tracked.now_ms = start.now_ms
            pending = start.recovered.pending
            if pending is not None:
                tracked.recovered_id = pending.id
                tracked.position = position_view(pending, pending.price_open, recovered=True)
                tracked.detail = f"recovered position {pending.id[:8]}"
        self._emit(tracked.spec)

    def _tracked_for(self, payload: Any) -> _Tracked | None:
        key = f"{getattr(payload, 'strategy_name', '')}:{getattr(payload, 'symbol', '')}"
        return self._tracked.get(key)

    def _on_signal(self, result: Any) -> None:
        with self._lock:
            tracked = self._tracked_for(result)
            if tracked is None or tracked.clock is None:
                return
            signal = result.signal
            when = tracked.clock.now_ms()
            tracked.now_ms, tracked.price = when, result.current_price
            tracked.prices.append((when, result.current_price))
            if result.action in (Action.OPENED, Action.ACTIVE) and signal is not None:
                recovered = signal.id == tracked.recovered_id
                tracked.position = position_view(signal, result.current_price, recovered)
            elif result.action in (Action.CLOSED, Action.CANCELLED):
                tracked.position = None
            spec = tracked.spec
        view = signal_view(result)
        if view is not None:
            self._post(LiveSignalReceived(spec, view, when))
        self._emit(spec)

    def _on_partial(self, kind: str, payload: Any) -> None:
        if payload.backtest:
            return
        payload_spec = LoopSpec(getattr(payload.data, "strategy_name", ""), payload.symbol)
        with self._lock:
            tracked = self._tracked.get(payload_spec.key)
            if tracked is None:
                return
            spec = tracked.spec
        self._post(
            PartialReached(
                spec,
                kind,
                int(payload.level),
                str(getattr(payload.data, "id", "?")),
                float(payload.current_price),
                int(payload.timestamp),
            )
        )

    def snapshots(self) -> list[LoopSnapshot]:
        """Return a snapshot of every loop the bridge knows (for a screen that opens late)."""
        with self._lock:
            return [t.snapshot() for t in self._tracked.values()]
