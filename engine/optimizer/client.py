"""`ClientOptimizer`: the get_data algorithm and the assembly of the generated module.

get_data follows 1.4.10 (docs/optimizer.md#get-data): one strategy per (training range, source),
`get_prompt` after every source with the range's conversation so far, progress before each
step and once at the end, callbacks in upstream's order. Deviations: a listener that raises
is reported through `listen_error` and does not abort (the engine's rule for listeners);
user code that raises is wrapped in an `EngineError` naming the step; with the default
profile each strategy keeps the conversation `get_prompt` saw, with `backtest-kit-1.4.10`
every strategy of a range shows the range's whole conversation (upstream's shared list).
"""

from __future__ import annotations

import ast
import random
import string
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from engine.core.errors import ConfigError, EngineError
from engine.core.events import OptimizerProgress, progress_optimizer_emitter
from engine.core.secrets import mask_secrets
from engine.optimizer import fetching
from engine.optimizer.llm_types import LlmSettings
from engine.optimizer.schema import (
    FetchArgs,
    Message,
    OptimizerSchema,
    OptimizerSource,
    OptimizerStrategy,
)
from engine.optimizer.templates import OptimizerTemplate, llm_settings_section

FRAME_INTERVAL = "1m"
STRATEGY_INTERVAL = "5m"
_PREFIX_CHARS = string.digits + string.ascii_lowercase


@dataclass(frozen=True, slots=True)
class _Source:
    """A source resolved once: its fetch, formatters and names (docs/optimizer.md#sources)."""

    fetch: Callable[[FetchArgs], Any]
    label: str
    strategy_name: str
    user: Callable[..., Any] | None
    assistant: Callable[..., Any] | None


def _resolve_source(src: OptimizerSource | Callable[..., Any]) -> _Source:
    if isinstance(src, OptimizerSource):
        name = src.name or "unknown"
        return _Source(src.fetch, name, name, src.user, src.assistant)
    own = getattr(src, "__name__", "")
    return _Source(src, "unknown", own if own and own != "<lambda>" else "unknown", None, None)


def random_prefix() -> str:
    """Return 5 random base-36 characters (upstream's name prefix)."""
    return "".join(random.choices(_PREFIX_CHARS, k=5))


class ClientOptimizer:
    """Runs one optimizer schema; keeps no state between calls."""

    def __init__(self, schema: OptimizerSchema) -> None:
        self.schema = schema
        self.name = schema.optimizer_name or ""
        self.template = OptimizerTemplate()
        self.overrides = schema.template_overrides()

    def _template(self, method: str, *args: Any) -> str:
        fn = self.overrides.get(method) or getattr(self.template, method)
        return str(self._user(f"template {method}", fn, *args))

    def _user(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Run user code; what it raises reaches the user with every secret masked."""
        try:
            return fetching.settle(fn(*args))
        except EngineError as exc:
            exc.args = tuple(mask_secrets(a) if isinstance(a, str) else a for a in exc.args)
            raise
        except Exception as exc:
            raise EngineError(
                f"optimizer {self.name}: {what} raised {type(exc).__name__}: "
                + mask_secrets(str(exc))
            ) from exc

    def callback(self, name: str, *args: Any) -> None:
        """Call the schema's callback `name` (if any) with `args`; wrap what it raises."""
        fn = getattr(self.schema.callbacks, name, None)
        if fn is not None:
            self._user(f"callback {name}", fn, *args)

    def _progress(self, symbol: str, total: int, done: int) -> None:
        progress = done / total if total > 0 else 0.0
        progress_optimizer_emitter.emit(OptimizerProgress(self.name, symbol, total, done, progress))

    def get_data(self, symbol: str, legacy: bool = False) -> tuple[OptimizerStrategy, ...]:
        """Fetch every source for every training range and ask `get_prompt` after each.

        Args:
            symbol: The symbol passed to sources, formatters and `get_prompt`.
            legacy: Reproduce 1.4.10's shared conversation per range (see the module doc).
        """
        ranges = self.schema.train_ranges()
        sources = [_resolve_source(s) for s in self.schema.sources()]
        total = len(ranges) * len(sources)
        done = 0
        strategies: list[OptimizerStrategy] = []
        for rng in ranges:
            history: list[Message] = []
            first = len(strategies)
            for src in sources:
                self._progress(symbol, total, done)
                data = self._user(
                    f"source {src.label} fetch",
                    fetching.fetch_all,
                    src.fetch,
                    symbol,
                    rng.start_date,
                    rng.end_date,
                    src.label,
                )
                self.callback(
                    "on_source_data", symbol, src.label, data, rng.start_date, rng.end_date
                )
                history.append(Message("user", self._turn(src, "user", symbol, data)))
                history.append(Message("assistant", self._turn(src, "assistant", symbol, data)))
                done += 1
                prompt = self._user("get_prompt", self.schema.get_prompt, symbol, tuple(history))
                strategies.append(
                    OptimizerStrategy(symbol, src.strategy_name, tuple(history), str(prompt))
                )
            if legacy:
                whole = tuple(history)
                strategies[first:] = [replace(s, messages=whole) for s in strategies[first:]]
        self._progress(symbol, total, total)
        result = tuple(strategies)
        self.callback("on_data", symbol, result)
        return result

    def _turn(self, src: _Source, role: str, symbol: str, data: tuple[Any, ...]) -> str:
        own = src.user if role == "user" else src.assistant
        if own is not None:
            return str(self._user(f"source {src.label} {role}", own, symbol, data, src.label))
        return self._template(f"get_{role}_message", symbol, data, src.label)

    def get_code(
        self,
        symbol: str,
        strategies: tuple[OptimizerStrategy, ...],
        prefix: str,
        exchange_name: str | None = None,
        llm: LlmSettings | None = None,
    ) -> str:
        """Assemble the generated module from `strategies` (the result of get_data).

        Args:
            symbol: The symbol the walker runs on.
            strategies: The generated strategy descriptions.
            prefix: The prefix of every registered name.
            exchange_name: An exchange already registered where the module will be loaded
                (e.g. `demo`); None emits a ccxt Binance exchange named `<prefix>_exchange`.
            llm: LLM settings to pin in the module; None leaves the choice to the
                `DESK_LLM_*` environment variables where it runs.

        Raises:
            ConfigError: the assembled text is not valid Python (a template override's fault).
        """
        test = self.schema.test_range()
        exchange = exchange_name or f"{prefix}_exchange"
        test_frame = f"{prefix}_test_frame"
        names = [f"{prefix}_strategy-{i + 1}" for i in range(len(strategies))]
        walker = f"{prefix}_walker"
        if exchange_name:
            exchange_section = (
                f"# The exchange is {exchange_name!r}: already registered where this module is "
                "loaded,\n# so register() does not add one."
            )
        else:
            exchange_section = self._template("get_exchange_template", symbol, exchange)
        sections = [
            self._template("get_top_banner", symbol),
            llm_settings_section(llm),
            self._template("get_json_dump_template", symbol),
            self._template("get_text_template", symbol),
            self._template("get_json_template", symbol),
            exchange_section,
            *(
                self._template(
                    "get_frame_template",
                    symbol,
                    f"{prefix}_train_frame-{i + 1}",
                    FRAME_INTERVAL,
                    r.start_date,
                    r.end_date,
                )
                for i, r in enumerate(self.schema.train_ranges())
            ),
            self._template(
                "get_frame_template",
                symbol,
                test_frame,
                FRAME_INTERVAL,
                test.start_date,
                test.end_date,
            ),
            *(
                self._template("get_strategy_template", name, STRATEGY_INTERVAL, s.strategy)
                for name, s in zip(names, strategies, strict=True)
            ),
            self._template("get_walker_template", walker, exchange, test_frame, names),
            self._template("get_launcher_template", symbol, walker),
        ]
        code = "\n\n\n".join(s.strip("\n") for s in sections) + "\n"
        try:
            ast.parse(code)
        except SyntaxError as exc:
            raise ConfigError(
                f"optimizer {self.name}: the generated code does not parse: line {exc.lineno}: "
                f"{exc.msg}; check the template overrides"
            ) from None
        self.callback("on_code", symbol, code)
        return code
