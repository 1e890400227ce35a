"""The engine is headless: importing it loads no UI library (docs/architecture.md#layers)."""

from __future__ import annotations

import json
import subprocess
import sys


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
