"""The registry pane: exchanges, strategies, frames (and risks, sizings, walkers when present)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from tui.engine_bridge import RegistryEntry, RegistrySnapshot

SECTIONS = (
    ("strategies", "Strategies"),
    ("exchanges", "Exchanges"),
    ("frames", "Frames"),
    ("risks", "Risks"),
    ("sizings", "Sizings"),
    ("walkers", "Walkers"),
)


@dataclass(frozen=True)
class RegistryNode:
    """What a leaf of the tree stands for."""

    kind: str
    entry: RegistryEntry


INTERNAL_PREFIX = "desk-"
"""Frames and walkers the desk registers for itself (a date range, the heatmap's walker)."""


def is_internal(name: str) -> bool:
    """Return whether `name` is one of the desk's own schemas, hidden from the user's lists."""
    return name.startswith(INTERNAL_PREFIX)


class RegistryTree(Tree[RegistryNode]):
    """Registered schemas by kind; `enter` on a strategy, exchange or frame opens the launcher."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False, id="tree-down"),
        Binding("k", "cursor_up", "Up", show=False, id="tree-up"),
    ]

    @dataclass
    class EntryChosen(Message):
        """The user chose a registered schema (`enter` on its leaf)."""

        kind: str
        name: str

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("Registry", id=id, classes=classes)
        self.show_root = False
        self.guide_depth = 2
        self.active_strategy: str | None = None
        self._snapshot: RegistrySnapshot | None = None
        self._strategy_leaves: list[TreeNode[RegistryNode]] = []

    def show(self, snapshot: RegistrySnapshot, active_strategy: str | None = None) -> None:
        """Show a snapshot and mark the strategy that is running.

        The tree is rebuilt only when the snapshot changed; marking the running strategy
        relabels its leaf, so the cursor stays where the user left it.
        """
        self.active_strategy = active_strategy
        if snapshot == self._snapshot:
            for leaf in self._strategy_leaves:
                if leaf.data is not None:
                    leaf.set_label(self._label("strategies", leaf.data.entry))
            return
        self._snapshot = snapshot
        self._strategy_leaves = []
        previous = self.cursor_line if self.root.children else None
        self.clear()
        for kind, label in SECTIONS:
            entries = tuple(e for e in getattr(snapshot, kind) if not is_internal(e.name))
            if not entries and kind in ("risks", "sizings", "walkers"):
                continue
            section = self.root.add(f"{label} ({len(entries)})", expand=kind != "frames")
            for entry in entries:
                leaf = section.add_leaf(self._label(kind, entry), data=RegistryNode(kind, entry))
                if kind == "strategies":
                    self._strategy_leaves.append(leaf)
        first_strategy = 1 if snapshot.strategies else 0
        self.cursor_line = previous if previous is not None else first_strategy

    def _label(self, kind: str, entry: RegistryEntry) -> Text:
        # Non-breaking spaces: the tree drops plain spaces between label parts.
        text = Text.assemble(entry.name, (f"\u00a0\u00a0{entry.detail}", "dim"))
        if kind == "strategies" and entry.name == self.active_strategy:
            text.append("\u00a0\u00a0● run", style="bold")
        return text

    def on_tree_node_selected(self, event: Tree.NodeSelected[RegistryNode]) -> None:
        """Turn `enter` on a leaf into `EntryChosen`."""
        event.stop()
        node = event.node.data
        if node is not None:
            self.post_message(self.EntryChosen(node.kind, node.entry.name))
