"""The `risk` reference scenario: two strategies sharing a one-position risk profile.

See docs/semantics.md#risk.

Only the sequential runs (`risk-seq-*`) are a contract: run one after the other, each
`Backtest.run` starts with a fresh risk profile, so the second strategy never sees the first
one's positions and nothing is rejected. The `risk-par-*` runs are JavaScript event-loop
timing and are not reproduced.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import engine
from engine.core.config import reset_config
from tests.golden import reference as ref

RISK = "one-position-seq"
KINDS = ("bracket", "limit")


@pytest.fixture(autouse=True)
def clean_engine() -> Iterator[None]:
    ref.reset_registries()
    engine.use_profile("backtest-kit-1.4.10")
    yield
    ref.reset_registries()
    reset_config()


class RiskLog:
    """What the validation and the callbacks of the shared risk profile saw."""

    def __init__(self) -> None:
        self.checks: list[dict[str, Any]] = []
        self.verdicts: dict[str, dict[str, int]] = {}

    def validate(self, payload: Any) -> None:
        self.checks.append(
            {
                "riskName": RISK,
                "strategyName": payload.strategy_name,
                "timestamp": payload.timestamp,
                "currentPrice": payload.current_price,
                "activePositionCount": payload.active_position_count,
            }
        )
        if payload.active_position_count >= 1:
            raise ValueError(
                f"risk {RISK}: {payload.active_position_count} active position(s), "
                f"rejecting {payload.strategy_name}"
            )

    def verdict(self, kind: str) -> Any:
        def record(symbol: str, params: Any) -> None:
            counts = self.verdicts.setdefault(params.strategy_name, {"allowed": 0, "rejected": 0})
            counts[kind] += 1

        return record


def run_sequentially(minutes: int) -> tuple[dict[str, list[dict]], dict[str, ref.Recorder], Any]:
    ref.setup(minutes, fast=True)
    log = RiskLog()
    engine.add_risk(
        risk_name=RISK,
        validations=[{"validate": log.validate, "note": "at most one open position"}],
        callbacks={"on_allowed": log.verdict("allowed"), "on_rejected": log.verdict("rejected")},
    )
    recorders = {f"risk-seq-{kind}": ref.Recorder() for kind in KINDS}
    for kind in KINDS:
        name = f"risk-seq-{kind}"
        engine.add_strategy(
            strategy_name=name,
            interval="5m",
            get_signal=ref.make_strategy(kind, recorders[name]),
            risk_name=RISK,
        )
    errors: list[BaseException] = []
    validation: list[BaseException] = []
    off = [engine.listen_error(errors.append), engine.listen_validation(validation.append)]
    try:
        results = {
            name: [
                ref.result_row(r)
                for r in engine.Backtest.run(
                    ref.SYMBOL, strategy_name=name, exchange_name="ref", frame_name="ref"
                )
            ]
            for name in recorders
        }
    finally:
        for unsubscribe in off:
            unsubscribe()
    assert errors == []
    assert validation == []
    return results, recorders, log


@pytest.mark.parametrize(
    "minutes", [4320, pytest.param(43200, marks=pytest.mark.slow)], ids=["3d", "30d"]
)
def test_sequential_runs_sharing_a_risk_profile_reproduce_exactly(minutes: int) -> None:
    golden = ref.golden(f"risk-7-{minutes}")
    runs = {r["strategyName"]: r for r in golden["runs"]}

    results, recorders, log = run_sequentially(minutes)

    for name, ours in results.items():
        run = runs[name]
        assert ours == [ref.golden_row(g) for g in run["results"]], name
        assert ref.statistics_dict(engine.Backtest.get_data(ref.SYMBOL, name)) == run["statistics"]
        calls = run["getSignalCalls"]
        assert len(recorders[name].calls) == calls["count"]
        if "when" in calls:
            assert recorders[name].calls == calls["when"]
    summary = golden["risk"]["summary"]
    assert log.verdicts == {name: summary[name] for name in results}
    if "checks" in golden["risk"]:
        expected = [c for c in golden["risk"]["checks"] if c["riskName"] == RISK]
        assert log.checks == expected


def test_risk_profiles_are_listed_with_their_validations() -> None:
    def no_shorts(payload: Any) -> None:
        if payload.strategy_name.endswith("short"):
            raise ValueError("no shorts")

    engine.add_risk(risk_name="a", validations=[no_shorts], note="functions")
    engine.add_risk(risk_name="b", validations=[{"validate": no_shorts, "note": "mapping"}])

    listed = {r.risk_name: r for r in engine.list_risks()}
    assert list(listed) == ["a", "b"]
    assert listed["a"].note == "functions"
    assert listed["b"].validations[0]["note"] == "mapping"
