"""Calling user code that may be async, and paging through a source (docs/optimizer.md#sources).

Upstream pages with functools-kit's `iterateDocuments` → `distinctDocuments`: pages of
`ITERATION_LIMIT` rows at offsets 0, 25, 50 … until a short page, each page taking at least
`ITERATION_DELAY` seconds, at most `ITERATION_MAX_DOCUMENTS` rows, then rows deduplicated
by `id` (first wins, order kept).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime
from typing import Any, TypeVar

from engine.core.asyncs import wait
from engine.core.errors import DataError
from engine.optimizer.schema import FetchArgs

T = TypeVar("T")

ITERATION_LIMIT = 25
"""Rows per page asked of a source (upstream's fixed limit)."""
ITERATION_DELAY = 0.1
"""Minimum seconds per page, as upstream (tests set it to 0)."""
ITERATION_MAX_DOCUMENTS = 10_000
"""Rows kept per source and range at most (400 pages)."""


def settle(value: T | Awaitable[T]) -> T:
    """Return `value`, or what it resolves to when user code returned an awaitable."""
    if inspect.isawaitable(value):
        return wait(value)
    return value


def fetch_all(
    fetch: Callable[[FetchArgs], Any],
    symbol: str,
    start_date: datetime,
    end_date: datetime,
    source_name: str,
) -> tuple[Any, ...]:
    """Fetch every page of a source for one range; return its distinct rows.

    Raises:
        DataError: a page has more than `ITERATION_LIMIT` rows (upstream's text) or is not
            a list.
    """
    rows: list[Any] = []
    offset = 0
    while len(rows) < ITERATION_MAX_DOCUMENTS:
        started = time.monotonic()
        page = settle(fetch(FetchArgs(symbol, start_date, end_date, ITERATION_LIMIT, offset)))
        if not isinstance(page, list | tuple):
            raise DataError(
                f"source {source_name} fetch returned {type(page).__name__} for offset "
                f"{offset}; return a list of rows (an empty list when there are no more)"
            )
        if len(page) > ITERATION_LIMIT:
            raise DataError(
                "functool-kit iterateDocuments response.length > limit: source "
                f"{source_name} returned {len(page)} rows for offset {offset}, limit "
                f"{ITERATION_LIMIT}"
            )
        time.sleep(max(0.0, ITERATION_DELAY - (time.monotonic() - started)))
        rows.extend(page)
        if len(page) < ITERATION_LIMIT:
            break
        offset += ITERATION_LIMIT
    return distinct(rows)


def distinct(rows: list[Any]) -> tuple[Any, ...]:
    """Return `rows` without repeated ids, first occurrence kept (JS `Set` semantics)."""
    seen: set[tuple[bool, Hashable]] = set()
    out = []
    for row in rows:
        row_id = row.get("id") if isinstance(row, dict) else getattr(row, "id", None)
        key = (isinstance(row_id, str), row_id)
        if key not in seen:
            seen.add(key)
            out.append(row)
    return tuple(out)
