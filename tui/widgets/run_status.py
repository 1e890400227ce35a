"""The run status line: what is running, a progress bar fed by progress events, the outcome."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Label, ProgressBar

from tui.formatting import format_progress


class RunStatus(Horizontal):
    """One line: `● running bracket · BTCUSDT · demo-7d  [████░░] 63 % · 6 350 / 10 080 frames`.

    Once the run is over, its outcome may take the whole line (the bar gets what is left);
    text that does not fit ends with an ellipsis.
    """

    DEFAULT_CSS = """
    RunStatus { height: 1; }
    RunStatus > #run-label {
        width: auto; max-width: 80%; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis;
    }
    RunStatus.-finished > #run-label, RunStatus.-errors > #run-label,
    RunStatus.-cancelled > #run-label, RunStatus.-failed > #run-label { max-width: 100%; }
    RunStatus > ProgressBar { width: 1fr; }
    RunStatus > ProgressBar > Bar { width: 1fr; }
    RunStatus > #run-frames { width: auto; padding: 0 1; }
    RunStatus.-errors > #run-label { color: $warning; }
    """

    ERROR_CHARS = 60
    """How much of a run's first engine error the line shows."""

    state: reactive[str] = reactive("idle")
    """`idle`, `running`, `finished`, `errors`, `cancelled` or `failed` (CSS class `-<state>`).

    `errors` is a run that completed while the engine reported errors (a strategy raised):
    amber, never the green of a clean `finished` run; `failed` is red.
    """

    def compose(self) -> ComposeResult:
        """Label, bar and frame count."""
        yield Label("no run yet · press b to start a backtest", id="run-label")
        yield ProgressBar(total=1, show_eta=False, show_percentage=False, id="run-bar")
        yield Label("", id="run-frames")

    def watch_state(self, old: str, new: str) -> None:
        """Expose the state as a CSS class."""
        self.remove_class(f"-{old}")
        self.add_class(f"-{new}")

    def started(self, description: str, queued: int) -> None:
        """Show a new run."""
        self.state = "running"
        suffix = f"  (+{queued} queued)" if queued else ""
        self.query_one("#run-label", Label).update(f"● running {description}{suffix} · x cancel")
        self.query_one(ProgressBar).update(total=1, progress=0)
        self.query_one("#run-frames", Label).update("")

    def progressed(self, processed: int, total: int) -> None:
        """Move the bar.

        The frame count is padded to the width it will have at the end, so that the line's
        layout (and the bar's width) stays put while the run goes: a layout pass repaints the
        whole screen.
        """
        self.query_one(ProgressBar).update(total=max(total, 1), progress=processed)
        frames = self.query_one("#run-frames", Label)
        text = format_progress(processed, total).rjust(len(format_progress(total, total)))
        frames.update(text, layout=len(text) != len(str(frames.content)))

    def ended(self, state: str, text: str) -> None:
        """Show how the run ended (`finished`, `errors`, `cancelled` or `failed`)."""
        self.state = state
        self.query_one("#run-label", Label).update(text)
        bar = self.query_one(ProgressBar)
        if state in ("finished", "errors"):
            bar.update(total=1, progress=1)
        self.query_one("#run-frames", Label).update("")
