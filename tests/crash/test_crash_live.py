"""`desk live` survives SIGKILL at random moments (the fast version of crash_live.py)."""

from __future__ import annotations

from pathlib import Path

from tests.crash.crash_live import run


def test_sigkill_loses_and_duplicates_no_signal_and_no_callback(tmp_path: Path) -> None:
    figures = run(kills=10, seed=20240101, speed=20000, folder=tmp_path, max_wait=0.5)
    assert figures.kills == 10
    assert figures.opened == figures.closed > 0
    assert figures.resumed_open > 0
    assert figures.callbacks >= figures.opened + figures.closed  # on_open and on_close each
