"""The `Optimizer` utility object: get_data, get_code and dump (upstream's `OptimizerUtils`)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import engine
from engine.core.config import snapshot
from engine.core.errors import ConfigError
from engine.core.logger import engine_logger
from engine.optimizer.client import ClientOptimizer, random_prefix
from engine.optimizer.llm_types import LlmSettings
from engine.optimizer.registration import optimizers
from engine.optimizer.schema import OptimizerStrategy

_log = engine_logger(__name__)

CHECK_TIMEOUT = 120.0
"""Seconds the import check of a generated module may take."""
_CHECK = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("generated_module_check", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps(module.register()))
"""


def check_module(code: str) -> dict[str, list[str]]:
    """Import generated code in a fresh Python process and call its `register()`.

    Returns:
        The names `register()` reported, by kind.

    Raises:
        ConfigError: the import or the registration failed; the message has the last line
            of the error.
    """
    root = str(Path(engine.__file__).resolve().parent.parent)
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    with tempfile.TemporaryDirectory(prefix="optimizer-check-") as folder:
        file = Path(folder) / "generated.py"
        file.write_text(code, encoding="utf-8")
        try:
            run = subprocess.run(
                [sys.executable, "-c", _CHECK, str(file)],
                capture_output=True,
                text=True,
                cwd=folder,
                env=env,
                timeout=CHECK_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            raise ConfigError(
                f"the generated module's import check took over {CHECK_TIMEOUT:.0f} s"
            ) from None
    if run.returncode != 0:
        lines = run.stderr.strip().splitlines() or ["(no output)"]
        raise ConfigError(f"the generated module failed its import check: {lines[-1]}")
    names: dict[str, list[str]] = json.loads(run.stdout.strip().splitlines()[-1])
    return names


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


class OptimizerUtils:
    """Generate strategy descriptions and the module that backtests them (`Optimizer`)."""

    def _client(
        self, context: Mapping[str, Any] | None, name: str | None, method: str
    ) -> ClientOptimizer:
        merged = dict(context or {})
        found = name or merged.get("optimizer_name") or merged.get("optimizerName")
        source = f"optimizerGlobalService {method}"
        if not found:
            raise ConfigError(f"Optimizer.{method}: missing optimizer_name")
        return ClientOptimizer(optimizers.get(str(found), source))

    def get_data(
        self,
        symbol: str,
        context: Mapping[str, Any] | None = None,
        *,
        optimizer_name: str | None = None,
        profile: str | None = None,
    ) -> tuple[OptimizerStrategy, ...]:
        """Fetch the sources for every training range and ask `get_prompt` after each source.

        Args:
            symbol: The symbol passed to sources and `get_prompt`.
            context: Optionally `{"optimizerName": …}` (upstream's shape).
            optimizer_name: The registered optimizer.
            profile: The execution profile (default: the global one); see ClientOptimizer.

        Returns:
            One strategy per (training range, source), range-major.

        Raises:
            ConfigError: unknown optimizer. EngineError: a source, formatter, callback or
                `get_prompt` failed (the message names the step).
        """
        client = self._client(context, optimizer_name, "getData")
        _log.info(f"Optimizer.get_data symbol={symbol} optimizer={client.name}")
        return client.get_data(symbol, legacy=snapshot(profile).legacy)

    def get_code(
        self,
        symbol: str,
        context: Mapping[str, Any] | None = None,
        *,
        optimizer_name: str | None = None,
        prefix: str | None = None,
        exchange_name: str | None = None,
        llm: LlmSettings | None = None,
        strategies: Sequence[OptimizerStrategy] | None = None,
        profile: str | None = None,
    ) -> str:
        """Return the generated Python module (runs `get_data` unless `strategies` is given).

        Args:
            symbol: The symbol to generate for and run the walker on.
            context: Optionally `{"optimizerName": …}`.
            optimizer_name: The registered optimizer.
            prefix: The prefix of every registered name; random (5 base-36 characters) when
                None, so pass one for reproducible output.
            exchange_name: Reuse this registered exchange (`demo`, a CSV one …) instead of
                emitting a ccxt Binance exchange, so the strategies can run offline.
            llm: LLM settings written into the module, so every process running its
                strategies (the walker's workers too) asks the same LLM; None: the
                `DESK_LLM_*` variables of the process running them decide.
            strategies: A previous `get_data` result, to skip fetching and prompting again.
            profile: The execution profile for `get_data`.
        """
        client = self._client(context, optimizer_name, "getCode")
        _log.info(f"Optimizer.get_code symbol={symbol} optimizer={client.name}")
        data = (
            tuple(strategies)
            if strategies is not None
            else client.get_data(symbol, legacy=snapshot(profile).legacy)
        )
        return client.get_code(symbol, data, prefix or random_prefix(), exchange_name, llm)

    def dump(
        self,
        symbol: str,
        context: Mapping[str, Any] | None = None,
        *,
        optimizer_name: str | None = None,
        path: str | Path = "./",
        prefix: str | None = None,
        exchange_name: str | None = None,
        llm: LlmSettings | None = None,
        strategies: Sequence[OptimizerStrategy] | None = None,
        profile: str | None = None,
    ) -> Path:
        """Generate the module, check it imports and registers, and write it.

        Arguments as for `get_code`, plus `path`, the folder. The file is
        `<path>/<optimizer_name>_<symbol>.py` (characters other than letters,
        digits, `_.-` replaced by `_`); absolute paths are honoured. Nothing is written when
        the check fails. `on_dump(symbol, filepath)` runs after the write.

        Returns:
            The absolute path of the written file.
        """
        name = self._client(context, optimizer_name, "dump").name
        code = self.get_code(
            symbol,
            optimizer_name=name,
            prefix=prefix,
            exchange_name=exchange_name,
            llm=llm,
            strategies=strategies,
            profile=profile,
        )
        check_module(code)
        folder = Path(path).expanduser().resolve()
        target = folder / f"{_safe(name)}_{_safe(symbol)}.py"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".py.tmp")
            partial.write_text(code, encoding="utf-8")
            partial.replace(target)
            _log.info(f"Optimizer report saved: {target}")
            ClientOptimizer(optimizers.get(name, "optimizerGlobalService dump")).callback(
                "on_dump", symbol, str(target)
            )
        except Exception as exc:
            _log.warn(f"Failed to save optimizer report: {exc}")
            raise
        return target


Optimizer = OptimizerUtils()
