"""Command palette entries generated from the bindings active on the current screen.

Every capability of the desk is an action with a `Binding`; the palette offers each of them
by its description (with the key in the help text), so the palette and the keys never drift.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from textual.app import App, SystemCommand
from textual.screen import Screen

NOT_IN_PALETTE = frozenset({"command_palette"})


def binding_commands(app: App[Any], screen: Screen[Any]) -> Iterator[SystemCommand]:
    """Yield one palette command per enabled binding of `screen`, its focus chain and `app`."""
    seen: set[str] = set()
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if not binding.description or binding.action in NOT_IN_PALETTE or not active.enabled:
            continue
        if binding.action in seen:
            continue
        seen.add(binding.action)
        help_text = binding.tooltip or binding.description
        yield SystemCommand(
            binding.description,
            f"{help_text} · key {app.get_key_display(binding) or key}",
            partial(app.run_action, binding.action, active.node),
        )
