"""The engine logs every level with its context: to `logging`'s named loggers, or set_logger's."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

import engine
from tests.engine.helpers import MIN, SYMBOL, T0, flat, long_dto, once, run, setup

pytestmark = pytest.mark.usefixtures("clean_engine")


class Recorder:
    """An upstream-shaped logger: `log`, `debug`, `info`, `warn` of (topic, *context)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, tuple[Any, ...]]] = []

    def log(self, topic: str, *context: Any) -> None:
        self.lines.append(("log", topic, context))

    def debug(self, topic: str, *context: Any) -> None:
        self.lines.append(("debug", topic, context))

    def info(self, topic: str, *context: Any) -> None:
        self.lines.append(("info", topic, context))

    def warn(self, topic: str, *context: Any) -> None:
        self.lines.append(("warn", topic, context))


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    recording = Recorder()
    engine.set_logger(recording)
    yield recording
    engine.set_logger(None)


def raising_once() -> Any:
    """Opens one long, then raises once (a strategy error), then stays idle."""
    dtos = once(long_dto(101.0, 99.0, 30))
    raised: list[bool] = []

    def get_signal(symbol: str, when: Any) -> Any:
        dto = dtos(symbol, when)
        if dto is None and not raised:
            raised.append(True)
            raise RuntimeError("indicator not ready")
        return dto

    return get_signal


def test_a_custom_logger_sees_every_level_with_its_context(
    recorder: Recorder, tmp_path: Any
) -> None:
    setup(flat(T0, 400), raising_once(), start=T0 + 10 * MIN, end=T0 + 200 * MIN)
    (closed,) = run("s")
    engine.Backtest.dump(SYMBOL, "s", tmp_path)
    levels = {level for level, _, _ in recorder.lines}
    assert levels == {"log", "debug", "info", "warn"}
    started = next(c for lvl, t, c in recorder.lines if t == "backtest run started")
    assert started[0]["symbol"] == SYMBOL and started[0]["strategy_name"] == "s"
    assert started[0]["frame_name"] == "f"
    closes = [c[0] for lvl, t, c in recorder.lines if lvl == "debug" and t == "signal closed"]
    assert [c["signal_id"] for c in closes] == [closed.signal.id]
    (warning,) = [(t, c) for lvl, t, c in recorder.lines if lvl == "warn"]
    assert "indicator not ready" in warning[0] and warning[1][0]["call"] == "get_signal"
    finished = next(c for lvl, t, c in recorder.lines if t == "backtest run finished")
    assert finished[0]["closed"] == 1


def test_standard_logging_hears_the_engine_s_named_loggers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    setup(flat(T0, 400), raising_once(), start=T0 + 10 * MIN, end=T0 + 200 * MIN)
    with caplog.at_level(logging.DEBUG, logger="engine"):
        run("s")
    names = {record.name for record in caplog.records}
    assert {"engine.sim.backtest", "engine.sim.strategy", "engine.sim.frame"} <= names
    levels = {record.levelno for record in caplog.records}
    assert {logging.DEBUG, logging.INFO, logging.WARNING} <= levels
    started = next(r for r in caplog.records if r.getMessage().startswith("backtest run started"))
    assert f"symbol={SYMBOL}" in started.getMessage() and "strategy_name=s" in started.getMessage()


def test_a_quiet_logger_level_keeps_debug_lines_out(caplog: pytest.LogCaptureFixture) -> None:
    setup(flat(T0, 400), once(long_dto(101.0, 99.0, 30)), start=T0 + 10 * MIN, end=T0 + 200 * MIN)
    with caplog.at_level(logging.INFO, logger="engine"):
        run("s")
    assert caplog.records and all(r.levelno >= logging.INFO for r in caplog.records)


def test_set_logger_refuses_an_object_without_the_four_levels() -> None:
    class Half:
        def log(self, *args: Any) -> None: ...

    with pytest.raises(TypeError, match="no callable debug"):
        engine.set_logger(Half())  # type: ignore[arg-type]
