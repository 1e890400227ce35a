"""The optimizer screen: run an optimizer, read its conversations, save and walk its module."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import ClassVar

from rich.syntax import Syntax
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import (
    Collapsible,
    Input,
    Label,
    Markdown,
    ProgressBar,
    Static,
    TabbedContent,
    TabPane,
)
from textual.widgets.option_list import Option

from engine.core.errors import ConfigError
from engine.optimizer import LlmSettings
from engine.optimizer.schema import OptimizerStrategy
from tui.formatting import format_noun
from tui.optimizer_bridge import (
    GeneratedModule,
    LlmChecked,
    ModuleGenerated,
    ModuleSaved,
    OptimizerBridge,
    OptimizerFailed,
    OptimizerProgressed,
    OptimizerSummary,
    WalkerProgressed,
    WalkerRanked,
)
from tui.screens.error import ErrorModal
from tui.screens.report import ReportScroll
from tui.screens.reports import VimOptionList
from tui.widgets.key_footer import KeyFooter
from tui.widgets.vim_table import VimTable

COLLAPSE_CHARS = 400
"""Conversation turns longer than this start collapsed, titled with their size."""
COMPACT_WIDTH = 100
HOW_TO_ADD = """\
# No optimizer registered

An optimizer turns data sources into strategy descriptions written by an LLM. Register one
in a module and open the desk with it: `desk --module my_optimizer.py`.

```python
from datetime import UTC, datetime
from engine.optimizer import add_optimizer, llm_client

add_optimizer(
    optimizer_name="trend",
    range_train=[{"start_date": datetime(2024, 12, 1, tzinfo=UTC),
                  "end_date": datetime(2024, 12, 2, tzinfo=UTC)}],
    range_test={"start_date": datetime(2024, 12, 30, tzinfo=UTC),
                "end_date": datetime(2024, 12, 30, 6, tzinfo=UTC)},
    source=[{"name": "notes", "fetch": lambda args: []}],
    get_prompt=lambda symbol, messages: llm_client().chat(
        [m.as_dict() for m in messages]
        + [{"role": "user", "content": "Write a strategy"}]),
)
```
"""


def size_label(text: str) -> str:
    """Return a turn's size for its title, e.g. `3,412 chars · 25 lines`."""
    lines = text.count("\n") + 1
    return f"{len(text):,} chars · {lines} line{'s' if lines != 1 else ''}"


def estimate_text(summary: OptimizerSummary) -> str:
    """Return how many LLM calls a run and its walker will make."""
    return (
        f"Run: {format_noun(summary.prompts, 'get_prompt call')}\n"
        f"  ({format_noun(summary.ranges, 'range')} × {format_noun(summary.sources, 'source')})\n"
        f"Walker: ≤ {summary.walker_calls:,} LLM calls\n"
        f"  ({summary.prompts} strategies × {summary.test_minutes:,} min / 5)"
    )


def _number(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


class OptimizerScreen(Screen[None]):
    """Optimizers on the left; strategies, code, walker ranking and LLM settings in tabs.

    Args:
        dump_dir: Generated modules are saved under `<dump_dir>/optimizer`.
        llm: The LLM settings the form starts with (usually `LlmSettings.from_env()`).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "run_optimizer", "Generate", tooltip="Run the optimizer", id="opt-run"),
        Binding(
            "1", "show_tab('chats')", "Chats", tooltip="Show the conversations", id="opt-chats"
        ),
        Binding(
            "2", "show_tab('code')", "Code", tooltip="Show the generated module", id="opt-code"
        ),
        Binding(
            "3",
            "show_tab('walker')",
            "Ranking",
            tooltip="Show the walker's ranking",
            show=False,
            id="opt-ranking",
        ),
        Binding("4", "show_tab('llm')", "LLM", tooltip="Edit the LLM settings", id="opt-llm"),
        Binding(
            "ctrl+s", "save_module", "Save", tooltip="Check and save the module", id="opt-save"
        ),
        Binding("w", "run_walker", "Walker", tooltip="Run the module's walker", id="opt-walker"),
        Binding(
            "ctrl+t", "test_llm", "Test LLM", tooltip="Test the LLM connection", id="opt-test-llm"
        ),
        Binding("escape", "leave", "Back", id="opt-back"),
    ]

    def __init__(self, dump_dir: Path, llm: LlmSettings) -> None:
        super().__init__()
        self.bridge = OptimizerBridge(self.post_message, dump_dir)
        self.initial_llm = llm
        self.summaries: tuple[OptimizerSummary, ...] = ()
        self.module: GeneratedModule | None = None
        self.saved: Path | None = None
        self._cancel = threading.Event()

    def compose(self) -> ComposeResult:
        """Title, the optimizer column, the tabs, the footer."""
        yield Label("Optimizer", id="opt-title", classes="screen-title")
        with Horizontal(id="opt-body"):
            with Vertical(id="opt-left", classes="pane") as left:
                left.border_title = "Optimizers"
                yield VimOptionList(id="opt-list")
                yield Label("Symbol", classes="field-label")
                yield Input("BTCUSDT", id="opt-symbol", placeholder="symbol, e.g. BTCUSDT")
                yield Static("", id="opt-estimate")
                yield ProgressBar(total=1, show_eta=False, id="opt-progress")
                yield Static("", id="opt-status")
            with TabbedContent(id="opt-tabs", initial="chats"):
                with TabPane("Chats", id="chats"):
                    yield VimOptionList(id="opt-strategies")
                    yield VerticalScroll(id="opt-conversation", classes="pane")
                with TabPane("Code", id="code"), ReportScroll(id="opt-code-scroll", classes="pane"):
                    yield Static("Generate first (e).", id="opt-code")
                with TabPane("Walker", id="walker"):
                    yield Static("Run the walker with w after generating.", id="opt-walker-status")
                    yield VimTable(id="opt-ranking", cursor_type="row", classes="pane")
                with TabPane("LLM", id="llm"):
                    yield from self._llm_form()
        yield KeyFooter()

    def _llm_form(self) -> ComposeResult:
        llm = self.initial_llm
        for label, field, value in (
            ("Provider", "provider", llm.provider),
            ("Base URL", "base-url", llm.url),
            ("Model", "model", llm.model_name),
            ("Record to", "record", llm.record_dir),
        ):
            with Horizontal(classes="opt-field"):
                yield Label(label, classes="field-label")
                yield Input(value, id=f"llm-{field}")
        key = "set" if llm.api_key() else "not set (no Authorization header)"
        yield Static(
            f"API key: {key}. Timeout {llm.timeout:g} s. These settings are used by the next "
            "run and pinned in the generated module. ctrl+t tests the connection.",
            id="llm-status",
        )

    def on_mount(self) -> None:
        """Subscribe to progress, list the optimizers and fill the tables."""
        self.bridge.subscribe()
        self.set_class(self.app.size.width < COMPACT_WIDTH, "-compact")
        table = self.query_one("#opt-ranking", VimTable)
        for label, key in (
            ("#", "rank"),
            ("Strategy", "strategy"),
            ("Metric", "metric"),
            ("Signals", "signals"),
            ("Win rate", "win"),
            ("PNL %", "pnl"),
        ):
            table.add_column(label, key=key)
        symbols = self.bridge.symbols()
        if symbols and "BTCUSDT" not in symbols:
            self.query_one("#opt-symbol", Input).value = symbols[0]
        self.refresh_optimizers()

    def on_unmount(self) -> None:
        """Stop the walker and the progress subscription."""
        self._cancel.set()
        self.bridge.unsubscribe()

    def refresh_optimizers(self) -> None:
        """List the registered optimizers, or explain how to add one."""
        self.summaries = self.bridge.optimizers()
        listing = self.query_one("#opt-list", VimOptionList)
        listing.clear_options()
        listing.add_options(Option(s.name, id=s.name) for s in self.summaries)
        conversation = self.query_one("#opt-conversation", VerticalScroll)
        if not self.summaries:
            conversation.mount(Markdown(HOW_TO_ADD, id="opt-how-to"))
            conversation.border_title = "How to add an optimizer"
            self.query_one("#opt-estimate", Static).update("No optimizer registered.")
            return
        conversation.mount(
            Static(
                "x (or enter on an optimizer) runs it: its sources are fetched and get_prompt "
                "writes one strategy per training range and source. Then each strategy's "
                "conversation shows here; 2 shows the module, ctrl+s saves it, w runs its walker.",
                classes="hint-text",
            )
        )
        listing.highlighted = 0
        listing.focus()

    def _selected(self) -> OptimizerSummary | None:
        index = self.query_one("#opt-list", VimOptionList).highlighted
        if index is None or not self.summaries:
            return None
        return self.summaries[index]

    @on(VimOptionList.OptionHighlighted, "#opt-list")
    def _show_estimate(self) -> None:
        summary = self._selected()
        if summary is not None:
            text = estimate_text(summary)
            note = f"\n{summary.note}" if summary.note else ""
            self.query_one("#opt-estimate", Static).update(text + note)

    @on(VimOptionList.OptionSelected, "#opt-list")
    def _run_selected(self) -> None:
        self.action_run_optimizer()

    def llm_settings(self) -> LlmSettings | None:
        """Return the settings in the LLM form, or None (and say why) when they are invalid."""
        values = {
            field: self.query_one(f"#llm-{field}", Input).value.strip()
            for field in ("provider", "base-url", "model", "record")
        }
        try:
            return LlmSettings(
                provider=values["provider"],
                base_url=values["base-url"],
                model=values["model"],
                api_key_env=self.initial_llm.api_key_env,
                temperature=self.initial_llm.temperature,
                seed=self.initial_llm.seed,
                timeout=self.initial_llm.timeout,
                record_dir=values["record"],
                record_mode=self.initial_llm.record_mode,
            )
        except ConfigError as exc:
            self.query_one("#llm-status", Static).update(f"Invalid settings: {exc}")
            self.query_one(TabbedContent).active = "llm"
            return None

    def _status(self, text: str) -> None:
        self.query_one("#opt-status", Static).update(text)

    def action_run_optimizer(self) -> None:
        """Run the highlighted optimizer on the symbol (get_data, then the module)."""
        summary = self._selected()
        if summary is None:
            self.notify("No optimizer registered: see the example.", severity="warning")
            return
        symbol = self.query_one("#opt-symbol", Input).value.strip()
        if not symbol:
            self.notify("Type a symbol first, e.g. BTCUSDT.", severity="warning")
            return
        llm = self.llm_settings()
        if llm is None:
            return
        if any(w.group == "optimizer" and w.is_running for w in self.workers):
            self.notify("The optimizer is already running.", severity="warning")
            return
        self.module, self.saved = None, None
        self.query_one("#opt-progress", ProgressBar).update(total=summary.prompts, progress=0)
        self._status(f"Running {summary.name} on {symbol} …")
        self._generate(summary.name, symbol, llm)

    @work(thread=True, exclusive=True, exit_on_error=False, group="optimizer")
    def _generate(self, name: str, symbol: str, llm: LlmSettings) -> None:
        self.bridge.generate(name, symbol, llm)

    def on_optimizer_progressed(self, event: OptimizerProgressed) -> None:
        """Move the progress bar."""
        self.query_one("#opt-progress", ProgressBar).update(
            total=max(event.total, 1), progress=event.processed
        )

    def on_module_generated(self, event: ModuleGenerated) -> None:
        """Show the strategies, their conversations and the code."""
        self.module = event.module
        count = len(event.module.strategies)
        self._status(f"{count} strategies generated · s save · w walker")
        self.query_one("#opt-title", Label).update(
            f"Optimizer · {event.module.optimizer_name} · {event.module.symbol}"
        )
        strategies = self.query_one("#opt-strategies", VimOptionList)
        strategies.clear_options()
        strategies.add_options(
            Option(f"{i + 1}. {s.name}", id=str(i)) for i, s in enumerate(event.module.strategies)
        )
        code = Syntax(
            event.module.code,
            "python",
            theme="ansi_dark" if self.app.current_theme.dark else "ansi_light",
            line_numbers=True,
            background_color="default",
        )
        self.query_one("#opt-code", Static).update(code)
        self.query_one(TabbedContent).active = "chats"
        if count:
            strategies.highlighted = 0
            strategies.focus()

    @on(VimOptionList.OptionHighlighted, "#opt-strategies")
    def _show_conversation(self, event: VimOptionList.OptionHighlighted) -> None:
        if self.module is None or event.option_id is None:
            return
        self.show_conversation(self.module.strategies[int(event.option_id)])

    @on(VimOptionList.OptionSelected, "#opt-strategies")
    def _focus_conversation(self) -> None:
        self.query_one("#opt-conversation", VerticalScroll).focus()

    def show_conversation(self, strategy: OptimizerStrategy) -> None:
        """Show a strategy's turns (long ones collapsed) and the description it produced."""
        pane = self.query_one("#opt-conversation", VerticalScroll)
        pane.remove_children()
        pane.border_title = strategy.name
        turns = [
            Collapsible(
                Static(message.content, markup=False, classes="opt-turn-text"),
                title=f"{message.role} · {size_label(message.content)}",
                collapsed=len(message.content) > COLLAPSE_CHARS,
                classes=f"opt-turn -{message.role}",
            )
            for message in strategy.messages
        ]
        turns.append(
            Collapsible(
                Markdown(strategy.strategy),
                title=f"strategy · {size_label(strategy.strategy)}",
                collapsed=False,
                classes="opt-turn -strategy",
            )
        )
        pane.mount_all(turns)
        pane.scroll_home(animate=False)

    def action_show_tab(self, tab: str) -> None:
        """Switch to a tab and focus what it shows."""
        self.query_one(TabbedContent).active = tab
        target = {
            "chats": "#opt-strategies",
            "code": "#opt-code-scroll",
            "walker": "#opt-ranking",
            "llm": "#llm-provider",
        }[tab]
        self.query_one(target).focus()

    def action_save_module(self) -> None:
        """Check the generated module imports and save it under the dump folder."""
        module, llm = self.module, self.llm_settings()
        if module is None or llm is None:
            if module is None:
                self.notify("Generate first (e).", severity="warning")
            return
        self._status("Checking and saving the module …")
        self._save(module, llm, walk=False)

    @work(thread=True, exclusive=True, exit_on_error=False, group="optimizer-save")
    def _save(self, module: GeneratedModule, llm: LlmSettings, walk: bool) -> None:
        path = self.bridge.save(module, llm)
        if walk and path is not None:
            self.bridge.run_walker(module, path, self._cancel)

    def on_module_saved(self, event: ModuleSaved) -> None:
        """Say where the module went."""
        self.saved = event.path
        self._status(f"Saved {event.path.name}")
        self.notify(f"Saved {event.path}", title="Module saved")

    def action_run_walker(self) -> None:
        """Save the module (if not yet) and rank its strategies with its walker."""
        module, llm = self.module, self.llm_settings()
        if module is None or llm is None:
            if module is None:
                self.notify("Generate first (e).", severity="warning")
            return
        self.query_one(TabbedContent).active = "walker"
        self.query_one("#opt-ranking", VimTable).clear()
        self.query_one("#opt-walker-status", Static).update(f"Walking {module.walker_name} …")
        self.query_one("#opt-progress", ProgressBar).update(
            total=len(module.strategies), progress=0
        )
        if self.saved is not None:
            self._walk(module, self.saved)
        else:
            self._save(module, llm, walk=True)

    @work(thread=True, exclusive=True, exit_on_error=False, group="optimizer-save")
    def _walk(self, module: GeneratedModule, path: Path) -> None:
        self.bridge.run_walker(module, path, self._cancel)

    def on_walker_progressed(self, event: WalkerProgressed) -> None:
        """Move the progress bar by one strategy."""
        self.query_one("#opt-progress", ProgressBar).update(
            total=max(event.total, 1), progress=event.tested
        )
        self._status(f"Walker: {event.tested}/{event.total} strategies tested")

    def on_walker_ranked(self, event: WalkerRanked) -> None:
        """Fill the ranking table, best first."""
        table = self.query_one("#opt-ranking", VimTable)
        table.clear()
        for row in event.rows:
            table.add_row(
                str(row.rank),
                row.strategy_name,
                _number(row.metric_value),
                str(row.total_signals),
                _number(row.win_rate, 1),
                _number(row.total_pnl, 2),
                key=row.strategy_name,
            )
        table.border_title = f"{event.walker_name} · by {event.metric}"
        self.query_one("#opt-walker-status", Static).update(
            f"{format_noun(len(event.rows), 'strategy', 'strategies')} ranked by {event.metric}"
        )
        self._status("Walker finished")
        self.query_one(TabbedContent).active = "walker"
        table.focus()

    def on_optimizer_failed(self, event: OptimizerFailed) -> None:
        """Show the failure; the screen stays usable."""
        self._status(f"The {event.step} failed")
        self.app.push_screen(ErrorModal(f"Optimizer {event.step}: {event.title}", event.msg))

    def action_test_llm(self) -> None:
        """Ask the LLM server for its models."""
        llm = self.llm_settings()
        if llm is None:
            return
        self.query_one(TabbedContent).active = "llm"
        self.query_one("#llm-status", Static).update(f"Asking {llm.url} …")
        self._check(llm)

    @work(thread=True, exclusive=True, exit_on_error=False, group="llm-check")
    def _check(self, llm: LlmSettings) -> None:
        self.bridge.check_llm(llm)

    def on_llm_checked(self, event: LlmChecked) -> None:
        """Show the connection test's outcome."""
        status = self.query_one("#llm-status", Static)
        status.set_class(event.ok, "-ok")
        status.set_class(not event.ok, "-failed")
        status.update(event.text)

    def action_leave(self) -> None:
        """Go back to the desk (a running walker stops before its next strategy)."""
        self._cancel.set()
        self.app.pop_screen()
