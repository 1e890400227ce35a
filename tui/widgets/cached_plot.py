"""A plotext chart whose picture is built in a thread: the UI thread only shows finished ones."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from rich.text import Text
from textual import events, work
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip
from textual.style import Style as VisualStyle
from textual.theme import Theme
from textual.visual import Visual, visualize
from textual.worker import get_current_worker
from textual_plotext import PlotextPlot
from textual_plotext.plot import Plot


@dataclass(frozen=True)
class Picture:
    """A built figure: the lines to show, for one size, theme and drawing."""

    key: tuple[Size, str, int]
    strips: tuple[Strip, ...]


class CachedPlot(PlotextPlot):
    """A plotext chart that builds its pictures in a thread worker.

    Building a figure (plotext's `build`, the ANSI it returns decoded into text, the text cut
    into lines) takes 20 to 60 ms per chart; on the UI thread, a key pressed meanwhile waits.
    Subclasses describe a figure on a fresh `Plot` and hand it to `redraw`; the chart keeps
    showing its last picture until the new one is built. A resize or a new theme describes
    the figure again (`_draw`).
    """

    @dataclass
    class Built(Message):
        """A picture is ready (posted by the building thread)."""

        picture: Picture

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._figure = Plot()
        self._generation = 0
        self._picture: Picture | None = None
        self._building = threading.Lock()

    def redraw(self, figure: Plot) -> None:
        """Show `figure` (a fresh `Plot` that the caller no longer touches) once it is built."""
        self._figure = figure
        self._generation += 1
        self._build_picture()

    def on_mount(self) -> None:
        """Draw now, and again with the new colours whenever the theme changes."""
        self.app.theme_changed_signal.subscribe(self, self._restyle)
        self._draw()

    def _restyle(self, _theme: Theme) -> None:
        self._draw()

    def on_resize(self, _event: events.Resize) -> None:
        """Describe the figure again at the new size.

        Margins and labels may depend on the size; rebuilding the last figure would keep
        those of the old size, so the picture would depend on when the layout settled.
        """
        if self.size.area:
            self._draw()

    def _draw(self) -> None:
        """Describe the chart on a fresh `Plot` and hand it to `redraw` (each chart's own)."""
        raise NotImplementedError

    def _build_picture(self) -> None:
        if not self.is_mounted or not self.size.area:
            return  # the first resize builds it
        key = (self.size, self.app.theme, self._generation)
        if self._picture is None or self._picture.key != key:
            self._register_theme(self.app.theme)
            theme_name = self._get_plotext_theme_name(self.app.theme)
            self._build(key, self._figure, theme_name, self.visual_style)

    @work(thread=True, exclusive=True, group="chart", exit_on_error=False)
    def _build(
        self, key: tuple[Size, str, int], figure: Plot, theme_name: str, style: VisualStyle
    ) -> None:
        size = key[0]
        with self._building:  # a figure is built by one thread at a time
            if get_current_worker().is_cancelled:
                return  # a newer drawing or size replaced this one
            figure.plotsize(size.width, size.height)
            figure._set_size(size.width, size.height)  # as PlotextPlot.render does
            figure.theme(theme_name)
            text = Text.from_ansi(figure.build())
        visual = visualize(self, text, markup=False)
        strips = Visual.to_strips(self, visual, size.width, size.height, style)
        self.post_message(self.Built(Picture(key, tuple(strips))))

    def on_cached_plot_built(self, event: Built) -> None:
        """Show a built picture unless a newer drawing replaced it meanwhile."""
        event.stop()
        if event.picture.key[2] == self._generation:
            self._picture = event.picture
            self.refresh()

    def render_line(self, y: int) -> Strip:
        """A line of the last picture, cut or padded to the chart's width."""
        width = self.size.width
        style = self.visual_style.rich_style
        picture = self._picture
        if picture is None or y >= len(picture.strips):
            return Strip.blank(width, style)
        return picture.strips[y].crop_extend(0, width, style)
