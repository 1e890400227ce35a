"""The desk attached, read-only, to a headless `desk live` running on its state directory.

The desk never opens a running session's state through the persistence adapters (they take
file locks and clean temp files, which are writes). It reads the TinyDB files themselves,
only when their size or modification time moved: `data/signal/<symbol>_<strategy>.json`
(the open position), `data/history/…` (`<id>:opened|closed|cancelled` entries) and
`data/partial/<symbol>.json` (partial levels reached). Every write of the owner replaces a
file whole, so a read sees the old file or the new one.

What it reads becomes the live screen's usual messages: a loop snapshot in the `attached`
state, one signal message per new history entry and one alert per new partial level. On the
demo market the desk also knows the price: the owner's clock is read from `data/clock.json`
(its anchor) and the demo market is deterministic, so positions show their unrealised PnL.
"""

from __future__ import annotations

import json
import math
import os
import signal
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual.message import Message

from engine.core.models import SignalRow
from engine.data.demo import generate
from engine.data.demo_live import ClockAnchor, ScaledClock
from engine.sim.live_owner import Owner, read_owner
from tui.live_bridge import (
    PAPER_EXCHANGES,
    PRICE_POINTS,
    LiveSignalReceived,
    LoopChanged,
    LoopSnapshot,
    LoopSpec,
    LoopState,
    PartialReached,
    PositionView,
    position_view,
)
from tui.runs import SignalStatus, SignalView

OWNER_GLOB = "live-*.owner.json"
MINUTE_MS = 60_000
UNKNOWN = math.nan
"""No price off the demo market: the unrealised PnL of a position shows as `—`.

One object, so two snapshots holding it compare equal (NaN is only equal to itself by identity).
"""


@dataclass
class OwnersFound(Message):
    """The headless sessions running on the state directory at one poll."""

    owners: list[Owner]


def find_owners(state_dir: Path) -> list[Owner]:
    """Return the live sessions other processes run on `state_dir` (lock held, owner file)."""
    owners = []
    for path in sorted(state_dir.glob(OWNER_GLOB)):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            symbol, strategy = str(data["symbol"]), str(data["strategy"])
        except (OSError, ValueError, TypeError, KeyError):
            continue
        owner = read_owner(state_dir, symbol, strategy)
        if owner is not None and owner.pid != os.getpid():
            owners.append(owner)
    return owners


def spec_of(owner: Owner) -> LoopSpec:
    """Return the loop an owner runs, as the live screen names it."""
    return LoopSpec(owner.strategy, owner.symbol, owner.exchange, owner.speed or 1.0)


def read_values(path: Path) -> dict[str, Any] | None:
    """Return a TinyDB state file's `{key: value}`, None when absent or unreadable."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return {d["key"]: d["value"] for d in doc["values"].values()}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def entry_view(entry: dict[str, Any]) -> SignalView | None:
    """Return the signal stream's row of a history entry, None for an unreadable one."""
    try:
        signal_row = SignalRow(**entry["signal"])
        status = SignalStatus(entry["action"])
        pnl = entry.get("pnl") or {}
        return SignalView(
            signal_id=signal_row.id,
            status=status,
            position=str(signal_row.position),
            price_open=signal_row.price_open,
            price_take_profit=signal_row.price_take_profit,
            price_stop_loss=signal_row.price_stop_loss,
            opened_at=signal_row.pending_at or signal_row.scheduled_at,
            closed_at=entry.get("close_timestamp"),
            price_close=pnl.get("price_close", entry.get("current_price"))
            if status is SignalStatus.CLOSED
            else None,
            close_reason=entry.get("close_reason"),
            pnl_percentage=pnl.get("pnl_percentage"),
            note=signal_row.note,
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


@dataclass
class Attachment:
    """One headless session the desk watches: what it has shown so far.

    Attributes:
        stop_asked: The desk sent the owner SIGINT (its graceful stop).
        ended: The owner no longer holds the session's lock.
    """

    owner: Owner
    state_dir: Path
    stop_asked: bool = False
    ended: bool = False
    _seen_history: set[str] = field(default_factory=set)
    _seen_levels: set[tuple[str, str, int]] = field(default_factory=set)
    _stamps: dict[Path, tuple[int, int] | None] = field(default_factory=dict)
    _values: dict[Path, dict[str, Any] | None] = field(default_factory=dict)
    _prices: deque[tuple[int, float]] = field(default_factory=lambda: deque(maxlen=PRICE_POINTS))
    _last: LoopSnapshot | None = None

    @property
    def spec(self) -> LoopSpec:
        """Return the loop the owner runs."""
        return spec_of(self.owner)

    def _file(self, kind: str, entity: str) -> Path:
        return self.state_dir / "data" / kind / f"{entity}.json"

    def _read(self, path: Path) -> dict[str, Any] | None:
        stamp = _stamp(path)
        if path in self._stamps and self._stamps[path] == stamp:
            return self._values[path]
        values = read_values(path) if stamp is not None else None
        if values is None and stamp is not None and path in self._values:
            values = self._values[path]  # unreadable now: keep what was last read
        self._stamps[path], self._values[path] = stamp, values
        return values

    def poll(self) -> list[Message]:
        """Read what changed since the last poll; return the messages that show it."""
        messages: list[Message] = []
        spec = self.spec
        entity = f"{spec.symbol}_{spec.strategy_name}"
        history = self._read(self._file("history", entity)) or {}
        fresh = [
            (key, entry)
            for key, entry in history.items()
            if key not in self._seen_history and isinstance(entry, dict)
        ]
        now_ms: int | None = self._last.now_ms if self._last is not None else None
        price: float | None = self._last.price if self._last is not None else None
        for key, entry in sorted(fresh, key=lambda pair: pair[1].get("timestamp") or 0):
            self._seen_history.add(key)
            view = entry_view(entry)
            if view is None:
                continue
            when = int(entry.get("timestamp") or 0)
            messages.append(LiveSignalReceived(spec, view, when))
            now_ms, price = when, entry.get("current_price", price)
        messages.extend(self._partials(spec))
        if not self.ended and read_owner(self.state_dir, spec.symbol, spec.strategy_name) is None:
            self.ended = True
        quote = None if self.ended else self._demo_quote(entity)
        if quote is not None:
            now_ms, price = quote
            if not self._prices or self._prices[-1][0] < now_ms:
                self._prices.append(quote)
        snapshot = LoopSnapshot(
            spec,
            self._state(),
            now_ms,
            price,
            self._position(entity, quote[1] if quote is not None else None),
            tuple(self._prices),
            self._detail(),
        )
        if snapshot != self._last:
            self._last = snapshot
            messages.append(LoopChanged(snapshot))
        return messages

    def _demo_quote(self, entity: str) -> tuple[int, float] | None:
        """Return the owner's time and the demo market's last close, None off the demo."""
        if self.owner.exchange not in PAPER_EXCHANGES:
            return None
        now = int(time.time() * 1000)
        if self.owner.speed is not None:
            saved = (self._read(self.state_dir / "data" / "clock.json") or {}).get(entity)
            if not isinstance(saved, dict):
                return None
            try:
                anchor = ClockAnchor(
                    int(saved["wall_ms"]), int(saved["sim_ms"]), float(saved["speed"])
                )
            except (TypeError, KeyError, ValueError):
                return None
            if not anchor.speed > 0:
                return None
            now = ScaledClock(anchor).now_ms()
        minute = now - now % MINUTE_MS - MINUTE_MS  # the last closed minute, as the owner sees
        candles = generate(self.owner.symbol, minute, minute + MINUTE_MS).to_candles()
        return (now, candles[-1].close) if candles else None

    def _position(self, entity: str, price: float | None) -> PositionView | None:
        values = self._read(self._file("signal", entity)) or {}
        row = values.get(self.owner.symbol)
        if not isinstance(row, dict):
            return None
        try:
            pending = SignalRow(**row)
        except TypeError:
            return None
        if price is not None:
            return position_view(pending, price)
        return PositionView(
            pending.id,
            str(pending.position),
            pending.price_open,
            pending.price_take_profit,
            pending.price_stop_loss,
            pending.pending_at,
            UNKNOWN,
            UNKNOWN,
        )

    def _partials(self, spec: LoopSpec) -> list[Message]:
        values = self._read(self._file("partial", spec.symbol)) or {}
        messages: list[Message] = []
        for signal_id, value in values.items():
            if not isinstance(value, dict) or value.get("strategy_name") != spec.strategy_name:
                continue
            for kind in ("profit", "loss"):
                for level in value.get(f"{kind}_levels") or ():
                    seen = (signal_id, kind, int(level))
                    if seen not in self._seen_levels:
                        self._seen_levels.add(seen)
                        messages.append(PartialReached(spec, kind, int(level), signal_id))
        return messages

    def _state(self) -> LoopState:
        if self.ended:
            return LoopState.STOPPED if self.stop_asked else LoopState.DISCONNECTED
        return LoopState.STOPPING if self.stop_asked else LoopState.ATTACHED

    def _detail(self) -> str:
        pid = self.owner.pid
        if self.ended:
            return f"pid {pid} ended"
        if self.stop_asked:
            return f"asked pid {pid} to stop"
        return f"pid {pid}, read-only"

    def ask_stop(self) -> bool:
        """Send the owner SIGINT (`desk live`'s graceful stop); False when it is gone.

        The owner is checked again first, so a reused pid is never signalled.
        """
        spec = self.spec
        current = read_owner(self.state_dir, spec.symbol, spec.strategy_name)
        if current is None or current.pid != self.owner.pid:
            self.ended = True
            return False
        try:
            os.kill(self.owner.pid, signal.SIGINT)
        except ProcessLookupError:
            self.ended = True
            return False
        self.stop_asked = True
        return True
