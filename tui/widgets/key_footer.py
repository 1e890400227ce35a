"""The desk's footer: the keys that matter on the current screen, drawn as one line.

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
        """Return the shown bindings of the screen (one per action) and whether each is enabled."""
        seen: set[str] = set()
        shown: list[tuple[Binding, bool]] = []
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if binding.show and binding.action not in seen:
                seen.add(binding.action)
                shown.append((binding, enabled))
        return shown

    def render(self) -> Text:
        """`key description` pairs, dimmed where the action is unavailable now."""
        key_style = self.get_component_rich_style("key-footer--key")
        description_style = self.get_component_rich_style("key-footer--description")
        line = Text(no_wrap=True, overflow="ellipsis")
        spans: list[tuple[int, int, str]] = []
        for binding, enabled in self.shown():
            start = len(line)
            dim = Style(dim=not enabled)
            line.append(f" {self.app.get_key_display(binding)} ", key_style + dim)
            line.append(f"{binding.description} ", description_style + dim)
            spans.append((start, len(line), binding.key.split(",")[0]))
        self._spans = spans
        return line

    def on_click(self, event: Click) -> None:
        """Press the key under the pointer."""
        for start, end, key in self._spans:
            if start <= event.x < end:
                self.app.simulate_key(key)
                return
