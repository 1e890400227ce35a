"""Load a user's strategy module (a plain Python file that calls `add_*`)."""

from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType

from engine.core import registry
from engine.core.errors import ConfigError


def load_module(path: str | Path) -> ModuleType:
    """Import the Python file at `path`, running its `add_*` calls (or its `register()`).

    A module whose import fails leaves nothing registered: what it added before failing
    is taken back, so a fixed module can be loaded again under the same names.

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
    before = [set(r.names()) for r in registry.ALL]
    try:
        spec.loader.exec_module(module)
        register = getattr(module, "register", None)
        if callable(register):
            register()  # modules without import side effects (generated ones) register here
    except BaseException as exc:
        sys.modules.pop(name, None)
        _forget_new_names(before)
        if isinstance(exc, SyntaxError):
            raise ConfigError(
                f"{file}:{exc.lineno}: syntax error: {exc.msg}; fix the module and load it again"
            ) from None
        if not isinstance(exc, Exception):
            raise
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(file)]
        where = f"{file}:{frames[-1].lineno}" if frames else str(file)
        raise ConfigError(
            f"{where}: importing the module raised {type(exc).__name__}: {exc}"
        ) from None
    return module


def _forget_new_names(before: list[set[str]]) -> None:
    """Take back what a module registered before its import failed."""
    for known, reg in zip(before, list(registry.ALL), strict=False):
        for new in set(reg.names()) - known:
            reg.remove(new)
