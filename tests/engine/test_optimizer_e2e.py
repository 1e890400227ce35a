"""End to end, offline: an optimizer asks a local LLM for strategies, the generated module
runs them through a walker on the demo market, and a recording replays the run.

The scripted server answers free-text requests (get_prompt) with a trading style named
after the source, and signal requests by reading the 1m candles it was sent: MOMENTUM goes
with the last half hour, CONTRARIAN against it, WAITER always answers "wait".
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import engine
from engine.core.loader import load_module
from engine.optimizer import LlmSettings, Optimizer, add_optimizer, fetching, llm_client
from engine.optimizer.blocks import SIGNAL_SYSTEM_PROMPT
from engine.optimizer.registration import optimizers
from engine.sim.parallel import SerialExecutor
from engine.sim.walker import walkers
from tests.engine.helpers import reset_engine
from tests.engine.llm_server import LlmServer, Reply, Seen, error_reply, serve

STYLES = {"momentum": "MOMENTUM", "contrarian": "CONTRARIAN", "waiter": "WAITER"}
TEST_START = datetime(2024, 12, 30, tzinfo=UTC)
TEST_END = datetime(2024, 12, 30, 11, 59, tzinfo=UTC)
SHORT_END = datetime(2024, 12, 30, 5, 59, tzinfo=UTC)
STRATEGIES = ["e2e_strategy-1", "e2e_strategy-2", "e2e_strategy-3"]


def trader(seen: Seen) -> str | Reply:
    """The scripted LLM."""
    messages = seen.messages
    if "format" not in seen.body and "response_format" not in seen.body:
        source = [m for m in messages if m["role"] == "user"][-2]["content"].split()[0]
        return f"{STYLES[source]}: trade the last half hour of 1m candles"
    closes = [float(c) for c in re.findall(r" C:(\S+) ", messages[7]["content"])]
    request = messages[-1]["content"]
    rising = closes[-1] > closes[0]
    if "WAITER" in request:
        position = "wait"
    elif "MOMENTUM" in request:
        position = "long" if rising else "short"
    else:
        position = "short" if rising else "long"
    price = closes[-1]
    up, down = price * 1.01, price * 0.995
    take, stop = (up, down) if position == "long" else (price * 0.99, price * 1.005)
    answer = {
        "position": position,
        "note": f"{position} after {len(closes)} closes",
        "priceOpen": price,
        "priceTakeProfit": take,
        "priceStopLoss": stop,
        "minuteEstimatedTime": 60,
    }
    return json.dumps(answer)


def forget_all() -> None:
    optimizers.clear()
    walkers.clear()
    engine.Walker.clear()
    reset_engine()


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A clean engine and a folder for the generated module (its dump_json writes there).

    Afterwards the generated module is forgotten too, so later walkers do not hand it to
    their worker processes.
    """
    monkeypatch.setattr(fetching, "ITERATION_DELAY", 0.0)
    forget_all()
    yield tmp_path
    for name, module in list(sys.modules.items()):
        if name.startswith("desk_user_") and str(tmp_path) in str(getattr(module, "__file__", "")):
            del sys.modules[name]
    forget_all()


def settings(server: LlmServer, provider: str = "ollama", **kw: object) -> LlmSettings:
    url = server.url if provider == "ollama" else server.openai_url
    return LlmSettings(provider=provider, base_url=url, model="trader-1", **kw)  # type: ignore[arg-type]


def generate(folder: Path, llm: LlmSettings, end: datetime = TEST_END) -> Path:
    """Register the optimizer, dump its module (prompts from the LLM) and load it like the desk.

    The LLM settings are pinned in the module, so the walker's worker processes use them.
    """
    add_optimizer(
        optimizer_name="e2e",
        range_train=[
            {
                "start_date": datetime(2024, 12, 20, tzinfo=UTC),
                "end_date": datetime(2024, 12, 21, tzinfo=UTC),
            }
        ],
        range_test={"start_date": TEST_START, "end_date": end},
        source=[
            {
                "name": name,
                "fetch": lambda args: [],
                "user": lambda symbol, data, name: f"{name} rows of {symbol}",
            }
            for name in STYLES
        ],
        get_prompt=lambda symbol, messages: llm_client(llm).chat(
            [*(m.as_dict() for m in messages), {"role": "user", "content": "Write the strategy"}]
        ),
    )
    file = Optimizer.dump(
        "BTCUSDT", optimizer_name="e2e", path=folder, prefix="e2e", exchange_name="demo", llm=llm
    )
    load_module(file)
    return file


def ranking() -> list[tuple[str, float | None]]:
    """Run the generated walker in this process; return (strategy, sharpe ratio), best first.

    (`python generated.py` in the replay test runs it in a process pool, as the desk does.)
    """
    for _ in engine.Walker.run("BTCUSDT", walker_name="e2e_walker", executor=SerialExecutor()):
        pass
    data = engine.Walker.get_data("BTCUSDT", "e2e_walker")
    return [(row.strategy_name, row.metric_value) for row in data.ranking]


@pytest.mark.parametrize("provider", ["ollama", "openai"])
def test_generated_strategies_run_through_a_walker(desk: Path, provider: str) -> None:
    errors: list[BaseException] = []
    off = engine.listen_error(errors.append)
    try:
        with serve(trader) as server:
            generate(desk, settings(server, provider))
            result = ranking()
    finally:
        off()
    assert result == [
        ("e2e_strategy-2", -0.5959594497897868),
        ("e2e_strategy-1", -0.8037484897346006),
        ("e2e_strategy-3", None),  # WAITER never trades
    ]
    for name, metric in result:
        assert metric == engine.Backtest.get_data("BTCUSDT", name).sharpe_ratio
    assert all(isinstance(e, engine.SignalValidationError) for e in errors)  # levels vs price
    # what the server saw: 3 prompts at generation, then one signal request per decision
    endpoint = "/api/chat" if provider == "ollama" else "/v1/chat/completions"
    assert {(r.method, r.path) for r in server.requests} == {("POST", endpoint)}
    assert all(r.body["model"] == "trader-1" and r.body["stream"] is False for r in server.requests)
    prompts, signals = server.requests[:3], server.requests[3:]
    assert [len(r.messages) for r in prompts] == [3, 5, 7]
    assert len(signals) == 191
    asked = {
        w for r in signals for w in STYLES.values() if f"{w}: trade" in r.messages[-1]["content"]
    }
    assert asked == set(STYLES.values())
    for seen in signals:
        schema = (
            seen.body["format"]
            if provider == "ollama"
            else seen.body["response_format"]["json_schema"]["schema"]
        )
        assert schema["required"] == [
            "position",
            "note",
            "priceOpen",
            "priceTakeProfit",
            "priceStopLoss",
            "minuteEstimatedTime",
        ]
        assert [m["role"] for m in seen.messages] == ["system"] + ["user", "assistant"] * 4 + [
            "user"
        ]
        assert seen.messages[0]["content"] == SIGNAL_SYSTEM_PROMPT
        assert seen.messages[1]["content"].startswith("BTCUSDT\nПроанализируй свечи 1h:\n\n")
        counts = [m["content"].count("\n2024-") for m in seen.messages[1:8:2]]
        assert counts == [24, 24, 24, 30]  # 1h, 15m, 5m, 1m candles
    first_decision = min(signals, key=lambda r: r.messages[7]["content"])
    last_1m = first_decision.messages[7]["content"].split("\n")[-1]
    assert last_1m.startswith("2024-12-29T23:59:00.000Z[1m]: O:")  # closed before 00:00
    assert len(list((desk / "dump" / "strategy").iterdir())) == len(signals)  # dump_json per call


def test_a_recorded_run_replays_identically_without_the_server(desk: Path) -> None:
    records = desk / "records"
    with serve(trader) as server:
        file = generate(desk, settings(server, record_dir=str(records)), SHORT_END)
        first = ranking()
        stats = {name: engine.Backtest.get_data("BTCUSDT", name).total_pnl for name in STRATEGIES}
    assert len(server.requests) == len(list(records.glob("*/*.json"))) > 50
    assert first[0][1] is not None
    # the server is gone: every answer must come from the recording, or errors would follow
    errors: list[BaseException] = []
    off = engine.listen_error(errors.append)
    try:
        assert ranking() == first
    finally:
        off()
    assert {
        name: engine.Backtest.get_data("BTCUSDT", name).total_pnl for name in STRATEGIES
    } == stats
    assert not [e for e in errors if "LLM" in str(e)]
    # and on its own (`python generated.py`: registers, runs the walker in a process pool)
    run = subprocess.run(
        [sys.executable, str(file)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(engine.__file__).parent.parent)},
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert f"## Best Strategy: {first[0][0]}" in run.stdout
    assert "unreachable" not in run.stderr and "Traceback" not in run.stderr
    assert len(list(records.glob("*/*.json"))) == len(server.requests)


FAULTS = {
    "momentum": lambda seen: error_reply(seen, 500, "model crashed"),
    "contrarian": lambda seen: Reply(body={}, delay=1.0),
    "waiter": lambda seen: '{"position": "long", "note": "no prices"}',
}


@pytest.mark.parametrize("provider", ["ollama", "openai"])
def test_llm_failures_end_in_listen_error_and_no_signal(desk: Path, provider: str) -> None:
    def faulty(seen: Seen) -> str | Reply:
        if "format" not in seen.body and "response_format" not in seen.body:
            return trader(seen)
        style = next(s for s, word in STYLES.items() if word in seen.messages[-1]["content"])
        return FAULTS[style](seen)

    errors: list[BaseException] = []
    off = engine.listen_error(errors.append)
    try:
        with serve(faulty) as server:
            generate(
                desk,
                settings(server, provider, timeout=0.3),
                datetime(2024, 12, 30, 0, 14, tzinfo=UTC),
            )
            results = {
                name: list(
                    engine.Backtest.run(
                        "BTCUSDT",
                        strategy_name=name,
                        exchange_name="demo",
                        frame_name="e2e_test_frame",
                    )
                )
                for name in STRATEGIES
            }
    finally:
        off()
    assert results == {name: [] for name in STRATEGIES}
    texts = [str(e) for e in errors]
    assert len(texts) == 9  # three decisions (every 5 minutes) per strategy, each failed
    assert sum("answered 500" in t and "model crashed" in t for t in texts) == 3
    assert sum("did not answer within 0.3 s" in t for t in texts) == 3
    assert sum("breaks the signal schema" in t and "priceOpen" in t for t in texts) == 3
    assert all(isinstance(e, engine.EngineError) for e in errors)


def test_an_unreachable_llm_is_an_error_event_not_a_crash(desk: Path) -> None:
    with serve(trader) as server:
        generate(desk, settings(server), datetime(2024, 12, 30, 0, 4, tzinfo=UTC))
    errors: list[BaseException] = []
    off = engine.listen_error(errors.append)
    try:
        out = list(
            engine.Backtest.run(
                "BTCUSDT",
                strategy_name=STRATEGIES[0],
                exchange_name="demo",
                frame_name="e2e_test_frame",
            )
        )
    finally:
        off()
    assert out == []
    assert len(errors) == 1 and "is unreachable" in str(errors[0])
