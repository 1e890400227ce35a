"""With the backtest-kit-1.4.10 profile the reference runs reproduce exactly.

See docs/semantics.md#golden.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import engine
from engine.core.config import reset_config
from tests.golden import reference as ref

CASES = [
    pytest.param(kind, minutes, marks=[pytest.mark.slow] if minutes == 43200 else [])
    for kind in ("bracket", "limit", "wide")
    for minutes in (4320, 43200)
]


@pytest.fixture(autouse=True)
def clean_engine() -> Iterator[None]:
    ref.reset_registries()
    engine.use_profile("backtest-kit-1.4.10")
    yield
    ref.reset_registries()
    reset_config()


def run_reference(kind: str, minutes: int, fast: bool) -> tuple[list[dict], ref.Recorder]:
    recorder = ref.Recorder()
    unsubscribe = [
        engine.listen_error(recorder.errors.append),
        engine.listen_validation(recorder.validation.append),
        engine.listen_partial_profit(lambda e: recorder.partial.append(("profit", e))),
        engine.listen_partial_loss(lambda e: recorder.partial.append(("loss", e))),
    ]
    try:
        ref.setup(minutes, fast)
        engine.add_strategy(
            strategy_name=kind,
            interval=ref.INTERVALS[kind],
            get_signal=ref.make_strategy(kind, recorder),
        )
        results = [
            ref.result_row(r)
            for r in engine.Backtest.run(
                ref.SYMBOL, strategy_name=kind, exchange_name="ref", frame_name="ref"
            )
        ]
    finally:
        for off in unsubscribe:
            off()
    return results, recorder


@pytest.mark.parametrize(("kind", "minutes"), CASES)
def test_reference_run_reproduces_exactly(kind: str, minutes: int) -> None:
    golden = ref.golden(f"{kind}-7-{minutes}")
    run = golden["runs"][0]

    results, recorder = run_reference(kind, minutes, fast=True)

    assert len(results) == len(run["results"])
    for i, (ours, theirs) in enumerate(zip(results, run["results"], strict=True)):
        assert ours == ref.golden_row(theirs), f"result {i} differs"
    assert recorder.calls == run["getSignalCalls"]["when"]
    assert len(recorder.calls) == run["getSignalCalls"]["count"]
    stats = engine.Backtest.get_data(ref.SYMBOL, kind)
    assert ref.statistics_dict(stats) == run["statistics"]
    partial = [
        {
            "action": action,
            "position": e.data.position,
            "level": e.level,
            "currentPrice": e.current_price,
            "timestamp": e.timestamp,
            "backtest": e.backtest,
        }
        for action, e in recorder.partial
    ]
    expected_partial = [
        {k: e[k] for k in ("action", "position", "level", "currentPrice", "timestamp", "backtest")}
        for e in golden["partial"].get("events", [])
    ]
    assert partial == expected_partial
    assert len(partial) == golden["partial"]["totalEvents"]
    assert [str(e) for e in recorder.errors] == golden["errors"]["first"]
    assert len(recorder.errors) == golden["errors"]["count"]
    assert recorder.validation == []


@pytest.mark.parametrize("kind", ["bracket", "limit", "wide"])
def test_generic_exchange_path_matches_the_columnar_store(kind: str) -> None:
    """A user exchange that only implements get_candles gives the same golden results."""
    golden = ref.golden(f"{kind}-7-4320")
    results, recorder = run_reference(kind, 4320, fast=False)
    assert results == [ref.golden_row(r) for r in golden["runs"][0]["results"]]
    assert recorder.calls == golden["runs"][0]["getSignalCalls"]["when"]
