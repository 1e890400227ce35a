"""The desk's footer: the keys that matter on the current screen, drawn as one line.

The line never truncates a hint: hints go in priority order (the focused widget's keys, then
the screen's, then the desk's, each in the order of its `BINDINGS`) and the lowest-priority
ones are left out whole when the width runs short. Help (`?`) and Quit (`q`) are pinned to the
right end and always shown (dimmed while a text field takes their key).

Textual's `Footer` mounts a widget per key and rebuilds them whenever the bindings change
(focus moves, a run starts or ends); each rebuild restyles a dozen widgets, which costs a
keystroke's worth of time. This footer keeps a single widget and only redraws its text.
"""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.events import Click
from textual.screen import Screen
from textual.widget import Widget

PINNED_ACTIONS = ("show_help", "quit")
"""The desk's actions every footer shows, at its right end, whatever the width."""


class KeyFooter(Widget, can_focus=False):
    """One line of `key description` pairs for the screen's shown bindings; a click presses one."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"key-footer--key", "key-footer--description"}
    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-foreground;
    }
    KeyFooter > .key-footer--key {
        color: $footer-key-foreground;
        background: $footer-key-background;
        text-style: bold;
    }
    KeyFooter > .key-footer--description {
        color: $footer-description-foreground;
        background: $footer-description-background;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._spans: list[tuple[int, int, str]] = []

    def on_mount(self) -> None:
        """Redraw whenever the screen's bindings change."""
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        """Stop listening to the screen."""
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if screen is self.screen:
            self.refresh()

    def shown(self) -> list[tuple[Binding, bool]]:
        """Return the shown bindings of the screen (one per action) and whether each is enabled.

        The order is the priority: the focused widget's keys first, the desk's last.
        """
        seen: set[str] = set()
        shown: list[tuple[Binding, bool]] = []
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if binding.show and binding.action not in seen:
                seen.add(binding.action)
                shown.append((binding, enabled))
        return shown

    def pinned(self) -> list[tuple[Binding, bool]]:
        """Return Help and Quit: active, or dimmed when the screen gives their key elsewhere."""
        active = {
            binding.action: (binding, enabled)
            for _node, binding, enabled, _tooltip in self.screen.active_bindings.values()
            if binding.action in PINNED_ACTIONS
        }
        desk = {binding.action: binding for _key, binding in self.app._bindings}
        pinned: list[tuple[Binding, bool]] = []
        for action in PINNED_ACTIONS:
            if action in active:
                pinned.append(active[action])
            elif action in desk:
                pinned.append((desk[action], False))
        return pinned

    def _hint(self, binding: Binding) -> tuple[str, str]:
        return f" {self.app.get_key_display(binding)} ", f"{binding.description} "

    def fitting(self, width: int) -> tuple[list[tuple[Binding, bool]], list[tuple[Binding, bool]]]:
        """Return the hints that fit in `width` cells (highest priority first) and the pinned.

        Args:
            width: The footer's width in cells.
        """
        pinned = self.pinned()
        room = width - sum(len("".join(self._hint(b))) for b, _ in pinned)
        hints: list[tuple[Binding, bool]] = []
        for binding, enabled in self.shown():
            if binding.action in PINNED_ACTIONS:
                continue
            cells = len("".join(self._hint(binding)))
            if cells > room:
                break
            room -= cells
            hints.append((binding, enabled))
        return hints, pinned

    def render(self) -> Text:
        """`key description` pairs that fit, dimmed where unavailable; Help and Quit at the end."""
        key_style = self.get_component_rich_style("key-footer--key")
        description_style = self.get_component_rich_style("key-footer--description")
        width = self.size.width
        hints, pinned = self.fitting(width)
        line = Text(no_wrap=True, overflow="crop")
        spans: list[tuple[int, int, str]] = []

        def add(binding: Binding, enabled: bool) -> None:
            start = len(line)
            dim = Style(dim=not enabled)
            key, description = self._hint(binding)
            line.append(key, key_style + dim)
            line.append(description, description_style + dim)
            spans.append((start, len(line), binding.key.split(",")[0]))

        for binding, enabled in hints:
            add(binding, enabled)
        used = len(line) + sum(len("".join(self._hint(b))) for b, _ in pinned)
        line.append(" " * max(0, width - used))
        for binding, enabled in pinned:
            add(binding, enabled)
        self._spans = spans
        return line

    def on_click(self, event: Click) -> None:
        """Press the key under the pointer."""
        for start, end, key in self._spans:
            if start <= event.x < end:
                self.app.simulate_key(key)
                return
