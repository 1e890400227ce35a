"""Helpers for strategy code, the backtest report and its dump (docs/semantics.md#reports)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import engine
from engine import Candle, ConfigError
from tests.engine.helpers import (
    MIN,
    SYMBOL,
    T0,
    bar,
    dt,
    flat,
    long_dto,
    ms,
    once,
    replace_bars,
    run,
    setup,
    vwap,
)

pytestmark = pytest.mark.usefixtures("clean_engine")

RAMP = [
    bar(T0 + i * MIN, 100 + i * 0.5, volume=2 + i % 3, high=101 + i * 0.5, low=99.5 + i * 0.5)
    for i in range(-20, 80)
]

HELPERS = {
    "get_candles": lambda: engine.get_candles(SYMBOL, "1m", 5),
    "get_average_price": lambda: engine.get_average_price(SYMBOL),
    "get_date": engine.get_date,
    "get_mode": engine.get_mode,
    "format_price": lambda: engine.format_price(SYMBOL, 1234.5678),
    "format_quantity": lambda: engine.format_quantity(SYMBOL, 0.123456789),
}


def probe_all() -> dict[str, Any]:
    return {name: fn() for name, fn in HELPERS.items()}


def test_helpers_inside_get_signal_return_what_the_spec_says() -> None:
    seen: list[tuple[datetime, dict[str, Any]]] = []

    def get_signal(symbol: str, when: datetime) -> None:
        seen.append((when, probe_all()))

    setup(RAMP, get_signal, start=T0 + 30 * MIN, end=T0 + 32 * MIN)
    assert run("s") == []
    assert [ms(when) for when, _ in seen] == [T0 + 30 * MIN, T0 + 31 * MIN, T0 + 32 * MIN]
    for when, got in seen:
        at = ms(when)
        window = [r for r in RAMP if at - 5 * MIN <= r[0] <= at - MIN]
        assert got["get_candles"] == [Candle(*r) for r in window]
        assert all(isinstance(c, Candle) for c in got["get_candles"])
        assert got["get_average_price"] == vwap(window)
        assert got["get_date"] == when == dt(at)
        assert got["get_date"].tzinfo is not None
        assert got["get_date"].utcoffset().total_seconds() == 0
        assert when.tzinfo is not None
        assert got["get_mode"] == "backtest"
        assert got["format_price"] == "1234.57"
        assert got["format_quantity"] == "0.12345679"


def test_average_price_by_hand() -> None:
    seen: list[float] = []
    setup(RAMP, lambda s, w: seen.append(engine.get_average_price(s)), start=T0 + 30 * MIN)
    run("s")
    # candles opening at +25m .. +29m: typical = close + 1/6 (high = c+1, low = c-0.5),
    # volumes 2 + i % 3 for i = 25..29 -> 3, 4, 2, 3, 4
    closes = [112.5, 113.0, 113.5, 114.0, 114.5]
    volumes = [3, 4, 2, 3, 4]
    by_hand = sum((c + 1 / 6) * v for c, v in zip(closes, volumes, strict=True)) / 16
    assert seen == [pytest.approx(by_hand, rel=1e-14)]


def test_helpers_work_in_callbacks() -> None:
    seen: dict[str, Any] = {}

    def on_open(symbol: str, signal: Any, price: float, backtest: bool) -> None:
        seen.update(probe_all())
        seen["backtest"] = backtest

    setup(
        RAMP,
        once(long_dto(tp=200, sl=100, minutes=5)),
        start=T0 + 30 * MIN,
        callbacks={"on_open": on_open},
    )
    (result,) = run("s")
    assert seen["get_date"] == dt(T0 + 30 * MIN)
    assert seen["get_mode"] == "backtest"
    assert seen["backtest"] is True
    assert seen["get_average_price"] == result.signal.price_open


@pytest.mark.parametrize("name", list(HELPERS))
def test_helpers_outside_a_run_raise_a_clear_config_error(name: str) -> None:
    with pytest.raises(ConfigError) as info:
        HELPERS[name]()
    assert "only works inside strategy code" in str(info.value)


def test_helpers_still_raise_after_a_run_whose_strategy_raised() -> None:
    def get_signal(symbol: str, when: datetime) -> None:
        engine.get_date()
        raise RuntimeError("strategy bug")

    setup(RAMP, get_signal, start=T0 + 30 * MIN, end=T0 + 33 * MIN)
    run("s")
    with pytest.raises(ConfigError, match="only works inside strategy code"):
        engine.get_date()


# ----- report and dump -------------------------------------------------------------------------

HEADER = (
    "| Signal ID | Symbol | Position | Note | Open Price | Close Price | Take Profit | "
    "Stop Loss | PNL (net) | Close Reason | Duration (min) | Open Time | Close Time |"
)


def two_trades() -> list[Any]:
    rows = replace_bars(
        flat(T0 - 10 * MIN, 100),
        (T0 + 5 * MIN, 100.0, 101.5, 99.5, 99.0, 1.0),  # TP of the first; typical price 100
        bar(T0 + 13 * MIN, 100, low=98.5),  # SL of the second (opened at +6m)
    )
    setup(
        rows,
        once(long_dto(101, 99, note="breakout"), long_dto(101, 99)),
        end=T0 + 30 * MIN,
        name="brk",
    )
    return run("brk")


def test_report_and_dump(tmp_path: Path) -> None:
    results = two_trades()
    assert [(r.close_reason, r.close_timestamp) for r in results] == [
        ("take_profit", T0 + 5 * MIN),
        ("stop_loss", T0 + 13 * MIN),
    ]
    report = engine.Backtest.get_report(SYMBOL, "brk")
    target = engine.Backtest.dump(SYMBOL, "brk", tmp_path / "reports")
    assert Path(target) == tmp_path / "reports" / "brk.md"
    written = (tmp_path / "reports" / "brk.md").read_text(encoding="utf-8")
    assert written == report

    lines = report.splitlines()
    assert lines[0] == "# Backtest Report: brk"
    assert HEADER in lines
    separator = lines[lines.index(HEADER) + 1]
    assert re.fullmatch(r"\|( -{3,} \|){13}", separator), separator
    rows = [line for line in lines if line.startswith("| ") and f"| {SYMBOL} |" in line]
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows]
    assert cells == [
        [
            results[0].signal.id,
            SYMBOL,
            "LONG",
            "breakout",
            "100.00000000 USD",
            "101.00000000 USD",
            "101.00000000 USD",
            "99.00000000 USD",
            "+0.60%",
            "take_profit",
            "5",
            "2024-01-01T00:00:00.000Z",
            "2024-01-01T00:05:00.000Z",
        ],
        [
            results[1].signal.id,
            SYMBOL,
            "LONG",
            "N/A",
            "100.00000000 USD",
            "99.00000000 USD",
            "101.00000000 USD",
            "99.00000000 USD",
            "-1.40%",
            "stop_loss",
            "7",
            "2024-01-01T00:06:00.000Z",
            "2024-01-01T00:13:00.000Z",
        ],
    ]
    for expected in (
        "**Total signals:** 2",
        "**Closed signals:** 2",
        "**Win rate:** 50.00% (1W / 1L) (higher is better)",
        "**Average PNL:** -0.40% (higher is better)",
        "**Total PNL:** -0.80% (higher is better)",
        "**Standard Deviation:** 0.998% (lower is better)",
        "**Sharpe Ratio:** -0.401 (higher is better)",
        "**Annualized Sharpe Ratio:** -7.653 (higher is better)",
        "**Certainty Ratio:** 0.428 (higher is better)",
        "**Expected Yearly Returns:** -35022.50% (higher is better)",
    ):
        assert any(line.endswith(expected) for line in lines), expected
    assert "%+.2f" not in report and "undefined" not in report


def test_dump_creates_missing_directories(tmp_path: Path) -> None:
    two_trades()
    target = tmp_path / "a" / "b"
    engine.Backtest.dump(SYMBOL, "brk", target)
    assert (target / "brk.md").read_text(encoding="utf-8").startswith("# Backtest Report: brk")


def test_empty_run_report_says_no_signals(tmp_path: Path) -> None:
    setup(flat(T0 - 10 * MIN, 50), once(), end=T0 + 20 * MIN, name="quiet")
    assert run("quiet") == []
    report = engine.Backtest.get_report(SYMBOL, "quiet")
    assert report.splitlines()[0] == "# Backtest Report: quiet"
    assert "No signals closed yet." in report
    assert "| Signal ID |" not in report
    engine.Backtest.dump(SYMBOL, "quiet", tmp_path)
    assert (tmp_path / "quiet.md").read_text(encoding="utf-8") == report
    stats = engine.Backtest.get_data(SYMBOL, "quiet")
    assert (stats.total_signals, stats.win_rate, stats.avg_pnl) == (0, None, None)


def test_a_new_run_replaces_the_stored_results() -> None:
    two_trades()
    assert engine.Backtest.get_data(SYMBOL, "brk").total_signals == 2
    run("brk")  # the once() strategy has no signals left
    assert "No signals closed yet." in engine.Backtest.get_report(SYMBOL, "brk")


def test_get_date_is_utc_even_for_frames_given_in_another_zone() -> None:
    from datetime import timedelta, timezone

    seen: list[datetime] = []
    setup(flat(T0 - 10 * MIN, 50), lambda s, w: seen.append(engine.get_date()))
    engine.add_frame(
        frame_name="tz",
        interval="1m",
        start_date=datetime(2024, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=2))),
        end_date=datetime(2024, 1, 1, 2, 1, tzinfo=timezone(timedelta(hours=2))),
    )
    run("s", frame="tz")
    assert seen == [dt(T0), dt(T0 + MIN)]
    assert all(d.utcoffset() == UTC.utcoffset(None) for d in seen)
