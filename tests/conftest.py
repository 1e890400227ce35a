"""Session-wide test setup: a private candle cache, so tests never touch the user's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("candle-cache")
    patcher = pytest.MonkeyPatch()
    patcher.setenv("BACKTEST_DESK_CACHE", str(folder))
    yield folder
    patcher.undo()
