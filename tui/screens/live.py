"""The live screen: paper loops, their positions and signals, partial alerts and a chart.

Each loop runs `Live.run` in a thread worker of this screen (the screen is installed, so its
loops outlive leaving it); only the live bridge listens to the engine. Loops that were
running when the desk closed are reconnected when the screen first opens, and the
positions they saved come back marked as recovered.

A loop that a headless `desk live` runs on the same state directory is attached instead:
read-only, polled from its state files (`tui.live_attach`), under an "attached to pid N"
banner; stopping it asks that process to stop, and the desk never starts it itself.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import DataTable, Label, RichLog
from textual.worker import get_current_worker

import engine
from engine.sim.live_owner import Owner
from tui.formatting import format_percent, format_price, format_short_timestamp
from tui.live_attach import Attachment, OwnersFound, find_owners, spec_of
from tui.live_bridge import (
    LiveBridge,
    LiveSignalReceived,
    LoopChanged,
    LoopSnapshot,
    LoopSpec,
    LoopState,
    PartialReached,
    PositionView,
    key_hint,
)
from tui.screens.live_modals import ConfirmAttachedStopModal, ConfirmStopModal, LiveLauncherModal
from tui.theming import desk_color
from tui.widgets.key_footer import KeyFooter
from tui.widgets.live_chart import LiveChart
from tui.widgets.vim_table import VimTable

COMPACT_WIDTH, COMPACT_HEIGHT = 100, 30
SIGNAL_ROWS = 300
SHUTDOWN_SECONDS = 3.0
ATTACH_POLL_SECONDS = 0.5
LOOP_COLUMNS = (
    ("strategy", "Strategy", 12),
    ("symbol", "Symbol", 9),
    ("state", "State", 28),
    ("price", "Price", 10),
    ("time", "Time", 11),
    ("clock", "Clock", 6),
    ("exchange", "Exchange", 8),
    ("key", "API key", 7),
)
POSITION_COLUMNS = (
    ("loop", "Loop", 20),
    ("side", "Side", 5),
    ("upnl", "Unrealised", 10),
    ("price", "Price", 10),
    ("open", "Open", 10),
    ("tp", "TP", 10),
    ("sl", "SL", 10),
    ("signal", "Signal", 20),
)
SIGNAL_COLUMNS = (
    ("time", "Time", 11),
    ("event", "Event", 9),
    ("pnl", "PnL", 8),
    ("price", "Price", 10),
    ("side", "Side", 5),
    ("loop", "Loop", 20),
)
STATE_VARIABLES = {
    LoopState.RUNNING: "success",
    LoopState.STOPPING: "warning",
    LoopState.FAILED: "error",
    LoopState.DISCONNECTED: "warning",
    LoopState.ATTACHED: "success",
}


def clock_label(speed: float) -> str:
    """Return how a loop's clock is shown: "real" or "60×"."""
    return "real" if speed == 1 else f"{speed:g}×"


class LiveScreen(Screen[None]):
    """Live paper loops: `s` starts one, `x` stops the one under the cursor gracefully.

    Args:
        state_dir: The live state directory (positions, clocks, the loop book).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="live-back"),
        Binding(
            "N",
            "start_loop",
            "New loop",
            tooltip="Start a paper loop on the demo market",
            id="start-loop",
        ),
        Binding(
            "x",
            "stop_loop",
            "Cancel loop",
            tooltip="Stop the loop under the cursor once its position closes",
            id="stop-loop",
        ),
    ]

    def __init__(self, state_dir: Path) -> None:
        super().__init__()
        self.bridge = LiveBridge(self.post_message, state_dir)
        self.snapshots: dict[str, LoopSnapshot] = {}
        self.watched: str | None = None
        self.last_spec = LoopSpec("bracket", "BTCUSDT", "demo", 60.0)
        self.attached: dict[str, Attachment] = {}
        self._polling = threading.Lock()

    def compose(self) -> ComposeResult:
        """Title, loops, positions, chart beside the signal stream, alerts, footer."""
        yield Label(
            "Live · paper trading on the demo market · N new loop · x stops one",
            classes="screen-title",
        )
        banner = Label("", id="live-banner")
        banner.display = False
        yield banner
        loops = VimTable(id="live-loops", cursor_type="row", classes="pane")
        loops.border_title = "Loops"
        yield loops
        positions = VimTable(id="live-positions", cursor_type="row", classes="pane")
        positions.border_title = "Positions"
        yield positions
        with Horizontal(id="live-middle"):
            chart = LiveChart(id="live-chart", classes="pane")
            chart.border_title = "Price"
            yield chart
            signals = VimTable(id="live-signals", cursor_type="row", classes="pane")
            signals.border_title = "Signals"
            yield signals
        alerts = RichLog(id="live-alerts", classes="pane", wrap=True, max_lines=500)
        alerts.border_title = "Alerts"
        yield alerts
        yield KeyFooter()

    def on_mount(self) -> None:
        """Lay out the tables, listen to the engine and reconnect the loops left running."""
        for selector, columns in (
            ("#live-loops", LOOP_COLUMNS),
            ("#live-positions", POSITION_COLUMNS),
            ("#live-signals", SIGNAL_COLUMNS),
        ):
            table = self.query_one(selector, VimTable)
            for key, label, width in columns:
                table.add_column(label, key=key, width=width)
        self.bridge.subscribe()
        self.query_one("#live-loops", VimTable).focus()
        self._attach_new(find_owners(self.bridge.state_dir))
        for spec in self.bridge.book.to_reconnect():
            if spec.key in self.attached:
                continue
            self._alert(f"reconnecting {spec.label}")
            self.start_loop(spec)
        if not self.bridge.book.read() and not self.attached:
            self._alert("no live loop yet: press N to start a paper loop")
        self._poll_attached()
        self.set_interval(ATTACH_POLL_SECONDS, self._poll_attached)

    def on_unmount(self) -> None:
        """Cancel the loops (their state is kept for the next start) and stop listening."""
        self.workers.cancel_group(self, "live-loops")
        self.bridge.wait_idle(SHUTDOWN_SECONDS)
        self.bridge.unsubscribe()

    def on_resize(self, event: Resize) -> None:
        """Use the compact layout on small terminals; the alerts keep their newest line shown."""
        size = self.app.size
        self.set_class(size.width < COMPACT_WIDTH or size.height < COMPACT_HEIGHT, "-compact")
        alerts = self.query_one("#live-alerts", RichLog)
        self.call_after_refresh(alerts.scroll_end, animate=False, immediate=True)

    def start_loop(self, spec: LoopSpec) -> None:
        """Start a paper loop in a thread worker, unless it runs here or in another process."""
        if self.bridge.is_running(spec):
            self.notify(f"{spec.label} is already running.", severity="warning")
            return
        attachment = self.attached.get(spec.key)
        if attachment is not None and not attachment.ended:
            self.notify(
                f"{spec.label} runs in pid {attachment.owner.pid} (desk live); the desk is "
                "attached read-only. Press x to ask it to stop.",
                severity="warning",
            )
            return
        self.last_spec = spec
        if self.watched is None:
            self.watched = spec.key
        self._run_loop(spec)

    @work(thread=True, exit_on_error=False, group="live-loops", description="Live loop")
    def _run_loop(self, spec: LoopSpec) -> None:
        self.bridge.run_loop(spec, get_current_worker().cancelled_event)

    def action_start_loop(self) -> None:
        """Pick a strategy, a symbol and a clock speed, then start the loop."""
        strategies = [s.strategy_name for s in engine.list_strategies() if s.strategy_name]
        store = engine.exchange_store("demo")
        symbols = list(store.symbols()) if store is not None else ["BTCUSDT"]

        def chosen(spec: LoopSpec | None) -> None:
            if spec is not None:
                self.start_loop(spec)

        self.app.push_screen(LiveLauncherModal(strategies, symbols, self.last_spec), chosen)

    def open_positions(self) -> list[str]:
        """Return the labels of the loops that hold an open position (what quitting leaves).

        Attached loops are left out: their own process keeps watching them.
        """
        return [
            snapshot.spec.label
            for key, snapshot in self.snapshots.items()
            if snapshot.position is not None
            and (key not in self.attached or self.attached[key].ended)
        ]

    def _cursor_spec(self) -> LoopSpec | None:
        table = self.query_one("#live-loops", VimTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        snapshot = self.snapshots.get(str(key.value))
        return snapshot.spec if snapshot is not None else None

    def action_stop_loop(self) -> None:
        """Ask, then stop the loop under the cursor gracefully."""
        spec = self._cursor_spec()
        if spec is not None and spec.key in self.attached and not self.bridge.is_running(spec):
            self._stop_attached(self.attached[spec.key])
            return
        if spec is None or not self.bridge.is_running(spec):
            self.notify("No running loop under the cursor.", severity="warning")
            return
        if self.snapshots[spec.key].state is LoopState.STOPPING:
            self.notify(f"{spec.label} is already stopping.", severity="warning")
            return
        has_position = self.snapshots[spec.key].position is not None

        def confirmed(stop: bool | None) -> None:
            if stop:
                self.bridge.stop(spec)

        self.app.push_screen(ConfirmStopModal(spec, has_position), confirmed)

    def _stop_attached(self, attachment: Attachment) -> None:
        """Ask, then send the owner of an attached loop its graceful stop (SIGINT)."""
        spec, pid = attachment.spec, attachment.owner.pid
        if attachment.ended:
            self.notify(f"{spec.label}: pid {pid} has already ended.", severity="warning")
            return
        if attachment.stop_asked:
            self.notify(f"{spec.label}: pid {pid} was already asked to stop.", severity="warning")
            return

        def confirmed(stop: bool | None) -> None:
            if not stop:
                return
            if attachment.ask_stop():
                self._alert(f"asked pid {pid} to stop {spec.label} (SIGINT)", "warning")
            else:
                self.notify(f"pid {pid} no longer runs {spec.label}.", severity="warning")
            self._poll_attached()

        self.app.push_screen(ConfirmAttachedStopModal(spec, pid), confirmed)

    def _attach_new(self, owners: list[Owner]) -> None:
        for owner in owners:
            spec = spec_of(owner)
            known = self.attached.get(spec.key)
            if self.bridge.is_running(spec):
                continue
            if known is None or known.ended or known.owner != owner:
                self.attached[spec.key] = Attachment(owner, self.bridge.state_dir)
        self._show_banner()

    def _show_banner(self) -> None:
        running = [a for a in self.attached.values() if not a.ended]
        banner = self.query_one("#live-banner", Label)
        banner.display = bool(running)
        text = " · ".join(
            f"attached to pid {a.owner.pid} ({a.spec.label}, read-only; x asks it to stop)"
            for a in running
        )
        style = desk_color(self.app.theme_variables, "warning").hex
        banner.update(Text(text, style=f"bold {style}"))

    @work(thread=True, exit_on_error=False, group="live-attach", description="Attached loops")
    def _poll_attached(self) -> None:
        """Read what the attached loops changed, and look for new headless loops."""
        with self._polling:
            for attachment in list(self.attached.values()):
                if not attachment.ended:
                    for message in attachment.poll():
                        self.post_message(message)
            self.post_message(OwnersFound(find_owners(self.bridge.state_dir)))

    def on_owners_found(self, message: OwnersFound) -> None:
        """Attach to the headless loops that started since the last poll."""
        self._attach_new(message.owners)

    @on(DataTable.RowHighlighted, "#live-loops")
    def _loop_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = str(event.row_key.value)
        if key in self.snapshots and key != self.watched:
            self.watched = key
            self._draw_chart()

    def on_loop_changed(self, message: LoopChanged) -> None:
        """Show a loop's new state, price and position."""
        snapshot = message.snapshot
        key = snapshot.spec.key
        previous = self.snapshots.get(key)
        self.snapshots[key] = snapshot
        if previous is None or previous.state is not snapshot.state:
            failed = "error" if snapshot.state is LoopState.FAILED else None  # red: it stopped
            self._alert(f"{snapshot.spec.label}: {snapshot.state}" + _detail(snapshot), failed)
        p = snapshot.position
        if p is not None and p.recovered and (previous is None or previous.position is None):
            self._alert(
                f"recovered {p.position} position {p.signal_id[:8]} of {snapshot.spec.label}"
                f" opened at {format_price(p.price_open)}"
            )
        self._update_loop_row(snapshot)
        self._update_position_row(snapshot)
        if key in self.attached:
            self._show_banner()
        if self.watched is None:
            self.watched = key
        if key == self.watched:
            self._draw_chart()

    def on_live_signal_received(self, message: LiveSignalReceived) -> None:
        """Append a signal event to the stream."""
        view = message.view
        table = self.query_one("#live-signals", VimTable)
        key = f"{message.spec.key}:{view.signal_id}:{view.status}"
        if key in table.rows:
            return
        pnl: Text | str = ""
        if view.pnl_percentage is not None:
            pnl = self._pnl_text(view.pnl_percentage)
        price = view.price_close if view.price_close is not None else view.price_open
        table.add_row(
            format_short_timestamp(message.at_ms),
            str(view.status),
            pnl,
            format_price(price),
            self._side_text(view.position),
            message.spec.label,
            key=key,
        )
        while table.row_count > SIGNAL_ROWS:
            table.remove_row(next(iter(table.rows)))
        table.move_cursor(row=table.row_count - 1)

    def on_partial_reached(self, message: PartialReached) -> None:
        """Show a partial profit or loss alert."""
        severity = "success" if message.kind == "profit" else "warning"
        price = "" if message.price is None else f" at {format_price(message.price)}"
        self._alert(
            f"partial {message.kind} {message.level} % on {message.signal_id[:8]} "
            f"({message.spec.label}){price}",
            severity,
            message.at_ms,
        )

    def _alert(self, text: str, variable: str | None = None, at_ms: int | None = None) -> None:
        line = Text()
        if at_ms is not None:
            line.append(f"{format_short_timestamp(at_ms)} ", style="dim")
        style = desk_color(self.app.theme_variables, variable).hex if variable else ""
        line.append(text, style=style)
        self.query_one("#live-alerts", RichLog).write(line)

    def _pnl_text(self, value: float) -> Text:
        variable = "pnl-up" if value > 0 else "pnl-down" if value < 0 else "pnl-flat"
        style = desk_color(self.app.theme_variables, variable).hex
        return Text(format_percent(value), style=style, justify="right")

    def _side_text(self, side: str) -> Text:
        variable = "long" if side == "long" else "short"
        return Text(side, style=desk_color(self.app.theme_variables, variable).hex)

    def _update_loop_row(self, snapshot: LoopSnapshot) -> None:
        table = self.query_one("#live-loops", VimTable)
        spec = snapshot.spec
        variable = STATE_VARIABLES.get(snapshot.state)
        state_style = desk_color(self.app.theme_variables, variable).hex if variable else ""
        cells = {
            "strategy": spec.strategy_name,
            "symbol": spec.symbol,
            "state": Text(str(snapshot.state), style=state_style),
            "price": format_price(snapshot.price),
            "time": format_short_timestamp(snapshot.now_ms) if snapshot.now_ms else "—",
            "clock": clock_label(spec.speed),
            "exchange": spec.exchange_name,
            "key": key_hint(spec.exchange_name),
        }
        if spec.key not in table.rows:
            table.add_row(*cells.values(), key=spec.key)
            table.border_title = f"Loops ({table.row_count})"
            return
        for column, value in cells.items():
            table.update_cell(spec.key, column, value)

    def _update_position_row(self, snapshot: LoopSnapshot) -> None:
        table = self.query_one("#live-positions", VimTable)
        key = snapshot.spec.key
        position = snapshot.position
        if position is None:
            if key in table.rows:
                table.remove_row(key)
            table.border_title = f"Positions ({table.row_count})"
            return
        cells = self._position_cells(snapshot, position)
        if key not in table.rows:
            table.add_row(*cells.values(), key=key)
        else:
            for column, value in cells.items():
                table.update_cell(key, column, value)
        table.border_title = f"Positions ({table.row_count})"

    def _position_cells(
        self, snapshot: LoopSnapshot, position: PositionView
    ) -> dict[str, Text | str]:
        signal = position.signal_id[:8] + (" (recovered)" if position.recovered else "")
        return {
            "loop": snapshot.spec.label,
            "side": self._side_text(position.position),
            "upnl": self._pnl_text(position.unrealised_percentage),
            "price": format_price(position.current_price),
            "open": format_price(position.price_open),
            "tp": format_price(position.price_take_profit),
            "sl": format_price(position.price_stop_loss),
            "signal": signal,
        }

    def _draw_chart(self) -> None:
        chart = self.query_one(LiveChart)
        snapshot = self.snapshots.get(self.watched) if self.watched else None
        chart.border_title = f"Price · {snapshot.spec.symbol}" if snapshot else "Price"
        chart.show(snapshot)


def _detail(snapshot: LoopSnapshot) -> str:
    return f" ({snapshot.detail})" if snapshot.detail else ""
