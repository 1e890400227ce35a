"""The desk's analysis keys: walker rankings (`w`), the heatmap (`m`) and partial alerts (`A`).

`AnalysisApp` is the base of `DeskApp`: it holds these bindings and actions, keeps the partial
alerts the bridge reports (toasting a burst as one notification) and logs risk rejections.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.notifications import SeverityLevel

from tui.alerts import AlertBook, PartialAlerted, RiskRejected
from tui.screens.alerts import AlertsScreen
from tui.screens.engine_report import EngineReportScreen
from tui.screens.heatmap import HeatmapScreen
from tui.screens.live import LiveScreen
from tui.screens.walker import PickList, WalkerScreen
from tui.walker_runs import DEFAULT_FRAME, HeatRuns, default_walker_request

if TYPE_CHECKING:
    from tui.engine_bridge import EngineBridge
    from tui.formatting import Clock
    from tui.screens.main import MainScreen
    from tui.state import DeskState

ALERT_TOAST_SECONDS = 1.0
"""Alerts arriving within this time after the first of a burst share one notification."""
WALKER_SCREEN = "walker"
HEATMAP_SCREEN = "heatmap"


class AnalysisApp(App[None]):
    """Walker, heatmap and alerts for the desk (`DeskApp` sets `state`, `bridge` and `desk`)."""

    # Not shown in the footer (the footers of the other screens stay as they were); the help
    # screen and the command palette list them.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "w",
            "show_walker",
            "Walker",
            tooltip="Rank strategies × symbols with the walker",
            show=False,
            id="show-walker",
        ),
        Binding(
            "m",
            "show_heatmap",
            "Heatmap",
            tooltip="Show a strategy's symbols × metrics heatmap",
            show=False,
            id="show-heatmap",
        ),
        Binding(
            "A",
            "show_alerts",
            "Alerts",
            tooltip="List the partial profit and loss alerts",
            show=False,
            id="show-alerts",
        ),
    ]

    state: DeskState
    bridge: EngineBridge
    desk: MainScreen
    clock: Clock

    def __init__(self) -> None:
        super().__init__()
        self.alerts = AlertBook()
        self.heat_runs = HeatRuns(lambda: self.clock())
        self._toast_due = False

    def _names(self) -> tuple[list[str], list[str], str, str | None, str | None]:
        """Return strategies, frames, exchange, the last frame and strategy the user chose."""
        registry = self.bridge.registry()
        strategies = [entry.name for entry in registry.strategies]
        frames = [entry.name for entry in registry.frames]
        last = self.state.last_request
        exchange = last.exchange_name if last is not None else "demo"
        return (
            strategies,
            frames,
            exchange,
            last.frame_name if last is not None else None,
            last.strategy_name if last is not None else None,
        )

    def action_show_walker(self) -> None:
        """Open the walker: pick strategies × symbols, run, read the rankings."""
        if isinstance(self.screen, WalkerScreen):
            return
        if not self.is_screen_installed(WALKER_SCREEN):
            strategies, frames, exchange, frame, _ = self._names()
            symbols = list(self.bridge.symbols(exchange))
            default = default_walker_request(strategies, symbols, exchange, frame, frames)
            self.install_screen(
                WalkerScreen(self.heat_runs, strategies, symbols, frames, default),
                name=WALKER_SCREEN,
            )
        self.push_screen(WALKER_SCREEN)

    def action_show_heatmap(self) -> None:
        """Open the heatmap of the session's latest walker or heatmap run."""
        if isinstance(self.screen, HeatmapScreen):
            return
        if not self.is_screen_installed(HEATMAP_SCREEN):
            strategies, frames, exchange, frame, strategy = self._names()
            chosen = frame if frame in frames else DEFAULT_FRAME
            self.install_screen(
                HeatmapScreen(
                    self.heat_runs,
                    strategies,
                    self.bridge.symbols(exchange),
                    exchange,
                    chosen,
                    strategy,
                ),
                name=HEATMAP_SCREEN,
            )
        self.push_screen(HEATMAP_SCREEN)

    def action_show_alerts(self) -> None:
        """List the partial profit and loss alerts."""
        if not isinstance(self.screen, AlertsScreen):
            self.push_screen(AlertsScreen(self.alerts))

    def on_partial_alerted(self, event: PartialAlerted) -> None:
        """Keep the alert; toast it (a burst within a second becomes one toast)."""
        self.alerts.add(event.alert)
        if isinstance(self.screen, AlertsScreen):
            self.screen.fill()
        if isinstance(self.screen, LiveScreen):
            self.alerts.take_unshown()  # the live screen lists partial alerts in its own pane
            return
        if not self._toast_due:
            self._toast_due = True
            self.set_timer(ALERT_TOAST_SECONDS, self._toast_alerts)

    def _toast_alerts(self) -> None:
        self._toast_due = False
        unshown = self.alerts.take_unshown()
        if not unshown:
            return
        latest = unshown[-1]
        severity: SeverityLevel = "information" if latest.kind == "profit" else "warning"
        if len(unshown) == 1:
            self.notify(latest.text, title=f"Partial {latest.kind}", severity=severity)
            return
        self.notify(
            f"latest: {latest.text} · A lists them",
            title=f"{len(unshown)} partial alerts",
            severity=severity,
        )

    def on_risk_rejected(self, event: RiskRejected) -> None:
        """Log a risk rejection with the validation's message."""
        self.desk.log_line(f"risk rejected: {event.msg}", "warning")


def analysis_help_sections() -> list[tuple[str, list[BindingType]]]:
    """Return the analysis bindings grouped by screen (for the help screen)."""
    return [
        ("Analysis", AnalysisApp.BINDINGS),
        ("Walker", [*WalkerScreen.BINDINGS, *PickList.BINDINGS]),
        ("Heatmap", HeatmapScreen.BINDINGS),
        ("Engine reports", EngineReportScreen.BINDINGS),
        ("Alerts", AlertsScreen.BINDINGS),
    ]
