"""`Optimizer.get_data`: 1.4.10's algorithm as a user sees it (docs/optimizer.md#get-data)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

import engine
from engine.core.errors import ConfigError, DataError, EngineError
from engine.optimizer import Optimizer, add_optimizer, fetching, list_optimizers
from engine.optimizer.registration import optimizers
from engine.optimizer.schema import FetchArgs, Message
from tests.engine.helpers import reset_engine

D1 = datetime(2024, 1, 1, tzinfo=UTC)
D2 = datetime(2024, 1, 2, tzinfo=UTC)
D3 = datetime(2024, 1, 3, tzinfo=UTC)
TEST = {
    "start_date": datetime(2024, 1, 5, tzinfo=UTC),
    "end_date": datetime(2024, 1, 6, tzinfo=UTC),
}


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(fetching, "ITERATION_DELAY", 0.0)
    optimizers.clear()
    reset_engine()
    yield
    optimizers.clear()
    reset_engine()


def rows_source(rows: list[dict[str, Any]], offsets: list[int]) -> Callable[[FetchArgs], Any]:
    def fetch(args: FetchArgs) -> list[dict[str, Any]]:
        offsets.append(args.offset)
        assert args.limit == 25
        return rows[args.offset : args.offset + args.limit]

    return fetch


def register(**fields: Any) -> None:
    schema: dict[str, Any] = {
        "optimizer_name": "opt",
        "range_train": [{"start_date": D1, "end_date": D2}],
        "range_test": TEST,
        "source": [lambda args: []],
        "get_prompt": lambda symbol, messages: "buy low",
    }
    add_optimizer({**schema, **fields})


def data(**kw: Any) -> tuple[Any, ...]:
    return Optimizer.get_data("BTCUSDT", optimizer_name="opt", **kw)


# ----- pagination and dedup --------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "offsets"),
    [(60, [0, 25, 50]), (25, [0, 25]), (50, [0, 25, 50]), (0, [0]), (24, [0])],
)
def test_pages_of_25_until_a_short_page(count: int, offsets: list[int]) -> None:
    seen: list[int] = []
    rows = [{"id": i} for i in range(count)]
    register(source=[rows_source(rows, seen)])
    (strategy,) = data()
    assert seen == offsets
    assert strategy.messages[0].content.endswith(engine.optimizer.jsjson.stringify(rows))


def test_a_page_over_25_rows_is_upstreams_error() -> None:
    register(source=[lambda args: [{"id": i} for i in range(26)]])
    with pytest.raises(DataError, match=r"^functool-kit iterateDocuments response\.length > limit"):
        data()


def test_a_source_that_returns_no_list_is_explained() -> None:
    register(source=[{"name": "news", "fetch": lambda args: None}])
    with pytest.raises(DataError, match="source news fetch returned NoneType for offset 0"):
        data()


def test_at_most_10000_rows_per_source_and_range() -> None:
    seen: list[int] = []
    register(
        source=[
            lambda args: seen.append(args.offset) or [{"id": args.offset + i} for i in range(25)]
        ]
    )
    (strategy,) = data()
    assert len(seen) == 400 and seen[-1] == 9975
    assert strategy.messages[0].content.count('"id"') == 10_000


def test_rows_are_deduplicated_by_id_first_wins_across_pages() -> None:
    rows = [{"id": i % 55, "page": i // 25} for i in range(60)]
    rows += [{"id": "1", "page": "str"}]  # a string id differs from the number 1 (JS Set)
    register(source=[rows_source(rows, [])])
    got: list[Any] = []
    register(
        optimizer_name="opt2",
        source=[rows_source(rows, [])],
        callbacks={"on_source_data": lambda s, n, d, a, b: got.extend(d)},
    )
    Optimizer.get_data("BTCUSDT", optimizer_name="opt2")
    assert [r["id"] for r in got] == [*range(55), "1"]
    assert got[5] == {"id": 5, "page": 0}  # the copy on page 2 (i = 60) was dropped


def test_each_page_takes_at_least_the_iteration_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetching, "ITERATION_DELAY", 0.05)
    rows = [{"id": i} for i in range(30)]
    register(source=[rows_source(rows, [])])
    started = datetime.now()
    data()
    assert (datetime.now() - started).total_seconds() >= 0.1  # two pages


# ----- conversation, prompts, names -------------------------------------------------------


def test_one_strategy_per_range_and_source_and_get_prompt_sees_the_growing_history() -> None:
    sizes: list[int] = []

    def get_prompt(symbol: str, messages: tuple[Message, ...]) -> str:
        sizes.append(len(messages))
        return f"{symbol} strategy after {len(messages)} messages"

    sources = [{"name": f"s{i}", "fetch": lambda args: [{"id": 1}]} for i in range(3)]
    register(
        range_train=[{"start_date": D1, "end_date": D2}, {"start_date": D2, "end_date": D3}],
        source=sources,
        get_prompt=get_prompt,
    )
    result = data()
    assert sizes == [2, 4, 6, 2, 4, 6]
    assert [s.name for s in result] == ["s0", "s1", "s2"] * 2
    assert [s.strategy for s in result][:2] == [
        "BTCUSDT strategy after 2 messages",
        "BTCUSDT strategy after 4 messages",
    ]
    assert [m.role for m in result[2].messages] == ["user", "assistant"] * 3
    # default profile: each strategy keeps what its get_prompt saw
    assert [len(s.messages) for s in result] == [2, 4, 6, 2, 4, 6]
    # backtest-kit-1.4.10: the range's whole conversation, as upstream's shared list shows
    legacy = data(profile="backtest-kit-1.4.10")
    assert [len(s.messages) for s in legacy] == [6, 6, 6, 6, 6, 6]
    assert legacy[0].messages == legacy[2].messages == result[2].messages


def test_default_messages_and_source_formatters() -> None:
    rows = [{"id": 1, "t": datetime(2024, 1, 1, tzinfo=UTC), "x": 1.0, "s": 'é"', "n": None}]
    register(
        source=[
            lambda args: rows,
            {
                "name": "news",
                "fetch": lambda args: rows,
                "user": lambda symbol, data, name: f"{name}: {len(data)} rows of {symbol}",
                "assistant": lambda symbol, data, name: "read",
            },
        ]
    )
    first, second = data()
    assert first.messages[0] == Message(
        "user",
        "Прочитай данные и скажи ОК\n\n"
        '[{"id":1,"t":"2024-01-01T00:00:00.000Z","x":1,"s":"é\\"","n":null}]',
    )
    assert first.messages[1] == Message("assistant", "ОК")
    assert second.messages[2:] == (
        Message("user", "news: 1 rows of BTCUSDT"),
        Message("assistant", "read"),
    )


def test_name_rules_for_function_and_object_sources() -> None:
    seen: list[str] = []

    def named_fetch(args: FetchArgs) -> list[Any]:
        return []

    register(
        source=[named_fetch, lambda args: [], {"name": "", "fetch": lambda args: []}],
        callbacks={"on_source_data": lambda symbol, name, *rest: seen.append(name)},
    )
    assert [s.name for s in data()] == ["named_fetch", "unknown", "unknown"]
    assert seen == ["unknown", "unknown", "unknown"]


def test_async_sources_formatters_and_prompt_are_awaited() -> None:
    async def fetch(args: FetchArgs) -> list[Any]:
        await asyncio.sleep(0)
        return [{"id": args.symbol}]

    async def get_prompt(symbol: str, messages: Any) -> int:
        return 42

    register(source=[{"name": "a", "fetch": fetch, "assistant": _async_ok}], get_prompt=get_prompt)
    (strategy,) = data()
    assert strategy.strategy == "42"
    assert strategy.messages[1].content == "async ok"
    assert '"id":"BTCUSDT"' in strategy.messages[0].content


async def _async_ok(symbol: str, data: Any, name: str) -> str:
    return "async ok"


# ----- progress and callbacks --------------------------------------------------------------


def test_progress_before_each_step_and_once_at_the_end() -> None:
    events: list[Any] = []
    off = engine.listen_optimizer_progress(events.append)
    try:
        register(
            range_train=[{"start_date": D1, "end_date": D2}, {"start_date": D2, "end_date": D3}],
            source=[lambda a: [], lambda a: [], lambda a: []],
        )
        data()
    finally:
        off()
    assert [e.processed_sources for e in events] == [0, 1, 2, 3, 4, 5, 6]
    assert [e.progress for e in events] == [0, 1 / 6, 2 / 6, 0.5, 4 / 6, 5 / 6, 1.0]
    assert {(e.optimizer_name, e.symbol, e.total_sources) for e in events} == {
        ("opt", "BTCUSDT", 6)
    }


def test_callbacks_run_in_upstreams_order() -> None:
    log: list[str] = []

    def fetch(args: FetchArgs) -> list[Any]:
        log.append(f"fetch {args.offset}")
        return []

    register(
        source=[
            {
                "name": "a",
                "fetch": fetch,
                "user": lambda *a: log.append("user") or "u",
                "assistant": lambda *a: log.append("assistant") or "a",
            }
        ],
        get_prompt=lambda s, m: log.append("get_prompt") or "p",
        callbacks={
            "on_source_data": lambda s, name, d, start, end: log.append(
                f"on_source_data {name} {start:%d}-{end:%d}"
            ),
            "on_data": lambda s, strategies: log.append(f"on_data {len(strategies)}"),
        },
    )
    off = engine.listen_optimizer_progress(lambda e: log.append(f"progress {e.progress}"))
    try:
        data()
    finally:
        off()
    assert log == [
        "progress 0.0",
        "fetch 0",
        "on_source_data a 01-02",
        "user",
        "assistant",
        "get_prompt",
        "progress 1.0",
        "on_data 1",
    ]


def test_a_failing_listener_is_reported_and_does_not_abort() -> None:
    errors: list[BaseException] = []
    offs = [
        engine.listen_error(errors.append),
        engine.listen_optimizer_progress(lambda e: 1 / 0),
    ]
    try:
        register()
        assert len(data()) == 1
    finally:
        for off in offs:
            off()
    assert len(errors) == 2 and all(isinstance(e, ZeroDivisionError) for e in errors)


def test_user_code_errors_abort_and_name_the_step() -> None:
    def fetch(args: FetchArgs) -> list[Any]:
        raise TimeoutError("feed down")

    register(source=[{"name": "news", "fetch": fetch}])
    with pytest.raises(
        EngineError, match="optimizer opt: source news fetch raised TimeoutError: feed down"
    ):
        data()
    register(optimizer_name="p2", get_prompt=lambda s, m: {}["missing"])
    with pytest.raises(EngineError, match="get_prompt raised KeyError"):
        Optimizer.get_data("BTCUSDT", optimizer_name="p2")


# ----- registration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"optimizer_name": ""}, "optimizer template validation failed: missing optimizerName"),
        (
            {"range_train": []},
            "optimizer template validation failed: rangeTrain must be a non-empty array for "
            "optimizerName=opt",
        ),
        (
            {"source": "news"},
            "optimizer template validation failed: source must be a non-empty array for "
            "optimizerName=opt",
        ),
        (
            {"get_prompt": "buy"},
            "optimizer template validation failed: getPrompt must be a function for "
            "optimizerName=opt",
        ),
        ({"range_test": None}, "rangeTest must be a range with startDate and endDate"),
        (
            {"range_train": [{"start_date": D2, "end_date": D1}]},
            "rangeTrain[0] ends before it starts",
        ),
        (
            {"range_train": [{"start_date": datetime(2024, 1, 1), "end_date": D1}]},
            "has no timezone",
        ),
        ({"source": [42]}, "source[0] must be a fetch function or a source"),
        ({"template": {"getTopBaner": str}}, "did you mean 'get_top_banner'"),
    ],
)
def test_invalid_schemas_are_rejected_with_upstreams_texts(
    fields: dict[str, Any], text: str
) -> None:
    with pytest.raises(ConfigError) as error:
        register(**fields)
    assert text in str(error.value)
    assert list_optimizers() == []  # a rejected schema leaves nothing behind (upstream: BUG)


def test_duplicates_lookups_and_camel_case() -> None:
    add_optimizer(
        {
            "optimizerName": "camel",
            "rangeTrain": [{"startDate": D1, "endDate": D2}],
            "rangeTest": {"startDate": D2, "endDate": D3},
            "source": [lambda a: []],
            "getPrompt": lambda s, m: "x",
        }
    )
    with pytest.raises(ConfigError, match=r"^optimizer camel already exist$"):
        register(optimizer_name="camel")
    assert [o.optimizer_name for o in engine.list_optimizers()] == ["camel"]
    assert len(Optimizer.get_data("X", {"optimizerName": "camel"})) == 1
    with pytest.raises(
        ConfigError, match="optimizer camle not found source=optimizerGlobalService getData"
    ):
        Optimizer.get_data("X", optimizer_name="camle")
