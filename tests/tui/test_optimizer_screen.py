"""The optimizer screen driven by keys against the local scripted LLM server, and its looks."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.syntax import Syntax
from textual.pilot import Pilot
from textual.widgets import Collapsible, Markdown, Static, TabbedContent

import engine
from engine.core.registry import Registry
from engine.optimizer import configure_llm, fetching
from engine.optimizer.registration import optimizers
from engine.sim.walker import walkers
from tests.engine.llm_server import serve
from tests.engine.test_optimizer_e2e import trader
from tests.tui.test_desk_flows import until
from tui.app import DeskApp, make_app
from tui.formatting import fixed_clock
from tui.screens.optimizer import OptimizerScreen
from tui.screenshots import DEMO_MOMENT, SIZES, settle
from tui.widgets.vim_table import VimTable

ASKING_MODULE = '''"""Three trading styles, each described by the LLM the desk uses."""
from datetime import UTC, datetime

from engine.optimizer import add_optimizer, llm_client

add_optimizer(
    optimizer_name="styles",
    note="three trading styles asked of the LLM",
    range_train=[{"start_date": datetime(2024, 12, 20, tzinfo=UTC),
                  "end_date": datetime(2024, 12, 21, tzinfo=UTC)}],
    range_test={"start_date": datetime(2024, 12, 30, tzinfo=UTC),
                "end_date": datetime(2024, 12, 30, 3, 59, tzinfo=UTC)},
    source=[
        {"name": name,
         "fetch": lambda args: [{"id": str(i), "close": 100 + i} for i in range(40)][
             args.offset : args.offset + args.limit],
         "user": lambda symbol, data, name: f"{name} rows of {symbol}\\n"
         + "\\n".join(str(row) for row in data)}
        for name in ("momentum", "contrarian", "waiter")
    ],
    get_prompt=lambda symbol, messages: llm_client().chat(
        [*(m.as_dict() for m in messages), {"role": "user", "content": "Write the strategy"}]
    ),
)
'''
PURE_MODULE = ASKING_MODULE.replace(
    """llm_client().chat(
        [*(m.as_dict() for m in messages), {"role": "user", "content": "Write the strategy"}]
    )""",
    'f"{messages[-2].content.split()[0].upper()}: trade {symbol} on the last half hour"',
)
LLM_VARIABLES = (
    "DESK_LLM_PROVIDER",
    "DESK_LLM_BASE_URL",
    "DESK_LLM_MODEL",
    "DESK_LLM_API_KEY",
    "DESK_LLM_API_KEY_ENV",
    "DESK_LLM_RECORD",
    "DESK_LLM_TIMEOUT",
    "OLLAMA_HOST",
    "OLLAMA_API_KEY",
)


@pytest.fixture(autouse=True)
def clean_optimizer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No fetch delay, no LLM settings from the machine; forget what a test registered."""
    monkeypatch.setattr(fetching, "ITERATION_DELAY", 0.0)
    for name in LLM_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    registries: tuple[Registry[Any], ...] = (optimizers, walkers)
    before = [{getattr(s, r.name_field) for s in r.list()} for r in registries]
    yield
    configure_llm(None)
    engine.Walker.clear()
    for registry, names in zip(registries, before, strict=True):
        for schema in registry.list():
            name = getattr(schema, registry.name_field)
            if name not in names:
                registry.remove(name)
    for name, module in list(sys.modules.items()):
        if name.startswith("desk_user_") and str(tmp_path) in str(getattr(module, "__file__", "")):
            del sys.modules[name]


def desk_with(root: Path, source: str | None) -> DeskApp:
    """Return the desk with `source` written as its user module (None: no module)."""
    module = None
    if source is not None:
        (root / "styles.py").write_text(source, encoding="utf-8")
        module = "styles.py"
    return make_app(
        state_dir=root / "state",
        module=module,
        clock=fixed_clock(DEMO_MOMENT),
        config_dir=root / "themes",
        dump_dir=Path("dump"),
    )


def screen_of(app: DeskApp) -> OptimizerScreen:
    screen = app.screen
    assert isinstance(screen, OptimizerScreen)
    return screen


async def test_generate_read_the_conversation_and_code_then_rank_by_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve(trader) as server:
        monkeypatch.setenv("DESK_LLM_BASE_URL", server.url)
        monkeypatch.setenv("DESK_LLM_MODEL", "trader-1")
        app = desk_with(tmp_path, ASKING_MODULE)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await pilot.press("O")
            screen = screen_of(app)
            estimate = str(screen.query_one("#opt-estimate", Static).render())
            assert "3 get_prompt calls" in estimate and "≤ 144 LLM calls" in estimate

            await pilot.press("e")
            await until(lambda: screen.module is not None)
            await settle(pilot)
            module = screen.module
            assert module is not None
            assert [s.name for s in module.strategies] == ["momentum", "contrarian", "waiter"]
            prompts = [r for r in server.requests if r.method == "POST"]
            assert len(prompts) == 3 and all(r.path == "/api/chat" for r in prompts)

            await pilot.press("j")  # the second strategy's conversation
            await pilot.pause()
            pane = screen.query_one("#opt-conversation")
            assert pane.border_title == "contrarian"
            turns = list(pane.query(Collapsible))
            titles = [t.title for t in turns]
            assert [t.split(" · ")[0] for t in titles] == [
                "user",
                "assistant",
                "user",
                "assistant",
                "strategy",
            ]
            assert turns[0].collapsed and "chars" in titles[0]  # 40 rows: collapsed, sized
            assert not turns[1].collapsed
            assert "CONTRARIAN" in turns[-1].query_one(Markdown).source

            await pilot.press("2")
            assert screen.query_one(TabbedContent).active == "code"
            code = screen.query_one("#opt-code", Static).content
            assert isinstance(code, Syntax) and "def register()" in code.code

            await pilot.press("w")
            table = screen.query_one("#opt-ranking", VimTable)
            await until(lambda: table.row_count == 3, seconds=45)
            await settle(pilot)
            assert screen.query_one(TabbedContent).active == "walker"
            ranked = [table.get_row_at(i)[1] for i in range(3)]
            prefix = module.prefix
            assert ranked[-1] == f"{prefix}_strategy-3"  # WAITER never trades
            assert set(ranked) == {f"{prefix}_strategy-{i}" for i in (1, 2, 3)}
            assert (tmp_path / "dump" / "optimizer" / "styles_BTCUSDT.py").is_file()

            await pilot.press("ctrl+t")
            status = screen.query_one("#llm-status", Static)
            await until(lambda: "answered" in str(status.render()))
            assert any(r.path == "/api/tags" for r in server.requests)

            await pilot.press("escape")
            assert not isinstance(app.screen, OptimizerScreen)


async def test_without_an_optimizer_the_screen_shows_how_to_add_one(tmp_path: Path) -> None:
    app = desk_with(tmp_path, None)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("O", "e")
        screen = screen_of(app)
        assert "add_optimizer(" in screen.query_one("#opt-how-to", Markdown).source
        assert screen.module is None


class TestOptimizerScreen:
    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
    def test_after_a_run(self, snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
        app = desk_with(tmp_path, PURE_MODULE)

        async def reach(pilot: Pilot[None]) -> None:
            await settle(pilot)
            for key in ("O", "e", "j"):
                await pilot.press(key)
                await settle(pilot)
            pilot.app.clear_notifications()
            await pilot.pause()

        assert snap_compare(app, terminal_size=size, run_before=reach)
