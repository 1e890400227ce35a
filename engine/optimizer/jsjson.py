"""`JSON.stringify` for the default user message (docs/optimizer.md#messages).

Dates become `"2024-01-01T00:00:00.000Z"`, NaN and infinities `null`, numbers print as
JavaScript prints them (`1.0` → `1`), non-ASCII text stays as is and keys keep their order.
`None` is `null` (Python has no `undefined`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from engine.core.jsformat import js_string


def stringify(value: Any) -> str:
    """Return `value` as JavaScript's `JSON.stringify(value)` would."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return js_string(value) if math.isfinite(value) else "null"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime):
        return json.dumps(_iso(value))
    if isinstance(value, BaseModel):
        return stringify(value.model_dump())
    if isinstance(value, Mapping):
        items = [f"{stringify(str(k))}:{stringify(v)}" for k, v in value.items()]
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(stringify(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def _iso(moment: datetime) -> str:
    utc = moment.astimezone(UTC) if moment.tzinfo else moment
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
