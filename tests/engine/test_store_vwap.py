"""The VWAP a store serves equals the VWAP a user's exchange gives, bit for bit.

On a store `ClientExchange.average_price` locates the window by arithmetic on evenly spaced
candles (binary search otherwise) and reads whole windows from VWAPs computed per block.
It is compared, value for value and error for error, with the same candles served by plain
user code (fetch, filter, sum), at random times on and between minutes, before, inside and
after the data, across two blocks, in both profiles, with gaps, unaligned and silent grids.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

import engine
from engine.core.clock import SYSTEM_CLOCK
from engine.core.config import PROFILES, snapshot
from engine.core.registration import exchanges
from engine.sim.exchange import VWAP_BLOCK, ClientExchange
from tests.engine.helpers import MIN, SYMBOL, add_exchange
from tests.engine.test_fast_path import random_walk

pytestmark = pytest.mark.usefixtures("clean_engine")

COUNT = VWAP_BLOCK + 300  # two blocks of remembered VWAPs
GRIDS = ("regular", "unaligned", "gaps", "silent")


def candles(grid: str, seed: int) -> list[tuple[int, float, float, float, float, float]]:
    """A random walk laid out as `grid` says."""
    rows = random_walk(COUNT, seed)
    if grid == "unaligned":  # evenly spaced, but opening 30 s into each minute
        rows = [(ts + MIN // 2, *rest) for ts, *rest in rows]
    elif grid == "gaps":
        rng = random.Random(seed)
        rows = [row for row in rows if rng.random() > 0.05]
    elif grid == "silent":  # stretches with no volume at all: the mean of the closes
        rows = [(*row[:5], 0.0) if (i // 7) % 3 == 0 else row for i, row in enumerate(rows)]
    return rows


def outcome(average_price: Callable[[str, int], float], when: int) -> Any:
    try:
        return average_price(SYMBOL, when)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("limit", [1, 2, 5, 9])
@pytest.mark.parametrize("grid", GRIDS)
def test_the_store_vwap_equals_a_user_exchange_vwap(profile: str, limit: int, grid: str) -> None:
    seed = limit * 10 + GRIDS.index(grid)
    rows = candles(grid, seed)
    add_exchange("store", rows)
    add_exchange("user", rows, user_code=True)
    engine.set_config({"CC_AVG_PRICE_CANDLES_COUNT": limit})
    store, user = (
        ClientExchange(exchanges.get(name, "test"), snapshot(profile), SYSTEM_CLOCK)
        for name in ("store", "user")
    )
    rng = random.Random(seed)
    first, last = rows[0][0], rows[-1][0]
    edges = [first + k * MIN for k in range(-3, limit + 3)] + [
        last + k * MIN for k in range(-3, 12)
    ]
    inside = [rng.randrange(first, last, MIN) for _ in range(60)]
    between = [rng.randrange(first - 20 * MIN, last + 20 * MIN) for _ in range(60)]
    times = edges + inside + between + inside[:10]  # again: the remembered answers
    rng.shuffle(times)
    seen = [outcome(store.average_price, when) for when in times]
    assert seen == [outcome(user.average_price, when) for when in times]
    priced = any(isinstance(value, float) for value in seen)
    assert priced == (limit > 1 or profile == "default")  # 1.4.10 refuses a window of one
    assert any(isinstance(value, str) for value in seen)  # times without candles too
