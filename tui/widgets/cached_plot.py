"""A plotext chart that builds its picture only when its data, size or theme changed."""

from __future__ import annotations

from textual.app import RenderResult
from textual.geometry import Size
from textual_plotext import PlotextPlot


class CachedPlot(PlotextPlot):
    """A plotext chart that keeps its last picture until `redraw`, a resize or a new theme.

    `PlotextPlot` rebuilds the whole figure on every refresh of the widget (a new border
    title, a neighbour's layout), tens of milliseconds per chart.
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._generation = 0
        self._picture: tuple[tuple[Size, str, int], RenderResult] | None = None

    def redraw(self) -> None:
        """Show the figure as drawn now (call after changing what `plt` plots)."""
        self._generation += 1
        self.refresh()

    def render(self) -> RenderResult:
        """The last picture, rebuilt when the data, the size or the theme changed."""
        key = (self.size, self.app.theme, self._generation)
        picture = self._picture
        if picture is None or picture[0] != key:
            picture = self._picture = (key, super().render())
        return picture[1]
