"""How `desk` writes its JSON and ends.

JSON goes to stdout's binary buffer as orjson wrote it, after any text written before it. As
the process's command `desk` freezes the heap so the interpreter exits fast; called with
arguments (tests, other programs) it leaves the caller's heap alone."""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from tui import cli

ROOT = Path(__file__).parent.parent
COMMAND = ["backtest", "--frame", "demo-7d", "--json"]


def test_json_written_to_a_binary_buffer_equals_the_text_form_and_follows_earlier_text() -> None:
    payload = {"price": 1.5, "nan": float("nan"), "note": "café", "row": (1, 2)}
    as_text = io.StringIO()
    cli._write_json(as_text, payload)
    raw = io.BytesIO()
    as_bytes = io.TextIOWrapper(raw, encoding="utf-8", write_through=False)
    as_bytes.write("before\n")
    cli._write_json(as_bytes, payload)
    as_bytes.flush()
    assert raw.getvalue().decode("utf-8") == "before\n" + as_text.getvalue()
    assert json.loads(as_text.getvalue()) == {
        "price": 1.5,
        "nan": None,
        "note": "café",
        "row": [1, 2],
    }


def test_main_with_arguments_does_not_freeze_the_callers_heap() -> None:
    before = gc.get_freeze_count()
    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert cli.main(COMMAND) == cli.EXIT_OK
    # A freeze would add every object the run made; the count may fall (frozen objects freed,
    # as after the desk app, which freezes at start, ran earlier in the same process).
    assert gc.get_freeze_count() <= before
    assert json.loads(out.getvalue())["statistics"]["total_signals"] > 0


def test_the_command_freezes_the_heap_and_still_writes_everything() -> None:
    # The console script and `python -m tui.cli` call main() with no arguments.
    code = (
        "import gc, sys\n"
        f"sys.argv = ['desk', *{COMMAND!r}]\n"
        "from tui import cli\n"
        "status = cli.main()\n"
        "sys.stderr.write(f'{status} {gc.get_freeze_count() > 0}')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr == f"{cli.EXIT_OK} True"
    payload = json.loads(run.stdout)
    assert len(payload["signals"]) == payload["statistics"]["total_signals"] > 0
    assert len(payload["account"]["trades"]) == len(payload["signals"])
