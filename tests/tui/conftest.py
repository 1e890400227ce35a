"""Fixtures of the desk's tests: an isolated environment and a prepared demo history."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from engine.core import registration
from engine.sim.walker import walkers
from tui.screenshots import prepare_history

if TYPE_CHECKING:
    from tests.tui.test_desk_flows import Gate


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No discovered config or state: every test runs in its own directory."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.setenv("BACKTEST_DESK_HOME", str(tmp_path / "desk-home"))
    monkeypatch.setenv("BACKTEST_DESK_CACHE", str(tmp_path / "cache"))  # no cached exchanges
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    """Remove the schemas a test registered (the engine's registries are process-wide).

    Exchanges other than the demo market that an earlier test left (a cached `binance`
    registered by an in-process `desk data download`, say) go first: the desk must show
    only what this test's own cache and modules hold.
    """
    for schema in registration.exchanges.list():
        if not schema.exchange_name.startswith("demo"):
            registration.exchanges.remove(schema.exchange_name)
    registries = (registration.strategies, registration.exchanges, registration.frames, walkers)
    before = [{getattr(s, registry.name_field) for s in registry.list()} for registry in registries]
    yield
    for registry, names in zip(registries, before, strict=True):
        for schema in registry.list():
            name = getattr(schema, registry.name_field)
            if name not in names:
                registry.remove(name)


@pytest.fixture(scope="session")
def prepared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state directory and dump with two real runs (bracket, then limit) made by keys."""
    root = tmp_path_factory.mktemp("prepared")
    home = Path.cwd()
    os.chdir(root)
    try:
        asyncio.run(prepare_history(root))
    finally:
        os.chdir(home)
    return root


@pytest.fixture
def desk_root(prepared_root: Path, tmp_path: Path) -> Path:
    """A private copy of the prepared history in the test's working directory."""
    for name in ("state", "dump"):
        shutil.copytree(prepared_root / name, tmp_path / name)
    return tmp_path


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[Gate]:
    """A gated strategy (its `get_signal` waits), opened at the end of the test whatever."""
    from tests.tui.test_desk_flows import Gate

    gate = Gate(tmp_path)
    yield gate
    gate.open()
