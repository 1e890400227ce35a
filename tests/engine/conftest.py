"""Fixtures of the engine tests (opt-in: `pytestmark = pytest.mark.usefixtures(...)`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.engine.helpers import Listeners, reset_engine


@pytest.fixture
def clean_engine() -> Iterator[None]:
    """Registries without user schemas, default config, no stored results, before and after."""
    reset_engine()
    yield
    reset_engine()


@pytest.fixture
def listen(clean_engine: None) -> Iterator[Listeners]:
    """`listen(engine.listen_error)` returns a list filled by the listener; unsubscribed after."""
    listeners = Listeners()
    yield listeners
    listeners.close()


@pytest.fixture
def fresh_live() -> Iterator[None]:
    """No live statistics kept from another test, before and after."""
    from engine.sim.live import Live

    Live.clear()
    yield
    Live.clear()
