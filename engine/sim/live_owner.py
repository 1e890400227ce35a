"""Who runs a live session: the owner file beside the session's lock, and its reader.

The process that holds `<state_dir>/live-<symbol>_<strategy>.lock` writes
`<state_dir>/live-<symbol>_<strategy>.owner.json` right after taking the lock and removes it
when the run ends. A SIGKILL leaves the file behind, so a reader trusts it only while the
lock is really held: `read_owner` tries to take the lock (timeout 0) and lets go at once.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from engine.persist.files import atomic_write_text

OWNER_KEYS = ("pid", "started_at_ms", "strategy", "symbol", "exchange", "speed")


@dataclass(frozen=True, slots=True)
class Owner:
    """The process running a live session.

    Attributes:
        pid: its process id.
        started_at_ms: when it took the lock (wall clock, epoch milliseconds).
        strategy, symbol, exchange: what it runs.
        speed: how many times faster than real time its demo clock runs; None for the
            wall clock.
    """

    pid: int
    started_at_ms: int
    strategy: str
    symbol: str
    exchange: str
    speed: float | None


def lock_path(state_dir: Path, symbol: str, strategy: str) -> Path:
    """Return the session's process lock file."""
    return Path(state_dir) / f"live-{symbol}_{strategy}.lock"


def owner_path(state_dir: Path, symbol: str, strategy: str) -> Path:
    """Return the session's owner file."""
    return Path(state_dir) / f"live-{symbol}_{strategy}.owner.json"


def write_owner(state_dir: Path, owner: Owner) -> Path:
    """Write the owner file atomically (the caller holds the lock); return its path."""
    path = owner_path(state_dir, owner.symbol, owner.strategy)
    atomic_write_text(path, json.dumps(asdict(owner)))
    return path


def remove_owner(state_dir: Path, symbol: str, strategy: str) -> None:
    """Remove the owner file (the caller still holds the lock)."""
    owner_path(state_dir, symbol, strategy).unlink(missing_ok=True)


def read_owner(state_dir: str | Path, symbol: str, strategy: str) -> Owner | None:
    """Return who runs the session now, or None when no process holds its lock.

    Reads only: a missing, stale (lock free) or unreadable owner file gives None. When the
    lock file cannot be opened (a state directory this user may only read), the owner's
    process id is checked instead.
    """
    folder = Path(state_dir)
    owner = _parse(owner_path(folder, symbol, strategy))
    if owner is None:
        return None
    probe = FileLock(str(lock_path(folder, symbol, strategy)), timeout=0)
    try:
        probe.acquire()
    except Timeout:
        return owner
    except OSError:
        return owner if _alive(owner.pid) else None
    probe.release()
    return None


def _parse(path: Path) -> Owner | None:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or sorted(data) != sorted(OWNER_KEYS):
        return None
    names = (data["strategy"], data["symbol"], data["exchange"])
    if not (
        all(isinstance(data[k], int) and not isinstance(data[k], bool) for k in OWNER_KEYS[:2])
        and all(isinstance(name, str) for name in names)
        and (data["speed"] is None or isinstance(data["speed"], int | float))
    ):
        return None
    return Owner(**data)


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
