"""Session-wide test setup: a private candle cache, so tests never touch the user's."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.sim.parallel import USER_MODULE_PREFIX


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("candle-cache")
    patcher = pytest.MonkeyPatch()
    patcher.setenv("BACKTEST_DESK_CACHE", str(folder))
    yield folder
    patcher.undo()


@pytest.fixture(autouse=True)
def no_user_modules_left() -> Iterator[None]:
    """Forget the user modules a test loaded (`engine.core.loader.load_module`) after it.

    A walker ships every module this process loaded to its worker processes; one left by
    another test (from its own temporary folder) must not travel with it.
    """
    before = {name for name in sys.modules if name.startswith(USER_MODULE_PREFIX)}
    yield
    for name in [n for n in sys.modules if n.startswith(USER_MODULE_PREFIX)]:
        if name not in before:
            del sys.modules[name]
