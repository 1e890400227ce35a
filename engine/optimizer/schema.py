"""Optimizer schemas and the data `Optimizer.get_data` returns (docs/optimizer.md#schema).

Validation keeps upstream's four texts verbatim and adds checks upstream lacks (ranges,
sources, template names), in the same `optimizer template validation failed: …` style.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError

from engine.core.errors import ConfigError
from engine.core.schemas import Schema

Fn = Callable[..., Any]
PREFIX = "optimizer template validation failed:"
TEMPLATE_METHODS = (
    "get_top_banner",
    "get_user_message",
    "get_assistant_message",
    "get_walker_template",
    "get_exchange_template",
    "get_frame_template",
    "get_strategy_template",
    "get_launcher_template",
    "get_text_template",
    "get_json_template",
    "get_json_dump_template",
)
"""The overridable template methods (upstream's `IOptimizerTemplate`), snake_case."""


class OptimizerRange(Schema):
    """A date range of training or test data; both ends inclusive, timezone-aware."""

    start_date: datetime
    end_date: datetime
    note: str | None = None


class OptimizerSource(Schema):
    """A named data source: `fetch(args)` returns one page of rows (dicts with an `id`).

    `user(symbol, data, name)` and `assistant(symbol, data, name)` format the source's
    rows as the user message and the assistant's reply; the template's defaults apply
    when they are not given.
    """

    name: str | None = None
    fetch: Fn
    user: Fn | None = None
    assistant: Fn | None = None
    note: str | None = None


class OptimizerCallbacks(Schema):
    """Optional hooks of an optimizer; each may be sync or async.

    `on_source_data(symbol, name, data, start_date, end_date)` after a source's pages,
    `on_data(symbol, strategies)` at the end of `get_data`, `on_code(symbol, code)` at the end
    of `get_code`, `on_dump(symbol, filepath)` after `dump` wrote the file.
    """

    on_source_data: Fn | None = None
    on_data: Fn | None = None
    on_code: Fn | None = None
    on_dump: Fn | None = None


@dataclass(frozen=True, slots=True)
class FetchArgs:
    """What a source's `fetch` receives: the symbol, the range and one page (limit 25)."""

    symbol: str
    start_date: datetime
    end_date: datetime
    limit: int
    offset: int


@dataclass(frozen=True, slots=True)
class Message:
    """One turn of the conversation handed to `get_prompt` and to the LLM."""

    role: Literal["system", "user", "assistant"]
    content: str

    def as_dict(self) -> dict[str, str]:
        """Return `{"role": …, "content": …}`, the shape LLM APIs take."""
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True, slots=True)
class OptimizerStrategy:
    """One generated strategy: the conversation of its range and `get_prompt`'s answer."""

    symbol: str
    name: str
    messages: tuple[Message, ...]
    strategy: str


class OptimizerSchema(Schema):
    """An optimizer: training ranges × sources → one strategy description each.

    `range_train` and `source` are lists; a source is a `fetch` function or an
    `OptimizerSource` (or a mapping of its fields). `template` overrides template methods by
    name (snake_case or upstream camelCase): a mapping of name to function.
    """

    optimizer_name: str | None = None
    range_train: Any = None
    range_test: Any = None
    source: Any = None
    get_prompt: Any = None
    template: Any = None
    callbacks: OptimizerCallbacks | None = None
    note: str | None = None

    def check(self) -> None:
        """Raise upstream's text for a missing field, or a clear one for a bad value."""
        name = self.optimizer_name
        if not name:
            raise ConfigError(f"{PREFIX} missing optimizerName")
        for field, label in (("range_train", "rangeTrain"), ("source", "source")):
            value = getattr(self, field)
            if not isinstance(value, list | tuple) or not value:
                raise ConfigError(
                    f"{PREFIX} {label} must be a non-empty array for optimizerName={name}"
                )
        if not callable(self.get_prompt):
            raise ConfigError(f"{PREFIX} getPrompt must be a function for optimizerName={name}")
        self.train_ranges()
        self.test_range()
        self.sources()
        self.template_overrides()

    def train_ranges(self) -> tuple[OptimizerRange, ...]:
        """Return the training ranges as models."""
        return tuple(
            self._range(r, f"rangeTrain[{i}]") for i, r in enumerate(self.range_train or ())
        )

    def test_range(self) -> OptimizerRange:
        """Return the test range (the walker's frame) as a model."""
        return self._range(self.range_test, "rangeTest")

    def sources(self) -> tuple[OptimizerSource | Fn, ...]:
        """Return the sources: plain fetch functions or `OptimizerSource` models."""
        out: list[OptimizerSource | Fn] = []
        for i, src in enumerate(self.source or ()):
            if isinstance(src, OptimizerSource) or (callable(src) and not isinstance(src, type)):
                out.append(src)
            elif isinstance(src, Mapping):
                try:
                    out.append(OptimizerSource.model_validate(src))
                except ValidationError as exc:
                    raise self._error(f"source[{i}] is not a valid source: {_first(exc)}") from None
            else:
                raise self._error(
                    f"source[{i}] must be a fetch function or a source with name and fetch, "
                    f"was {type(src).__name__}"
                )
        return tuple(out)

    def template_overrides(self) -> dict[str, Fn]:
        """Return the template overrides by snake_case method name."""
        if self.template is None:
            return {}
        if not isinstance(self.template, Mapping):
            raise self._error("template must be a mapping of template method names to functions")
        out: dict[str, Fn] = {}
        for key, fn in self.template.items():
            method = _snake(str(key))
            if method not in TEMPLATE_METHODS:
                hint = difflib.get_close_matches(method, TEMPLATE_METHODS, n=1)
                fix = f"did you mean {hint[0]!r}?" if hint else f"use one of {TEMPLATE_METHODS}"
                raise self._error(f"template has no method {key!r} ({fix})")
            if not callable(fn):
                raise self._error(f"template method {key!r} must be a function")
            out[method] = fn
        return out

    def _range(self, value: Any, label: str) -> OptimizerRange:
        if isinstance(value, OptimizerRange):
            found = value
        elif isinstance(value, Mapping):
            try:
                found = OptimizerRange.model_validate(value)
            except ValidationError as exc:
                raise self._error(f"{label} is not a valid range: {_first(exc)}") from None
        else:
            raise self._error(f"{label} must be a range with startDate and endDate")
        for moment in (found.start_date, found.end_date):
            if moment.tzinfo is None:
                raise self._error(
                    f"{label} date {moment.isoformat()} has no timezone; "
                    "pass an aware datetime such as datetime(2024, 1, 1, tzinfo=timezone.utc)"
                )
        if found.end_date < found.start_date:
            raise self._error(f"{label} ends before it starts")
        return found

    def _error(self, text: str) -> ConfigError:
        return ConfigError(f"{PREFIX} {text} for optimizerName={self.optimizer_name}")


def _first(exc: ValidationError) -> str:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "(value)"
    return f"{field}: {err['msg']}"


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
