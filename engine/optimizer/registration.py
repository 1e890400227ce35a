"""`add_optimizer` and `list_optimizers`."""

from __future__ import annotations

from typing import Any

from engine.core.errors import ConfigError
from engine.core.registry import Registry
from engine.optimizer.schema import OptimizerSchema

optimizers: Registry[OptimizerSchema] = Registry("optimizer", "optimizer_name")


def add_optimizer(schema: Any = None, /, **fields: Any) -> None:
    """Register an optimizer (an `OptimizerSchema`, a mapping, or keyword fields).

    Raises:
        ConfigError: the name is taken (`optimizer <name> already exist`) or the schema is
            invalid (upstream's `optimizer template validation failed: …` texts). A rejected
            schema leaves nothing registered.
    """
    model = OptimizerSchema.build("optimizer", schema, fields)
    name = model.optimizer_name
    if name and optimizers.has(name):
        raise ConfigError(f"optimizer {name} already exist")
    model.check()
    optimizers.add(model)


def list_optimizers() -> list[OptimizerSchema]:
    """Return the registered optimizers in registration order."""
    return optimizers.list()
