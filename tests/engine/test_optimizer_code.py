"""`Optimizer.get_code` / `dump`: the generated module, its golden, templates and checks."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import engine
from engine.core.errors import ConfigError
from engine.core.loader import load_module
from engine.core.registration import frames, strategies
from engine.optimizer import Optimizer, add_optimizer, check_module, fetching
from engine.optimizer.registration import optimizers
from engine.optimizer.templates import literal
from engine.sim.walker import walkers
from tests.engine.helpers import reset_engine

GOLDEN = Path(__file__).parent.parent / "golden" / "optimizer" / "golden_BTCUSDT.py.txt"
TRICKY = 'Стратегия: buy "dips"\nwith \\ backslash, \'\'\' and """ quotes,\n{braces} $vars `ticks`'
NAMES = {
    "exchange": ["test_exchange"],
    "frame": ["test_train_frame-1", "test_train_frame-2", "test_test_frame"],
    "strategy": ["test_strategy-1", "test_strategy-2"],
    "walker": ["test_walker"],
}


@pytest.fixture(autouse=True)
def golden_optimizer(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(fetching, "ITERATION_DELAY", 0.0)
    optimizers.clear()
    reset_engine()
    add_optimizer(
        optimizer_name="golden",
        range_train=[
            {
                "start_date": datetime(2024, 12, 1, tzinfo=UTC),
                "end_date": datetime(2024, 12, 2, tzinfo=UTC),
            },
            {
                "start_date": datetime(2024, 12, 3, tzinfo=UTC),
                "end_date": datetime(2024, 12, 4, tzinfo=UTC),
            },
        ],
        range_test={
            "start_date": datetime(2024, 12, 30, tzinfo=UTC),
            "end_date": datetime(2024, 12, 30, 23, 59, tzinfo=UTC),
        },
        source=[{"name": "candles", "fetch": lambda args: [{"id": 1, "close": 42_000.5}]}],
        get_prompt=lambda symbol, messages: f"{TRICKY} #{len(messages)}",
    )
    yield
    optimizers.clear()
    reset_engine()


def code(**kw: Any) -> str:
    return Optimizer.get_code("BTCUSDT", optimizer_name="golden", **kw)


def test_the_generated_module_matches_its_golden() -> None:
    text = code(prefix="test")
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_it_imports_and_registers_in_a_fresh_process() -> None:
    assert check_module(code(prefix="test")) == NAMES


def test_importing_registers_nothing_the_desk_loader_registers(tmp_path: Path) -> None:
    file = tmp_path / "generated.py"
    file.write_text(code(prefix="test"), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("plain_import", file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert not strategies.has("test_strategy-1") and not frames.has("test_test_frame")
    module = load_module(file)  # what `desk --module generated.py` does
    try:
        assert [s.strategy_name for s in engine.list_strategies()][-2:] == NAMES["strategy"]
        assert frames.has("test_test_frame") and walkers.has("test_walker")
        assert module.register() == NAMES  # idempotent: the desk or a worker may call it again
    finally:
        del sys.modules[module.__name__]  # later walkers must not hand it to their workers
        walkers.remove("test_walker")


def test_the_prompt_survives_as_a_python_literal() -> None:
    for text in (TRICKY, "", "one line", "\n", "a\r\nb", "\udcff lone surrogate"):
        tree = ast.parse(f"x = {literal(text, 8)}")
        value = tree.body[0].value  # type: ignore[attr-defined]
        assert eval(compile(ast.Expression(value), "<literal>", "eval")) == text


def test_an_existing_exchange_replaces_the_ccxt_one() -> None:
    default, demo = code(prefix="p"), code(prefix="p", exchange_name="demo")
    assert "ccxt.binance()" in default and '"exchange_name": "p_exchange"' in default
    assert "ccxt" not in demo and "EXCHANGES.append" not in demo
    assert '"exchange_name": "demo",' in demo  # the walker's


def test_without_a_prefix_every_call_draws_a_new_one() -> None:
    found = {re.search(r'"walker_name": "(\w+)_walker"', code()).group(1) for _ in range(3)}  # type: ignore[union-attr]
    assert len(found) == 3 and all(re.fullmatch(r"[0-9a-z]{5}", p) for p in found)


def small(name: str, **fields: Any) -> None:
    """Register a one-day optimizer with one empty source."""
    day, next_day = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC)
    add_optimizer(
        {
            "optimizer_name": name,
            "range_train": [{"start_date": day, "end_date": day}],
            "rangeTest": {"startDate": next_day, "endDate": next_day},
            "source": [lambda args: []],
            "get_prompt": lambda symbol, messages: "abc",
            **fields,
        }
    )


def test_template_methods_are_overridden_one_by_one() -> None:
    async def strategy(name: str, interval: str, prompt: str) -> str:
        return f"# strategy {name} every {interval}: {len(prompt)} characters"

    banner = lambda symbol: f"# {symbol}\nimport sys"  # noqa: E731
    small("tpl", template={"getStrategyTemplate": strategy, "get_top_banner": banner})
    text = Optimizer.get_code("BTCUSDT", optimizer_name="tpl", prefix="o")
    assert text.startswith("# BTCUSDT\nimport sys\n\n\n")
    assert "# strategy o_strategy-1 every 5m: 3 characters" in text
    assert "def json_signal(" in text  # the rest stays default


def test_code_that_does_not_parse_or_import_is_never_written(tmp_path: Path) -> None:
    small("bad", template={"get_launcher_template": lambda symbol, walker: "def ("})
    with pytest.raises(
        ConfigError, match=r"optimizer bad: the generated code does not parse: line \d+"
    ):
        Optimizer.dump("BTCUSDT", optimizer_name="bad", path=tmp_path)
    small("boom", template={"get_launcher_template": lambda s, w: "raise RuntimeError('boom')"})
    with pytest.raises(ConfigError, match="failed its import check: RuntimeError: boom"):
        Optimizer.dump("BTCUSDT", optimizer_name="boom", path=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_dump_writes_a_checked_module_and_calls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, Any]] = []
    small(
        "cb",
        callbacks={
            "on_code": lambda symbol, text: calls.append(("code", (symbol, len(text)))),
            "on_dump": lambda symbol, path: calls.append(("dump", (symbol, path))),
        },
    )
    monkeypatch.chdir(tmp_path)
    file = Optimizer.dump("BTC/USDT", optimizer_name="cb", path="out/gen", prefix="d")
    assert file == tmp_path / "out" / "gen" / "cb_BTC_USDT.py"
    text = file.read_text(encoding="utf-8")
    assert text == Optimizer.get_code("BTC/USDT", optimizer_name="cb", prefix="d")
    assert calls[:2] == [("code", ("BTC/USDT", len(text))), ("dump", ("BTC/USDT", str(file)))]
    absolute = Optimizer.dump("ETHUSDT", optimizer_name="cb", path=tmp_path / "abs", prefix="d")
    assert absolute == tmp_path / "abs" / "cb_ETHUSDT.py"  # absolute paths are honoured


def test_get_code_reruns_get_data_unless_given_strategies() -> None:
    events: list[Any] = []
    off = engine.listen_optimizer_progress(events.append)
    try:
        data = Optimizer.get_data("BTCUSDT", optimizer_name="golden")
        code(prefix="a")
        code(prefix="a", strategies=data)
    finally:
        off()
    assert len(events) == 2 * 3  # two get_data runs of 2 steps + the final event each
