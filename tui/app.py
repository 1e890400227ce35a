"""The desk's composition root: `make_app` (CLI, tests, screenshots) and `run_desk` (`desk`)."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from textual.app import CSSPathType, SystemCommand
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.screen import Screen

from engine.core.errors import ConfigError
from engine.data.inventory import file_dataset
from engine.data.sources import FileSource, registered_sources
from engine.optimizer import LlmSettings
from tui.analysis import AnalysisApp, analysis_help_sections
from tui.commands import DeskCommands, binding_commands
from tui.engine_bridge import EngineBridge
from tui.formatting import STATISTICS, Clock, system_clock
from tui.keymap import Keymap, load_keymap, user_keymap_path
from tui.run_process import RunProcess
from tui.runs import RunRequest
from tui.screens.blotter import BlotterScreen
from tui.screens.compare import CompareScreen
from tui.screens.confirm import ConfirmModal
from tui.screens.data import DataScreen
from tui.screens.data_download import DownloadModal
from tui.screens.help import HelpScreen
from tui.screens.history import HistoryScreen
from tui.screens.launcher import LauncherModal
from tui.screens.live import LiveScreen
from tui.screens.live_modals import ConfirmStopModal, LiveLauncherModal
from tui.screens.log import LogScreen
from tui.screens.main import MainScreen
from tui.screens.optimizer import OptimizerScreen
from tui.screens.report import ReportScreen, ReportScroll
from tui.screens.reports import ReportsScreen, VimOptionList
from tui.screens.run_detail import RunScreen
from tui.screens.themes import ThemeScreen
from tui.screens.trade import TradeScreen
from tui.state import DeskState, default_state_dir
from tui.theming import DEFAULT_THEME, ThemeCatalog, load_themes, user_theme_dir
from tui.widgets.event_log import EventLog
from tui.widgets.registry_tree import RegistryTree
from tui.widgets.report_table import ReportTable
from tui.widgets.report_view import ReportContent
from tui.widgets.run_status import RunStatus
from tui.widgets.trade_table import TradeTable
from tui.widgets.vim_table import VimTable

UI_SWITCH_INTERVAL = 0.001
KEEP_SYSTEM_COMMANDS = frozenset({"Keys", "Screenshot", "Maximize", "Minimize"})
LIVE_SCREEN = "live"


class DeskApp(AnalysisApp):
    """The backtest desk: one main screen of panes plus launcher, reports, history and help.

    Args:
        state: Run history and preferences.
        dump_dir: Where run reports are dumped and listed.
        catalog: The themes on offer.
        module: A user strategy module to load at start, beside the built-in strategies.
        clock: The desk's clock (fixed in tests and screenshots).
    """

    CSS_PATH: ClassVar[CSSPathType] = ["desk.tcss", "analysis.tcss"]
    TITLE = "backtest-desk"
    ENABLE_COMMAND_PALETTE = True
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {DeskCommands}

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "b",
            "launch_backtest",
            "Run",
            tooltip="Open the backtest launcher",
            id="launch-backtest",
        ),
        Binding(
            "r",
            "show_report",
            "Report",
            tooltip="Show the report of the last finished run",
            id="show-report",
        ),
        Binding(
            "R",
            "list_reports",
            "Reports",
            tooltip="Browse the reports dumped under ./dump",
            id="list-reports",
        ),
        Binding(
            "H",
            "show_history",
            "History",
            tooltip="List, open and compare past runs",
            id="show-history",
        ),
        Binding(
            "l",
            "show_live",
            "Live",
            tooltip="Live paper loops: positions, signals, partial alerts",
            id="show-live",
        ),
        Binding(
            "D",
            "show_data",
            "Data",
            tooltip="Cached candles and candle files: gaps, downloads",
            show=False,
            id="show-data",
        ),
        Binding("t", "pick_theme", "Theme", tooltip="Switch the colour theme", id="pick-theme"),
        Binding(
            "L",
            "show_log",
            "Log",
            tooltip="Read the event log full screen (errors, warnings, runs)",
            id="open-log",
        ),
        Binding(
            "O",
            "open_optimizer",
            "Optimizer",
            tooltip="Generate LLM strategies with an optimizer and rank them",
            show=False,
            id="open-optimizer",
        ),
        Binding(
            "question_mark",
            "show_help",
            "Help",
            key_display="?",
            tooltip="Show every key",
            id="show-help",
        ),
        Binding(
            "slash,ctrl+p",
            "command_palette",
            "Commands",
            key_display="/",
            tooltip="Search every command by its words (backtest, report, theme …)",
            show=False,
            id="command-palette",
        ),
        Binding("q", "quit", "Quit", tooltip="Cancel any run and leave the desk", id="quit"),
    ]

    def __init__(
        self,
        state: DeskState,
        dump_dir: Path,
        catalog: ThemeCatalog,
        module: str | None = None,
        clock: Clock = system_clock,
        signal_id_seed: int | None = None,
        keymap: Keymap | None = None,
    ) -> None:
        self.catalog = catalog
        super().__init__()
        self.keymap = keymap.keys if keymap is not None else {}
        self.state = state
        self.clock = clock
        self.module = module
        notices = [("Theme not loaded", problem) for problem in catalog.problems]
        notices += [("Keymap entry ignored", p) for p in (keymap.problems if keymap else ())]
        if state.notice:
            notices.append(("State set aside", state.notice))
        self.desk = MainScreen(state=state, clock=clock, module=module, notices=notices)
        self.bridge = EngineBridge(
            post=self.desk.post_message,
            dump_dir=dump_dir,
            statistics=[name for name, *_ in STATISTICS],
            clock=clock,
        )
        self.desk.bridge = self.bridge
        self.launcher = LauncherModal(self.bridge)
        self.desk.runs = RunProcess(
            dump_dir, [name for name, *_ in STATISTICS], clock, signal_id_seed=signal_id_seed
        )
        self._switch_interval = sys.getswitchinterval()
        for theme in catalog.themes:
            self.register_theme(theme)
        remembered = state.theme
        self.theme = remembered if remembered in catalog.names else DEFAULT_THEME

    def get_theme_variable_defaults(self) -> dict[str, str]:
        """Give every theme the desk variables of the default theme as a fallback."""
        default = next(t for t in self.catalog.themes if t.name == DEFAULT_THEME)
        return dict(default.variables)

    def get_default_screen(self) -> Screen[None]:
        """Start on the main screen."""
        return self.desk

    def on_mount(self) -> None:
        """Subscribe to the engine."""
        # Walker, heatmap and live threads compute while this one draws (backtests run in a
        # child process); a short switch interval gives the UI thread the GIL back within a
        # millisecond instead of five, so keys stay prompt.
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(UI_SWITCH_INTERVAL)
        self.bridge.subscribe()
        self.install_screen(self.launcher, name="launcher")
        self.set_keymap(self.keymap)

    def on_ready(self) -> None:
        """Keep the garbage collector's full passes short once the desk is up.

        A full pass stops the UI thread for as long as it takes to scan every tracked object:
        about 100 ms with the engine, Textual and the panes loaded. What is alive now (modules,
        the engine, the screens) lives as long as the desk, so it is frozen out of the scans
        (`gc.freeze`); full passes then only scan what runs and screens add later.
        """
        gc.collect()
        gc.freeze()

    def on_unmount(self) -> None:
        """Stop any run and unsubscribe from the engine."""
        self.desk.cancel_runs()
        self.desk.runs.close()
        self.bridge.unsubscribe()
        self.state.close()
        sys.setswitchinterval(self._switch_interval)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Offer every binding in the palette, plus Textual's key and screenshot commands."""
        yield from binding_commands(self, screen)
        for command in super().get_system_commands(screen):
            if command.title in KEEP_SYSTEM_COMMANDS:
                yield command

    def action_launch_backtest(self, preset: dict[str, str] | None = None) -> None:
        """Open the launcher; its defaults are the last choices (so `b` `enter` repeats a run).

        Args:
            preset: Choices that override the last ones, e.g. `{"strategy_name": "limit"}`.
        """
        if isinstance(self.screen, LauncherModal):
            return

        def launched(request: RunRequest | None) -> None:
            if request is not None:
                self.state.last_request = request
                if self.screen is not self.desk:
                    self.switch_to_desk()
                self.desk.start_run(request)

        self.desk.runs.start()
        self.launcher.prepare(self.state.last_request, preset)
        self.push_screen(self.launcher, launched)

    def switch_to_desk(self) -> None:
        """Pop every screen above the main screen."""
        while len(self.screen_stack) > 1:
            self.pop_screen()

    def action_show_report(self) -> None:
        """Show the report of the last finished run in the desk."""
        record = self.desk.last_record
        cancelled = self.desk.query_one(RunStatus).state == "cancelled"
        if record is None:
            reason = "The run was cancelled" if cancelled else "No finished run yet"
            self.notify(f"{reason}: press b to run a backtest.", severity="warning")
            return
        content = ReportContent.from_record(record)
        if cancelled:
            title = f"{content.title} · the last finished run (the newest run was cancelled)"
            content = replace(content, title=title)
        self.push_screen(ReportScreen(content, record.report_path))

    def action_list_reports(self) -> None:
        """Browse the reports dumped on disk."""
        self.push_screen(ReportsScreen(self.bridge.dump_dir))

    def action_show_history(self) -> None:
        """Open the run history."""
        if not isinstance(self.screen, HistoryScreen):
            self.push_screen(HistoryScreen(self.state, self.bridge))

    def action_show_live(self) -> None:
        """Open the live screen (installed once, so its loops run while it is hidden)."""
        if isinstance(self.screen, LiveScreen):
            return
        if not self.is_screen_installed(LIVE_SCREEN):
            self.install_screen(LiveScreen(self.state.path.parent / "live"), LIVE_SCREEN)
        self.push_screen(LIVE_SCREEN)

    def action_show_data(self) -> None:
        """Open the data screen: cached datasets and the desk's candle files, gaps, downloads."""
        if isinstance(self.screen, DataScreen):
            return
        files = [
            file_dataset(symbol, path)
            for source in registered_sources()
            if isinstance(source, FileSource)
            for symbol, path in source.files
        ]
        self.push_screen(DataScreen(files=files))

    def action_pick_theme(self) -> None:
        """Open the theme picker (the highlighted theme applies at once)."""
        if isinstance(self.screen, ThemeScreen):
            return

        def picked(name: str | None) -> None:
            if name is not None:
                self.state.theme = name

        self.push_screen(ThemeScreen(self.catalog.names, self.theme), picked)

    def action_open_optimizer(self) -> None:
        """Open the optimizer screen (LLM settings start from the `DESK_LLM_*` variables)."""
        if isinstance(self.screen, OptimizerScreen):
            return
        try:
            llm = LlmSettings.from_env()
        except ConfigError as exc:
            self.notify(str(exc), title="LLM settings ignored", severity="warning")
            llm = LlmSettings()
        self.push_screen(OptimizerScreen(self.bridge.dump_dir, llm))

    def action_show_log(self) -> None:
        """Open the event log full screen (scrollable; esc goes back)."""
        if not isinstance(self.screen, LogScreen):
            self.push_screen(LogScreen(self.desk.query_one(EventLog)))

    def action_show_help(self) -> None:
        """Show the keys of the current screen first, then the keys of every screen."""
        if not isinstance(self.screen, HelpScreen):
            here = (screen_title(self.screen), screen_keys(self.screen))
            self.push_screen(HelpScreen([here, *help_sections()], self.keymap))

    def open_positions(self) -> list[str]:
        """Return the live loops that hold an open position (labels), none without live."""
        if not self.is_screen_installed(LIVE_SCREEN):
            return []
        live = self.get_screen(LIVE_SCREEN)
        return live.open_positions() if isinstance(live, LiveScreen) else []

    async def action_quit(self) -> None:
        """Cancel any run and quit; ask first while a live loop holds a position."""
        holding = self.open_positions()
        if not holding:
            self.leave()
            return

        def answered(leave: bool | None) -> None:
            if leave:
                self.leave()

        self.push_screen(
            ConfirmModal(
                "Quit with open positions",
                f"Quit while {len(holding)} live loop{'s' if len(holding) != 1 else ''} "
                "hold a position?",
                f"Open: {', '.join(holding)}. The positions stay saved and come back when the "
                "live screen next opens, but nothing watches them until then.",
                "y / enter quit · n / esc stay",
                dialog_id="confirm-quit",
            ),
            answered,
        )

    def leave(self) -> None:
        """Cancel any run and quit now."""
        self.desk.cancel_runs()
        self.exit()


def screen_title(screen: Screen[Any]) -> str:
    """Return the help section title of the keys of `screen`, e.g. `This screen · History`."""
    name = type(screen).__name__.removesuffix("Screen").removesuffix("Modal") or "Desk"
    return f"This screen · {name}"


def screen_keys(screen: Screen[Any]) -> list[BindingType]:
    """Return the desk's keys that work on `screen` now, apart from the global ones.

    Textual's own widget keys (arrows, page keys) have no binding id and are left out.
    """
    seen: set[str] = set()
    keys: list[BindingType] = []
    for active in screen.active_bindings.values():
        binding = active.binding
        if active.node is screen.app or not binding.id or binding.action in seen:
            continue
        seen.add(binding.action)
        keys.append(binding)
    return keys


def help_sections() -> list[tuple[str, list[BindingType]]]:
    """Return the desk's bindings grouped by where they work (the help screen's content)."""
    return [
        ("Everywhere", DeskApp.BINDINGS),
        ("Main screen", MainScreen.BINDINGS),
        ("Tables", VimTable.BINDINGS),
        ("Lists", VimOptionList.BINDINGS),
        ("Registry", RegistryTree.BINDINGS),
        ("Launcher", LauncherModal.BINDINGS),
        ("History", HistoryScreen.BINDINGS),
        ("Data", [*DataScreen.BINDINGS, *DownloadModal.BINDINGS]),
        ("Run", RunScreen.BINDINGS),
        ("Blotter", [*BlotterScreen.BINDINGS, *TradeTable.BINDINGS, *TradeScreen.BINDINGS]),
        ("Compare", CompareScreen.BINDINGS),
        ("Reports", [*ReportsScreen.BINDINGS, *ReportScreen.BINDINGS, *ReportTable.BINDINGS]),
        ("Markdown", ReportScroll.BINDINGS),
        ("Log", LogScreen.BINDINGS),
        *analysis_help_sections(),
        ("Optimizer", OptimizerScreen.BINDINGS),
        (
            "Live",
            [*LiveScreen.BINDINGS, *LiveLauncherModal.BINDINGS, *ConfirmStopModal.BINDINGS],
        ),
    ]


def binding_ids() -> set[str]:
    """Return the id of every binding the help screen lists (what a keymap may rebind)."""
    return {
        binding.id
        for _, bindings in help_sections()
        for binding in Binding.make_bindings(bindings)
        if binding.id
    }


def make_app(
    state_dir: Path | None = None,
    module: str | None = None,
    clock: Clock | None = None,
    *,
    config_dir: Path | None = None,
    keymap_path: Path | None = None,
    dump_dir: Path | None = None,
    signal_id_seed: int | None = None,
) -> DeskApp:
    """Build the desk (the one factory behind the CLI, the tests and the screenshots).

    Args:
        state_dir: Where the state file lives (default: `$BACKTEST_DESK_HOME`, else
            `$XDG_STATE_HOME/backtest-desk`, else `~/.local/state/backtest-desk`).
        module: Path of a user strategy module to load, or None for the built-in strategies.
        clock: The desk's clock (default: the system clock, UTC).
        config_dir: Where user theme files live (default: `$XDG_CONFIG_HOME/backtest-desk/themes`).
        keymap_path: The user's keymap (default: `$XDG_CONFIG_HOME/backtest-desk/keymap.toml`).
        dump_dir: Where run reports are written and listed (default: `./dump`).
        signal_id_seed: Seeds the signal ids of the desk's backtests (reproducible
            screenshots); None draws them at random.
    """
    chosen_clock = clock or system_clock
    state = DeskState(state_dir or default_state_dir(), chosen_clock)
    catalog = load_themes(config_dir if config_dir is not None else user_theme_dir())
    return DeskApp(
        state=state,
        dump_dir=dump_dir or Path("dump"),
        catalog=catalog,
        module=module,
        clock=chosen_clock,
        signal_id_seed=signal_id_seed,
        keymap=load_keymap(keymap_path or user_keymap_path(), binding_ids()),
    )


def run_desk(module: str | None = None, notices: Sequence[str] = ()) -> None:
    """Open the desk in the terminal (what `desk`, `desk --module X` and `--candles` call).

    Args:
        module: The user's strategy module, loaded beside the built-in strategies.
        notices: Warnings to show at start (e.g. minutes missing from a candle file).
    """
    app = make_app(module=module)
    app.desk.notices += tuple(("Candle data", text) for text in notices)
    app.run()


if __name__ == "__main__":
    run_desk()
