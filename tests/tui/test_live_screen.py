"""The live screen: paper loops on a held simulated clock, graceful stop, reconnection, looks.

A `HeldClock` runs the live loop instantly up to a limit, then holds it there until the test
moves the limit or the loop is cancelled, so what the screen shows is exact and repeatable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import RichLog

import engine.sim.strategy
from engine.core.clock import Clock, SimulatedClock
from engine.core.events import PartialContract, partial_profit_emitter
from engine.core.models import SignalRow
from engine.sim.live import TICK_TTL_MS
from tui import live_bridge
from tui.app import DeskApp, make_app
from tui.formatting import fixed_clock
from tui.live_bridge import LoopSpec, LoopState
from tui.screens.live import LiveScreen
from tui.screens.live_modals import ConfirmStopModal
from tui.screenshots import DEMO_MOMENT
from tui.widgets.vim_table import VimTable

MINUTE_MS = 60_000
START_MS = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp() * 1000)
"""bracket opens a long on BTCUSDT at once from here, and closes it 84 minutes later."""


class HeldClock(SimulatedClock):
    """A simulated clock that runs freely up to `until_ms`, then holds until released."""

    def __init__(self, start_ms: int, until_ms: int) -> None:
        super().__init__(start_ms)
        self.until_ms = until_ms
        self._moved = threading.Condition()

    def release(self, minutes: int) -> None:
        """Let the clock run `minutes` further."""
        with self._moved:
            self.until_ms += minutes * MINUTE_MS
            self._moved.notify_all()

    def sleep(self, ms: float, cancel: threading.Event | None = None) -> bool:
        """Advance at once while under the limit; otherwise wait for a release or a cancel."""
        target = self.now_ms() + int(ms)
        with self._moved:
            while target > self.until_ms:
                if cancel is not None and cancel.is_set():
                    return True
                self._moved.wait(0.01)
        if cancel is not None and cancel.is_set():
            return True
        self.advance(ms)
        return False


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int, int], HeldClock]]:
    """Give live loops held clocks; seed signal ids."""
    clocks: list[HeldClock] = []

    def install(start_ms: int, minutes: int) -> HeldClock:
        clock = HeldClock(start_ms, start_ms + minutes * MINUTE_MS)
        clocks.append(clock)
        return clock

    def factory(spec: LoopSpec, state_dir: Path) -> Clock:
        return clocks[-1]

    monkeypatch.setattr(live_bridge, "make_live_clock", factory)
    engine.sim.strategy._ids.seed(7)
    yield install


def desk(root: Path) -> DeskApp:
    """Return the desk over a state directory under `root`, with a fixed desk clock."""
    return make_app(
        state_dir=root / "state",
        clock=fixed_clock(DEMO_MOMENT),
        config_dir=root / "themes",
        dump_dir=Path("dump"),
    )


async def wait_for(pilot: Pilot[None], condition: Callable[[], bool], what: str) -> None:
    """Let the app run until `condition` holds (the live loop is on another thread)."""
    for _ in range(500):
        if condition():
            await pilot.pause()
            return
        await pilot.pause(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def live_screen(app: Any) -> LiveScreen:
    """Return the installed live screen."""
    screen = app.get_screen("live")
    assert isinstance(screen, LiveScreen)
    return screen


def at_hold(app: Any, clock: HeldClock) -> bool:
    """Return True when the loop's last tick is the last one before the clock's hold."""
    snapshot = live_screen(app).snapshots.get("bracket:BTCUSDT")
    now = snapshot.now_ms if snapshot is not None else None
    return now is not None and now + TICK_TTL_MS > clock.until_ms


def cell(screen: LiveScreen, table: str, row: str, column: str) -> str:
    """Return the plain text of a cell."""
    return str(screen.query_one(table, VimTable).get_cell(row, column))


def state_of(app: Any) -> LoopState | None:
    """Return the state of the bracket BTCUSDT loop, as the screen knows it."""
    snapshot = live_screen(app).snapshots.get("bracket:BTCUSDT")
    return snapshot.state if snapshot is not None else None


def has_position(app: Any) -> bool:
    """Return True when the positions table shows the loop's position."""
    table = live_screen(app).query_one("#live-positions", VimTable)
    return "bracket:BTCUSDT" in table.rows


async def start_bracket(pilot: Pilot[None]) -> None:
    """Open the live screen and start the launcher's default loop (bracket on BTCUSDT)."""
    await pilot.press("l")
    await pilot.press("N")
    await pilot.pause()
    await pilot.press("enter")
    await wait_for(pilot, lambda: has_position(pilot.app), "an open position")


async def test_start_loop_shows_position_with_moving_unrealised_pnl(
    tmp_path: Path, held: Callable[[int, int], HeldClock]
) -> None:
    clock = held(START_MS, 20)
    app = desk(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await start_bracket(pilot)
        await wait_for(pilot, lambda: state_of(app) is LoopState.RUNNING, "running")
        screen = live_screen(app)
        await wait_for(pilot, lambda: at_hold(app, clock), "the clock to reach its hold")
        assert cell(screen, "#live-loops", "bracket:BTCUSDT", "state") == "running"
        assert cell(screen, "#live-positions", "bracket:BTCUSDT", "side") == "long"
        before = cell(screen, "#live-positions", "bracket:BTCUSDT", "upnl")
        assert before.endswith("%")
        clock.release(10)
        await wait_for(
            pilot,
            lambda: cell(screen, "#live-positions", "bracket:BTCUSDT", "upnl") != before,
            "the unrealised PnL to move with the price",
        )
        assert [str(c) for c in screen.query_one("#live-signals", VimTable).get_row_at(0)][1] == (
            "opened"
        )


async def test_graceful_stop_asks_then_waits_for_the_close(
    tmp_path: Path, held: Callable[[int, int], HeldClock]
) -> None:
    clock = held(START_MS, 20)
    app = desk(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await start_bracket(pilot)
        await pilot.press("x")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, ConfirmStopModal)
        question = str(modal.query_one("#confirm-stop-question").render())
        assert "bracket" in question and "BTCUSDT" in question
        await pilot.press("n")
        assert state_of(app) is LoopState.RUNNING
        await pilot.press("x", "y")
        await wait_for(pilot, lambda: state_of(app) is LoopState.STOPPING, "stopping")
        screen = live_screen(app)
        assert cell(screen, "#live-loops", "bracket:BTCUSDT", "state") == (
            "stopping — waiting for close"
        )
        assert has_position(app)
        clock.release(90)
        await wait_for(pilot, lambda: state_of(app) is LoopState.STOPPED, "stopped")
        assert not has_position(app)
        signals = screen.query_one("#live-signals", VimTable)
        events = [str(signals.get_row_at(index)[1]) for index in range(signals.row_count)]
        assert events == ["opened", "closed"]
        assert screen.bridge.book.to_reconnect() == []


async def test_restart_reconnects_and_shows_the_recovered_position(
    tmp_path: Path, held: Callable[[int, int], HeldClock]
) -> None:
    held(START_MS, 20)
    first = desk(tmp_path)
    async with first.run_test(size=(120, 40)) as pilot:
        await start_bracket(pilot)
        opened = live_screen(first).snapshots["bracket:BTCUSDT"].position
        assert opened is not None
    held(START_MS + 25 * MINUTE_MS, 5)
    second = desk(tmp_path)
    async with second.run_test(size=(120, 40)) as pilot:
        await pilot.press("l")
        await wait_for(pilot, lambda: has_position(second), "the recovered position")
        screen = live_screen(second)
        signal = cell(screen, "#live-positions", "bracket:BTCUSDT", "signal")
        assert signal == f"{opened.signal_id[:8]} (recovered)"
        assert state_of(second) is LoopState.RUNNING


async def test_partial_alerts_show_as_they_come(
    tmp_path: Path, held: Callable[[int, int], HeldClock]
) -> None:
    held(START_MS, 20)
    app = desk(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await start_bracket(pilot)
        screen = live_screen(app)
        position = screen.snapshots["bracket:BTCUSDT"].position
        assert position is not None
        fields: dict[str, Any] = dict.fromkeys(SignalRow._fields, 0)
        fields.update(
            id=position.signal_id, position="long", symbol="BTCUSDT", strategy_name="bracket"
        )
        row = SignalRow(**fields)
        partial_profit_emitter.emit(
            PartialContract("BTCUSDT", row, 37000.0, 10, False, START_MS + 5 * MINUTE_MS)
        )
        alerts = screen.query_one("#live-alerts", RichLog)
        await wait_for(
            pilot,
            lambda: any("partial profit 10 %" in line.text for line in alerts.lines),
            "the partial alert",
        )


class TestLiveSnapshots:
    @pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
    def test_live_screen(
        self,
        snap_compare: Any,
        tmp_path: Path,
        held: Callable[[int, int], HeldClock],
        size: tuple[int, int],
    ) -> None:
        clock = held(START_MS, 30)
        app = desk(tmp_path)

        async def reach(pilot: Pilot[None]) -> None:
            await start_bracket(pilot)
            await wait_for(pilot, lambda: at_hold(pilot.app, clock), "the clock's hold")

        assert snap_compare(app, terminal_size=size, run_before=reach)
