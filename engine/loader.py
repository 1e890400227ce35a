"""Load a user's strategy module (a plain Python file that calls `add_*`)."""

from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType

from engine.errors import ConfigError


def load_module(path: str | Path) -> ModuleType:
    """Import the Python file at `path`, running its `add_*` calls.

    Raises:
        ConfigError: the file is missing or its import failed; the message names the file,
            the line and the error, without a traceback.
    """
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise ConfigError(f"strategy module {path} does not exist; pass the path of a .py file")
    name = f"desk_user_{file.stem}_{abs(hash(file)) % 10**8}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ConfigError(f"strategy module {path} cannot be imported; is it a .py file?")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        raise ConfigError(
            f"{file}:{exc.lineno}: syntax error: {exc.msg}; fix the module and load it again"
        ) from None
    except Exception as exc:
        sys.modules.pop(name, None)
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(file)]
        where = f"{file}:{frames[-1].lineno}" if frames else str(file)
        raise ConfigError(
            f"{where}: importing the module raised {type(exc).__name__}: {exc}"
        ) from None
    return module
