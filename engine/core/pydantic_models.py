"""The pydantic side of the schemas: `Schema`, `SignalDto` and the plain schemas' validators.

The plain schemas are the dataclasses of engine.core.schemas, which the registries hold.

pydantic takes about a tenth of a second to import, so this module loads only when something
needs it: a schema that is not plainly valid (a camelCase key, a value to convert, an error to
explain), a `SignalDto`, or a pydantic schema (sizing, walker, optimizer).
"""

from __future__ import annotations

import dataclasses
import difflib
import types
from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, create_model
from pydantic.alias_generators import to_camel

from engine.core.asyncs import syncify
from engine.core.errors import ConfigError
from engine.core.schemas import Check, given_fields, hints

M = TypeVar("M", bound="Schema")
D = TypeVar("D")


class Schema(BaseModel):
    """Base of every pydantic schema: frozen, camelCase aliases, unknown fields rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        arbitrary_types_allowed=True,
        extra="forbid",
        frozen=True,
    )

    @classmethod
    def build(cls: type[M], kind: str, schema: Any, fields: Mapping[str, Any]) -> M:
        """Build from a model, a mapping or keyword fields; explain any bad field."""
        if isinstance(schema, cls) and not fields:
            return schema
        return validate(cls, kind, given_fields(cls, kind, schema, fields))


def validate(model: type[M], kind: str, data: Mapping[str, Any]) -> M:
    """Return `data` validated by `model`, or raise a `ConfigError` naming each bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(kind, model, exc)) from None


def _explain(kind: str, cls: type[BaseModel], exc: ValidationError) -> str:
    known = [*cls.model_fields, *(f.alias for f in cls.model_fields.values() if f.alias)]
    lines = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(schema)"
        if err["type"] == "extra_forbidden":
            hint = difflib.get_close_matches(field, known, n=1)
            fix = (
                f"did you mean {hint[0]!r}?"
                if hint
                else f"known fields: {', '.join(cls.model_fields)}"
            )
            lines.append(f"unknown field {field!r} ({fix})")
        else:
            lines.append(f"field {field!r} was {err.get('input')!r}: {err['msg']}")
    return f"{kind} schema validation failed: " + "; ".join(lines)


Fn = Annotated[Callable[..., Any], AfterValidator(syncify)]
"""A user function; an `async def` one is wrapped to run to completion (engine.core.asyncs)."""


def validate_plain(cls: type[D], kind: str, data: Mapping[str, Any]) -> D:
    """Return `data` validated as the plain schema `cls` (a dataclass of engine.core.schemas).

    Raises:
        ConfigError: the same text a pydantic schema of these fields gives.
    """
    return _to_plain(cls, validate(_model_of(cls), kind, data))


def _model_of(cls: type) -> type[Schema]:
    """Return the pydantic twin of a plain schema: its name, its fields, their checks."""
    model = _TWINS.get(cls)
    if model is None:
        types_of = hints(cls)
        fields = {item.name: (_twin(types_of[item.name]), item.default) for item in _fields(cls)}
        model = _TWINS[cls] = create_model(cls.__name__, __base__=Schema, **fields)  # type: ignore[call-overload]  # fields built at run time
        _PLAIN[model] = cls
    return model


_TWINS: dict[type, type[Schema]] = {}
"""The pydantic twin of each plain schema."""
_PLAIN: dict[type[Schema], type] = {}
"""The plain schema of each twin."""


def _twin(hint: Any) -> Any:
    """Return `hint` for pydantic: plain schemas become their twins, a `Check` a validator."""
    if get_origin(hint) is Annotated:
        checks = [AfterValidator(m.fn) for m in hint.__metadata__ if isinstance(m, Check)]
        return Annotated[(_twin(hint.__origin__), *checks)]
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _model_of(hint)
    if get_origin(hint) in (Union, types.UnionType):
        return Union[tuple(_twin(arg) for arg in get_args(hint))]  # noqa: UP007  # built at run time
    return hint


def _to_plain(cls: type[D], model: BaseModel) -> D:
    """Return the plain schema `cls` holding the validated values of `model`."""
    values = {}
    for item in _fields(cls):
        value = getattr(model, item.name)
        if type(value) in _PLAIN:  # nested callbacks
            value = _to_plain(_PLAIN[type(value)], value)
        values[item.name] = value
    return cls(**values)


def _fields(cls: type) -> tuple[dataclasses.Field[Any], ...]:
    return dataclasses.fields(cls)


class SignalDto(Schema):
    """What `get_signal` may return (a mapping with these keys works as well)."""

    position: str
    price_take_profit: float
    price_stop_loss: float
    minute_estimated_time: int
    price_open: float | None = None
    note: str | None = None
    id: str | None = None
