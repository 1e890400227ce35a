"""Who runs a live session: the owner file written beside the session's lock, and its reader.

A running `desk live` holds `<state_dir>/live-<symbol>_<strategy>.lock` and describes itself
in `live-<symbol>_<strategy>.owner.json`. An owner file is only believed while that lock is
really held, so a file left by a killed process never makes a session look alive.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout


@dataclass(frozen=True, slots=True)
class Owner:
    """The process running a live session.

    Attributes:
        pid: Its process id (SIGINT asks it to stop gracefully).
        started_at_ms: When it took the lock (epoch ms, wall clock).
        speed: The demo clock's speed, None on the wall clock.
    """

    pid: int
    started_at_ms: int
    strategy: str
    symbol: str
    exchange: str
    speed: float | None


def lock_path(state_dir: Path, symbol: str, strategy: str) -> Path:
    """Return the lock file a live session of `strategy` on `symbol` holds."""
    return state_dir / f"live-{symbol}_{strategy}.lock"


def owner_path(state_dir: Path, symbol: str, strategy: str) -> Path:
    """Return the owner file of a live session."""
    return state_dir / f"live-{symbol}_{strategy}.owner.json"


def lock_is_held(lockfile: Path) -> bool:
    """Return True while another process holds `lockfile` (try it, release at once)."""
    if not lockfile.exists():
        return False
    lock = FileLock(str(lockfile), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        return True
    lock.release()
    return False


def read_owner(state_dir: Path, symbol: str, strategy: str) -> Owner | None:
    """Return the owner of a live session while its lock is held, else None.

    An unreadable or incomplete owner file reads as no owner.
    """
    if not lock_is_held(lock_path(state_dir, symbol, strategy)):
        return None
    try:
        data = json.loads(owner_path(state_dir, symbol, strategy).read_text(encoding="utf-8"))
        speed = data.get("speed")
        return Owner(
            int(data["pid"]),
            int(data["started_at_ms"]),
            str(data["strategy"]),
            str(data["symbol"]),
            str(data["exchange"]),
            None if speed is None else float(speed),
        )
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
