"""Crash-safe file writes and the handling of corrupt state files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from engine.core.clock import SYSTEM_CLOCK
from engine.persist.base import StateError

TEMP_PREFIX = ".tmp-"


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` so that a crash leaves the old file or the new one, never half.

    The text goes to a temp file `.tmp-<12 hex>-<name>` in the same folder, is flushed and
    fsynced, then `os.replace`s the target; the folder is fsynced so the rename survives a
    power cut too.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f"{TEMP_PREFIX}{os.urandom(6).hex()}-{path.name}")
    try:
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        if temp.exists():
            temp.unlink()
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms cannot open folders; the rename is still atomic there
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_temps(path: Path) -> int:
    """Delete temp files a killed writer left beside `path`; return how many there were."""
    count = 0
    for temp in path.parent.glob(f"{TEMP_PREFIX}*-{path.name}"):
        temp.unlink(missing_ok=True)
        count += 1
    return count


def read_json_state(path: Path, missing: Any = None) -> Any:
    """Return the JSON document at `path`, or `missing` when the file does not exist.

    Raises:
        StateError: the file is not UTF-8 text or not valid JSON (cut short, for example);
            it was renamed `<name>.corrupt-<time>`.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return missing
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise corrupt(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise corrupt(path, f"not valid JSON ({exc})") from None


def corrupt(path: Path, why: str) -> StateError:
    """Move a corrupt state file aside and return the error that explains what to do."""
    stamp = SYSTEM_CLOCK.now_ms()
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    path.replace(aside)
    return StateError(
        f"state file {path} is corrupt: {why}. It was moved to {aside}. The run stopped "
        "instead of guessing which positions are open: check your positions on the exchange, "
        f"then either restore a good copy to {path.name} or leave it absent (an absent file "
        "starts empty: no open signal, no history, a demo clock starting now), and start again."
    )
