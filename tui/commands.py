"""Command palette entries generated from the bindings active on the current screen.

Every capability of the desk is an action with a `Binding`; the palette offers each of them
by its description (with the key in the help text), so the palette and the keys never drift.
`DeskCommands` finds a command by the words of its description and tooltip too: "backtest"
finds "Run" (its tooltip reads "Open the backtest launcher").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial
from typing import Any

from textual.app import App, SystemCommand
from textual.command import Hit, Hits
from textual.screen import Screen
from textual.system_commands import SystemCommandsProvider

NOT_IN_PALETTE = frozenset({"command_palette"})
WORD_SCORE = 0.8
"""The score of a command whose words start with every word typed (a fuzzy title match of
the whole query ranks above it)."""


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


def words_match(query: str, text: str) -> bool:
    """Return whether every word of `query` starts a word of `text` (case ignored).

    Args:
        query: What the user typed, e.g. `back` or `run hist`.
        text: A command's title and help, e.g. `Run Open the backtest launcher · key b`.
    """
    terms = query.lower().split()
    words = re.findall(r"\w+", text.lower())
    return bool(terms) and all(any(w.startswith(t) for w in words) for t in terms)


class DeskCommands(SystemCommandsProvider):
    """The desk's commands, found by a fuzzy match of their title or by the words of their help."""

    async def search(self, query: str) -> Hits:
        """Yield the commands whose title matches `query`, or whose words start with its words.

        Args:
            query: The user input to be matched.
        """
        matcher = self.matcher(query)
        for name, help_text, callback, *_ in self.app.get_system_commands(self.screen):
            score = matcher.match(name)
            if score <= 0 and words_match(query, f"{name} {help_text}"):
                score = WORD_SCORE
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
