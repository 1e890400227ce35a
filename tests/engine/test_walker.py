"""The walker: strategies ranked by a metric, serial or on any executor (docs/walker.md)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

import pytest

import engine
from engine import ConfigError, SerialExecutor
from engine.core.loader import load_module
from engine.sim.parallel import WorkerSetup, batches
from engine.sim.walker import NO_DATA, walkers
from engine.strategies import bracket, register_builtin_strategies
from tests.engine.helpers import reset_engine
from tui.cli import _parser, walker_command

FRAME = "demo-7d"


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    reset_engine()
    yield
    reset_engine()
    for schema in walkers.list():
        walkers.remove(schema.walker_name or "")
    engine.Walker.clear()
    for name in [n for n in sys.modules if n.startswith("desk_user_")]:
        del sys.modules[name]


def never(symbol: str, when: Any) -> None:
    return None


def register(*names: str, metric: str | None = None, **fields: Any) -> None:
    """Walker `w` over `names`: bracket, limit, sma_rsi, copies of bracket, or `idle`."""
    register_builtin_strategies()
    for name in names:
        if name.startswith("copy"):
            engine.add_strategy({**bracket.SCHEMA, "strategy_name": name})
        elif name == "idle":
            engine.add_strategy(strategy_name="idle", interval="5m", get_signal=never)
    engine.add_walker(
        walker_name="w",
        exchange_name="demo",
        frame_name=FRAME,
        strategies=list(names),
        metric=metric,
        **fields,
    )


# ----- registration (docs/semantics.md#registration) -------------------------------------------


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"exchange_name": "demo", "frame_name": FRAME, "strategies": ["a"]}, "missing walkerName"),
        ({"walker_name": "w", "frame_name": FRAME, "strategies": ["a"]}, "missing exchangeName"),
        ({"walker_name": "w", "exchange_name": "demo", "strategies": ["a"]}, "missing frameName"),
        (
            {"walker_name": "w", "exchange_name": "demo", "frame_name": FRAME, "strategies": "a"},
            "strategies must be an array",
        ),
        (
            {"walker_name": "w", "exchange_name": "demo", "frame_name": FRAME, "strategies": []},
            "strategies array cannot be empty",
        ),
    ],
)
def test_invalid_walker_schemas_raise_the_upstream_texts(fields: dict, text: str) -> None:
    with pytest.raises(ConfigError) as info:
        engine.add_walker(**fields)
    suffix = "" if text == "missing walkerName" else " for walkerName=w"
    assert str(info.value) == f"walker schema validation failed: {text}{suffix}"


def test_walkers_are_listed_and_accept_upstream_camel_case() -> None:
    engine.add_walker(
        {
            "walkerName": "js",
            "exchangeName": "demo",
            "frameName": FRAME,
            "strategies": ["bracket"],
            "metric": "totalPnl",
        }
    )
    with pytest.raises(ConfigError, match="walker js already exist"):
        engine.add_walker(
            walker_name="js", exchange_name="demo", frame_name=FRAME, strategies=["a"]
        )
    with pytest.raises(ConfigError, match="metric 'sharpe' is unknown; use one of sharpe_ratio"):
        engine.add_walker(
            walker_name="x",
            exchange_name="demo",
            frame_name=FRAME,
            strategies=["a"],
            metric="sharpe",
        )
    assert [w.walker_name for w in engine.list_walkers()] == ["js"]
    assert engine.list_walkers()[0].metric_name == "total_pnl"


def test_names_are_checked_before_anything_runs() -> None:
    register("bracket", "nope")
    with pytest.raises(ConfigError, match=r"strategy nope not found source=Walker\.run"):
        engine.Walker.run("BTCUSDT", walker_name="w")
    with pytest.raises(ConfigError, match=r"walker v not found source=Walker\.run"):
        engine.Walker.run("BTCUSDT", {"walkerName": "v"})


# ----- results ------------------------------------------------------------------------------


def test_rows_come_strategy_by_strategy_and_the_best_is_the_highest_metric() -> None:
    register("bracket", "limit", "sma_rsi")
    rows = list(engine.Walker.run("BTCUSDT", walker_name="w", executor=SerialExecutor()))

    assert [r.strategy_name for r in rows] == ["bracket", "limit", "sma_rsi"]
    assert [r.strategies_tested for r in rows] == [1, 2, 3]
    for i, row in enumerate(rows):
        stats = engine.Backtest.get_data("BTCUSDT", row.strategy_name)
        assert row.stats == stats
        assert row.metric_value == stats.sharpe_ratio
        so_far = rows[: i + 1]
        best = max(so_far, key=lambda r: r.metric_value)
        assert (row.best_strategy, row.best_metric) == (best.strategy_name, best.metric_value)
    results = engine.Walker.get_data("BTCUSDT", "w")
    assert results.best_strategy == rows[-1].best_strategy
    assert results.best_stats == engine.Backtest.get_data("BTCUSDT", results.best_strategy)
    assert [r.rank for r in results.ranking] == [1, 2, 3]
    metrics = [r.metric_value for r in results.ranking]
    assert metrics == sorted(metrics, reverse=True)
    assert results.ranking[0].strategy_name == results.best_strategy


def test_ties_go_to_the_first_strategy_and_undefined_metrics_rank_last() -> None:
    register("idle", "copy-a", "copy-b", metric="total_pnl")
    rows = list(engine.Walker.run("BTCUSDT", walker_name="w", executor=SerialExecutor()))

    assert rows[0].metric_value is None and rows[0].best_strategy is None
    assert rows[1].metric_value == rows[2].metric_value is not None
    assert rows[2].best_strategy == "copy-a"
    results = engine.Walker.get_data("BTCUSDT", "w")
    assert [r.strategy_name for r in results.ranking] == ["copy-a", "copy-b", "idle"]
    assert results.best_strategy == "copy-a"
    assert results.metric == "total_pnl"


def test_get_data_raises_the_upstream_text_before_any_result() -> None:
    register("bracket")
    with pytest.raises(ConfigError) as info:
        engine.Walker.get_data("BTCUSDT", "w")
    assert str(info.value) == NO_DATA == "No walker data available - no results added yet"
    with pytest.raises(ConfigError, match="walker v not found"):
        engine.Walker.get_data("BTCUSDT", "v")


def test_events_and_callbacks_follow_each_strategy(tmp_path: Path) -> None:
    calls: list[tuple] = []
    register(
        "bracket",
        "limit",
        callbacks={
            "on_strategy_start": lambda name, symbol: calls.append(("start", name)),
            "on_strategy_complete": lambda name, symbol, stats, value: calls.append(
                ("complete", name, value)
            ),
            "on_complete": lambda results: calls.append(("done", results.best_strategy)),
        },
    )
    seen: dict[str, list[Any]] = {
        "rows": [],
        "progress": [],
        "complete": [],
        "done": [],
        "once": [],
    }
    off = [
        engine.listen_walker(seen["rows"].append),
        engine.listen_walker_progress(seen["progress"].append),
        engine.listen_walker_complete(seen["complete"].append),
        engine.listen_done_walker(seen["done"].append),
        engine.listen_walker_once(lambda r: r.strategy_name == "limit", seen["once"].append),
    ]
    finished = threading.Event()
    off.append(engine.listen_done_walker_once(lambda d: True, lambda d: finished.set()))
    try:
        engine.Walker.background("BTCUSDT", walker_name="w", executor=SerialExecutor())
        assert finished.wait(60)
    finally:
        for unsubscribe in off:
            unsubscribe()

    rows = seen["rows"]
    assert [r.strategy_name for r in rows] == ["bracket", "limit"]
    assert seen["once"] == [rows[1]]
    assert [(p.processed_strategies, p.progress) for p in seen["progress"]] == [(1, 0.5), (2, 1.0)]
    results = engine.Walker.get_data("BTCUSDT", "w")
    assert seen["complete"] == [results]
    assert [(d.strategy_name, d.exchange_name, d.backtest) for d in seen["done"]] == [
        ("w", "demo", True)
    ]
    assert calls == [
        ("start", "bracket"),
        ("complete", "bracket", rows[0].metric_value),
        ("start", "limit"),
        ("complete", "limit", rows[1].metric_value),
        ("done", results.best_strategy),
    ]


class FailingFor(Executor):
    """Runs jobs in this thread, except that the job of one strategy fails (a crashed worker)."""

    def __init__(self, strategy: str) -> None:
        self.strategy = strategy

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        if self.strategy in args[0].strategy_names:
            future.set_exception(RuntimeError("worker died"))
        else:
            future.set_result(fn(*args, **kwargs))
        return future


def test_a_strategy_whose_backtest_fails_is_skipped_and_reported() -> None:
    failed: list[tuple] = []
    register(
        "bracket",
        "limit",
        callbacks={"on_strategy_error": lambda name, symbol, exc: failed.append((name, str(exc)))},
    )
    errors: list[BaseException] = []
    off = engine.listen_error(errors.append)
    try:
        rows = list(engine.Walker.run("BTCUSDT", walker_name="w", executor=FailingFor("bracket")))
    finally:
        off()
    assert [r.strategy_name for r in rows] == ["limit"]
    assert failed == [("bracket", "worker died")]
    assert [str(e) for e in errors] == ["worker died"]
    assert [r.strategy_name for r in engine.Walker.get_data("BTCUSDT", "w").ranking] == ["limit"]


def test_the_report_ranks_every_strategy_and_dumps_to_disk(tmp_path: Path) -> None:
    register("bracket", "limit", "sma_rsi", metric="win_rate")
    list(engine.Walker.run("BTCUSDT", walker_name="w", executor=SerialExecutor()))
    results = engine.Walker.get_data("BTCUSDT", "w")

    report = engine.Walker.get_report("BTCUSDT", "w")
    assert report.startswith("# Walker Comparison Report: w\n")
    assert "- **Optimization Metric:** win_rate" in report
    assert f"## Best Strategy: {results.best_strategy}" in report
    assert "| Rank | Strategy | win_rate | Trades | Win Rate | Total PNL | Sharpe |" in report
    best = results.ranking[0]
    assert (
        f"| 1 | {best.strategy_name} | {best.metric_value:.3f} | {best.stats.total_signals} |"
        in (report)
    )
    path = engine.Walker.dump("BTCUSDT", "w", tmp_path / "reports")
    assert path == tmp_path / "reports" / "w.md"
    assert path.read_text() == report


# ----- parallel: the same jobs on any executor --------------------------------------------

USER_MODULE = """
import engine
from engine.strategies import bracket

def one_position(payload):
    if payload.active_position_count >= 1:
        raise ValueError("one position at a time")

def broken(symbol, when):
    if when.hour % 6 == 0:
        raise ValueError("no data at " + when.isoformat())

engine.add_risk(risk_name="user-one", validations=[one_position])
engine.add_strategy({**bracket.SCHEMA, "strategy_name": "user-bracket"}, risk_name="user-one")
engine.add_strategy(strategy_name="user-broken", interval="1h", get_signal=broken)
"""


def user_module(folder: Path) -> Path:
    path = folder / "user_strategies.py"
    path.write_text(textwrap.dedent(USER_MODULE))
    load_module(path)
    return path


def walk_in_a_thread(symbols: list[str]) -> list[Any]:
    """Run the walker from a worker thread, as the desk does (the pool cannot fork then)."""
    rows: list[Any] = []
    thread = threading.Thread(
        target=lambda: rows.extend(engine.Walker.run_symbols(symbols, walker_name="w"))
    )
    thread.start()
    thread.join(120)
    return rows


@pytest.mark.parametrize("caller", ["main thread", "worker thread"])
def test_a_process_pool_gives_exactly_the_serial_results(tmp_path: Path, caller: str) -> None:
    user_module(tmp_path)  # fresh workers load it: modules loaded with load_module are passed on
    register("user-bracket", "limit", "sma_rsi", "user-broken")
    symbols = ["BTCUSDT", "ETHUSDT"]
    errors: list[BaseException] = []
    off = engine.listen_error(errors.append)
    try:
        serial = list(
            engine.Walker.run_symbols(symbols, walker_name="w", executor=SerialExecutor())
        )
        serial_errors = [str(e) for e in errors]
        serial_results = [engine.Walker.get_data(s, "w") for s in symbols]
        engine.Backtest.clear()
        errors.clear()
        if caller == "main thread":
            parallel = list(engine.Walker.run_symbols(symbols, walker_name="w"))
        else:
            parallel = walk_in_a_thread(symbols)
    finally:
        off()

    assert parallel == serial
    assert sorted(str(e) for e in errors) == sorted(serial_errors)  # re-emitted from workers
    assert len(serial_errors) == 2 * 7 * 4 and "no data at" in serial_errors[0]
    assert [engine.Walker.get_data(s, "w") for s in symbols] == serial_results
    for row in serial:  # recorded in this process for Backtest.get_data and reports
        assert engine.Backtest.get_data(row.symbol, row.strategy_name) == row.stats


def test_a_worker_missing_a_registration_explains_how_to_provide_it(tmp_path: Path) -> None:
    module = user_module(tmp_path)
    elsewhere = WorkerSetup("default", (), (str(module),), origin="another process")
    for name in [n for n in sys.modules if n.startswith("desk_user_")]:
        del sys.modules[name]
    reset_engine()  # a fresh process: none of the module's names are registered

    elsewhere.prepare(["user-bracket"], "demo", FRAME)  # loads the module, once
    elsewhere.prepare(["user-bracket"], "demo", FRAME)
    assert engine.list_risks()[0].risk_name == "user-one"
    with pytest.raises(ConfigError, match="exchange mine not found in a worker process"):
        elsewhere.prepare(["user-bracket"], "mine", FRAME)


def test_the_same_code_runs_unchanged_on_a_dask_cluster(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    module = user_module(tmp_path)
    register("user-bracket", "limit")
    symbols = ["BTCUSDT", "ETHUSDT"]
    serial = list(engine.Walker.run_symbols(symbols, walker_name="w", executor=SerialExecutor()))
    portfolio_args = (symbols, ["user-bracket", "limit"])
    names = {"exchange_name": "demo", "frame_name": FRAME}
    serial_portfolio = list(
        engine.Backtest.run_portfolio(*portfolio_args, **names, executor=SerialExecutor())
    )

    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=2, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        executor = client.get_executor()
        on_dask = list(engine.Walker.run_symbols(symbols, walker_name="w", executor=executor))
        portfolio_on_dask = list(
            engine.Backtest.run_portfolio(
                *portfolio_args, **names, executor=executor, modules=[module]
            )
        )

    assert on_dask == serial
    assert portfolio_on_dask == serial_portfolio


# ----- desk walker ------------------------------------------------------------------------


def desk_walker(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = walker_command(_parser().parse_args(["walker", *argv]), out, err)
    return code, out.getvalue(), err.getvalue()


def test_desk_walker_prints_a_ranking_per_symbol() -> None:
    code, out, err = desk_walker(
        "--strategies",
        "bracket,limit",
        "--symbols",
        "BTCUSDT,ETHUSDT",
        "--frame",
        FRAME,
        "--serial",
    )
    assert code == 0, err
    assert "desk on BTCUSDT · frame demo-7d · metric sharpe_ratio · profile default" in out
    assert "desk on ETHUSDT" in out
    header = out.splitlines()[1].split()
    expected = "rank strategy sharpe_ratio trades win rate total PnL Sharpe"
    assert header == expected.split()
    best = engine.Walker.get_data("ETHUSDT", "desk").best_strategy
    assert f"  best: {best}" in out
    assert "4 backtests one by one in this process" in out


def test_desk_walker_json_matches_the_walker() -> None:
    code, out, _ = desk_walker("--frame", FRAME, "--metric", "total_pnl", "--json", "--serial")
    assert code == 0
    payload = json.loads(out)
    results = engine.Walker.get_data("BTCUSDT", "desk")
    assert payload["metric"] == "total_pnl"
    [symbol] = payload["symbols"]
    assert symbol["best_strategy"] == results.best_strategy
    assert [r["strategy"] for r in symbol["ranking"]] == [r.strategy_name for r in results.ranking]
    assert [r["trades"] for r in symbol["ranking"]] == [
        r.stats.total_signals for r in results.ranking
    ]
    assert {r["strategy"] for r in symbol["ranking"]} == {"bracket", "limit", "sma_rsi"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--strategies", "bracket,nope"], "error: strategy nope not found source=Walker.run"),
        (["--metric", "sharpe"], "metric 'sharpe' is unknown"),
        (["--walker", "mine", "--frame", FRAME], "--walker takes its settings from the walker"),
    ],
)
def test_desk_walker_explains_bad_input_without_a_traceback(argv: list[str], message: str) -> None:
    code, out, err = desk_walker(*argv, "--serial")
    assert code == 1
    assert message in err
    assert "Traceback" not in err and out == ""


def test_desk_walker_in_parallel_prints_what_the_serial_run_prints() -> None:
    argv = ["walker", "--frame", FRAME, "--strategies", "bracket,limit", "--symbols"]
    argv += ["BTCUSDT,ETHUSDT", "--json"]
    run = subprocess.run(
        [sys.executable, "-m", "tui.cli", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    code, serial, _ = desk_walker(*argv[1:], "--serial")
    assert code == 0
    assert json.loads(run.stdout)["symbols"] == json.loads(serial)["symbols"]


@pytest.mark.parametrize(
    ("symbols", "workers", "jobs"),
    [(1, 0, 4), (1, 2, 4), (2, 2, 4), (4, 2, 4), (8, 2, 8), (3, 4, 9)],
)
def test_jobs_cover_every_pair_once_and_group_a_symbol_when_a_pool_is_known(
    symbols: int, workers: int, jobs: int
) -> None:
    names = ["a", "b", "c", "d"]
    syms = [f"S{i}" for i in range(symbols)]
    planned = batches(syms, names, workers)
    pairs = [(symbol, name) for symbol, chunk in planned for name in chunk]
    assert sorted(pairs) == sorted((s, n) for s in syms for n in names)
    assert len(planned) == jobs
