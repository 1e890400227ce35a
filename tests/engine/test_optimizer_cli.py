"""`desk optimize NAME SYMBOL`: what a terminal user and a script get."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent.parent
MODULE = """
from datetime import datetime, timezone

from engine import add_optimizer


def news(args):
    return [{"id": i, "headline": f"story {i}"} for i in range(args.offset, 30)][:args.limit]


def get_prompt(symbol, messages):
    if "BROKEN" in symbol:
        raise RuntimeError("the LLM is down")
    return f"Buy {symbol} after {len(messages)} messages"


add_optimizer(
    optimizer_name="news",
    range_train=[
        {"start_date": datetime(2024, 12, 1, tzinfo=timezone.utc),
         "end_date": datetime(2024, 12, 2, tzinfo=timezone.utc)},
    ],
    range_test={"start_date": datetime(2024, 12, 30, tzinfo=timezone.utc),
                "end_date": datetime(2024, 12, 30, 23, 59, tzinfo=timezone.utc)},
    source=[news, {"name": "calendar", "fetch": lambda args: []}],
    get_prompt=get_prompt,
)
"""


def desk(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )


def test_json_for_scripts(tmp_path: Path) -> None:
    (tmp_path / "opt.py").write_text(MODULE)
    run = desk(
        "optimize", "news", "BTCUSDT", "--module", "opt.py", "--json",
        "--prefix", "cli", "--exchange", "demo", cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    payload = json.loads(run.stdout)
    assert payload["file"] is None
    assert [(s["name"], s["strategy"]) for s in payload["strategies"]] == [
        ("news", "Buy BTCUSDT after 2 messages"),
        ("calendar", "Buy BTCUSDT after 4 messages"),
    ]
    assert payload["strategies"][0]["messages"][1] == {"role": "assistant", "content": "ОК"}
    assert '"id":29' in payload["strategies"][0]["messages"][0]["content"]
    ast.parse(payload["code"])
    assert '"strategy_name": "cli_strategy-2"' in payload["code"]
    assert '"exchange_name": "demo"' in payload["code"]


def test_the_module_goes_to_stdout_or_to_a_checked_file(tmp_path: Path) -> None:
    (tmp_path / "opt.py").write_text(MODULE)
    run = desk("optimize", "news", "ETHUSDT", "--module", "opt.py", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    ast.parse(run.stdout)
    assert run.stdout.startswith("#!/usr/bin/env python3\n")
    run = desk("optimize", "news", "ETHUSDT", "--module", "opt.py", "--dump", "out", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    file = tmp_path / "out" / "news_ETHUSDT.py"
    assert run.stdout.splitlines() == [
        f"wrote {file}",
        "  1. news: Buy ETHUSDT after 2 messages",
        "  2. calendar: Buy ETHUSDT after 4 messages",
    ]
    ast.parse(file.read_text(encoding="utf-8"))


def test_errors_are_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "opt.py").write_text(MODULE)
    run = desk("optimize", "nwes", "BTCUSDT", "--module", "opt.py", cwd=tmp_path)
    assert run.returncode == 1
    assert run.stderr == (
        "error: optimizer nwes not found source=optimizerGlobalService getData. "
        "Did you mean 'news'?\n"
    )
    run = desk("optimize", "news", "BROKEN", "--module", "opt.py", "--dump", "x", cwd=tmp_path)
    assert run.returncode == 1
    assert run.stderr == (
        "error: optimizer news: get_prompt raised RuntimeError: the LLM is down\n"
    )
    assert not (tmp_path / "x").exists()
