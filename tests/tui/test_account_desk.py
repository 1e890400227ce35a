"""The account in the desk: the launcher's balance, money in the record, panel and chart."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, Label

from tests.tui.test_desk_flows import Recorder
from tui.formatting import system_clock
from tui.messages import RunFinished, RunStarted
from tui.runs import RunRequest, SignalStatus, SignalView
from tui.screens.launcher import LauncherModal
from tui.screenshots import demo_app, settle
from tui.state import DeskState
from tui.widgets.equity_chart import EquityChart
from tui.widgets.stats_panel import StatsPanel


def panel_rows(panel: StatsPanel) -> list[tuple[str, str]]:
    """The (label, value) rows the statistics panel draws, top to bottom, as it draws them."""
    drawn = str(panel.content).splitlines()
    assert len(drawn) == len(panel.rows)
    for line, (label, value) in zip(drawn, panel.rows, strict=True):
        assert line.startswith(label) and line.endswith(value)  # nothing cut at this width
    return panel.rows


async def test_a_balance_typed_in_the_launcher_runs_an_account_in_money(tmp_path: Path) -> None:
    seen = Recorder()
    app = demo_app(tmp_path)
    async with app.run_test(size=(120, 40), message_hook=seen) as pilot:
        await settle(pilot)
        await pilot.press("b")
        assert isinstance(app.screen, LauncherModal)
        field = app.screen.query_one("#balance", Input)
        assert field.value == "10000"  # the default
        field.focus()
        field.value = ""
        await pilot.press(*"2500", "enter")
        await settle(pilot)
        record = next(m for m in seen if isinstance(m, RunFinished)).record
        assert next(m for m in seen if isinstance(m, RunStarted)).request.balance == 2500

        # By hand: the whole equity goes into each trade, which multiplies it by
        # (1 + PnL % / 100); its fee is 0.1 % in and 0.1 % out of the equity it took.
        equity = 2500.0
        for view in record.signals:
            assert view.fee == pytest.approx(equity * 0.002)
            assert view.pnl_money == pytest.approx(equity * (view.pnl_percentage or 0) / 100)
            equity *= 1 + (view.pnl_percentage or 0) / 100
        stats = record.statistics
        assert stats["balance"] == 2500
        assert stats["final_equity"] == pytest.approx(equity)
        assert stats["return_percent"] == pytest.approx((equity / 2500 - 1) * 100)
        assert app.desk.query_one(EquityChart).final_equity == pytest.approx(equity)

        rows = panel_rows(app.desk.query_one(StatsPanel))
        labels = [label for label, _ in rows]
        assert labels[0] == "Account · from 2 500.00"
        assert labels.index("Final equity") < labels.index("Closed signals")
        assert dict(rows)["Final equity"] == f"{equity:,.2f}".replace(",", " ")
        for label in ("Total PnL Σ%", "Max drawdown Σ%", "Yearly return Σ%"):
            assert label in labels
        assert labels[-1] == "Σ% = sums of trade %"

        await pilot.press("b")
        assert app.screen.query_one("#balance", Input).value == "2500"  # remembered
    assert DeskState(tmp_path / "state", system_clock).last_request.balance == 2500


@pytest.mark.parametrize("typed", ["-5", "0", "lots"])
async def test_a_balance_that_is_not_a_positive_amount_is_refused(
    tmp_path: Path, typed: str
) -> None:
    app = demo_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("b")
        field = app.screen.query_one("#balance", Input)
        field.focus()
        field.value = ""
        await pilot.press(*typed, "enter")
        await settle(pilot)
        assert isinstance(app.screen, LauncherModal)
        error = str(app.screen.query_one("#launcher-error", Label).render())
        assert error == (
            f"Balance {typed!r} is not a positive amount; type the starting balance in the "
            "quote currency, e.g. 10000"
        )


def test_runs_stored_before_the_account_still_read() -> None:
    old = RunRequest.model_validate(
        {"strategy_name": "bracket", "symbol": "BTCUSDT", "exchange_name": "demo"}
    )
    assert old.balance == 10_000
    view = SignalView("a", SignalStatus.CLOSED, "long", 100, 110, 90, 0, 60_000, 110, "tp", 9.6)
    assert (view.fee, view.pnl_money) == (None, None)


async def test_a_wide_statistics_pane_spells_out_the_sums_of_trade_percentages(
    desk_root: Path,
) -> None:
    app = demo_app(desk_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("3")  # the statistics pane, full width at this size
        await settle(pilot)
        labels = [label for label, _ in panel_rows(app.desk.query_one(StatsPanel))]
    for label in ("Total PnL", "Max drawdown", "Yearly return"):
        assert f"{label} (sum of trade %)" in labels
    assert "Σ% = sums of trade %" not in labels
