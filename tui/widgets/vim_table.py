"""A DataTable with vim-style movement."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import DataTable


class VimTable(DataTable[Any]):
    """A DataTable that also moves with `j`/`k` and jumps with `g`/`G`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False, id="table-down"),
        Binding("k", "cursor_up", "Up", show=False, id="table-up"),
        Binding("g", "scroll_top", "First", show=False, id="table-first"),
        Binding("G", "scroll_bottom", "Last", show=False, id="table-last"),
    ]
