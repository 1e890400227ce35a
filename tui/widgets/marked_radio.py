"""A radio button that reads `[x]` / `[ ]`: its state never depends on colour alone."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import RadioButton


class MarkedRadioButton(RadioButton):
    """A `RadioButton` drawn as `[x] label` when chosen and `[ ] label` when not."""

    @property
    def _button(self) -> Content:
        """The mark, reflecting the current value."""
        style = self.get_visual_style("toggle--label")
        return Content.assemble(("[x]" if self.value else "[ ]", style))
