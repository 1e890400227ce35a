"""The engine is headless: importing it loads no UI library (docs/architecture.md#layers);
verbs load only what they need."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

from tests.test_cli import GOLDEN_DATA


def loaded_modules(statement: str) -> set[str]:
    code = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return set(json.loads(out.stdout))


def test_importing_the_engine_loads_no_ui_library() -> None:
    modules = loaded_modules("import engine")
    forbidden = {"textual", "rich", "plotext", "tui"}
    assert not {m for m in modules if m.split(".")[0] in forbidden}
    assert "engine" in modules


def test_the_headless_command_does_not_load_textual() -> None:
    modules = loaded_modules("import tui.cli")
    assert not {m for m in modules if m.split(".")[0] in {"textual", "rich"}}


HEAVY_FOR_A_BACKTEST = {
    "textual",
    "rich",
    "ccxt",
    "arro3",
    "multiprocessing",
    "engine.optimizer",
    "engine.sim.walker",
    "engine.sim.live",
    "engine.sim.parallel",
    "pydantic",  # the built-in schemas are plainly valid (engine/core/schemas.py)
    "talib",  # loaded when a run computes an indicator, not to register sma_rsi
    "asyncio",  # loaded for `async def` user code only
    "tinydb",  # live state only (engine.persist loads its adapters on first use)
    "filelock",
}
"""What a headless `desk backtest` on the demo market or a cached file must not import."""


def verb_modules(*argv: str) -> set[str]:
    """The modules loaded by running `desk *argv` (its output discarded)."""
    return loaded_modules(
        "import contextlib, io\nfrom tui import cli\n"
        f"with contextlib.redirect_stdout(io.StringIO()): cli.main({list(argv)!r})"
    )


def heavy(modules: set[str], names: set[str]) -> set[str]:
    return {m for m in modules if m in names or m.split(".")[0] in names}


def test_desk_backtest_json_on_the_demo_market_loads_only_the_backtest() -> None:
    modules = verb_modules("backtest", "--frame", "demo-7d", "--json")
    assert "engine.sim.backtest" in modules and "orjson" in modules
    assert heavy(modules, HEAVY_FOR_A_BACKTEST) == set()


def test_desk_backtest_on_a_cached_file_does_not_load_the_csv_reader(tmp_path: Path) -> None:
    csv_file = tmp_path / "btc.csv"
    csv_file.write_bytes(gzip.decompress(GOLDEN_DATA.read_bytes()))
    argv = ("backtest", "--candles", str(csv_file), "--symbol", "BTCUSDT", "--json")
    first = verb_modules(*argv)
    assert "arro3.io" in first and "pyarrow" not in first  # the first run parses the file...
    # ...with no OpenSSL (hashlib, 3.6 MB resident) nor zipfile (1 MB), which a CSV needs not
    assert heavy(first, {"hashlib", "_hashlib", "zipfile"}) == set()
    assert heavy(verb_modules(*argv), HEAVY_FOR_A_BACKTEST) == set()  # ...the next reads the cache


def test_desk_data_list_loads_no_exchange_client_nor_ui() -> None:
    modules = verb_modules("data", "list")
    assert heavy(modules, {"textual", "rich", "ccxt", "arro3", "engine.optimizer"}) == set()
