"""The optimizer screen's link to the engine: runs, saves, walkers and the LLM check.

Like `EngineBridge`, this is the only place the optimizer screen touches the engine: it
subscribes to optimizer progress and forwards it through `post`, and its blocking methods run
in the screen's thread workers and report with the messages below (facts, past tense).
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.message import Message

import engine
from engine.core.loader import load_module
from engine.optimizer import LlmSettings, Optimizer, configure_llm, list_optimizers
from engine.optimizer.client import random_prefix
from engine.optimizer.schema import OptimizerSchema, OptimizerStrategy
from engine.sim.parallel import SerialExecutor
from tui.engine_bridge import describe_error

Post = Callable[[Message], Any]

MINUTES_PER_SIGNAL_REQUEST = 5
"""A generated strategy asks the LLM at most once per 5 minutes of its test frame."""
CONNECTION_TIMEOUT = 5.0
DEMO_EXCHANGE = "demo"


@dataclass(frozen=True)
class OptimizerSummary:
    """A registered optimizer as the screen lists it, with its LLM call estimate."""

    name: str
    ranges: int
    sources: int
    test_minutes: int
    note: str | None

    @property
    def prompts(self) -> int:
        """How many times `get_data` calls `get_prompt` (once per training range and source)."""
        return self.ranges * self.sources

    @property
    def walker_calls(self) -> int:
        """The most LLM calls the generated walker makes (strategies × test minutes / 5)."""
        return self.prompts * (self.test_minutes // MINUTES_PER_SIGNAL_REQUEST)


@dataclass(frozen=True)
class GeneratedModule:
    """The outcome of one optimizer run: its strategies and the module that backtests them."""

    optimizer_name: str
    symbol: str
    prefix: str
    strategies: tuple[OptimizerStrategy, ...]
    code: str

    @property
    def walker_name(self) -> str:
        """The walker the module registers."""
        return f"{self.prefix}_walker"


@dataclass(frozen=True)
class RankingRow:
    """One strategy's line in the walker ranking."""

    rank: int
    strategy_name: str
    metric_value: float | None
    total_signals: int
    win_rate: float | None
    total_pnl: float | None


@dataclass
class OptimizerProgressed(Message):
    """`get_data` advanced; a full snapshot, so a queued one may replace the previous."""

    processed: int
    total: int

    def can_replace(self, message: Message) -> bool:
        """Merge with an older progress message still waiting in the queue."""
        return isinstance(message, OptimizerProgressed)


@dataclass
class ModuleGenerated(Message):
    """An optimizer run finished: strategies fetched and prompted, module assembled."""

    module: GeneratedModule


@dataclass
class ModuleSaved(Message):
    """The generated module passed its import check and was written to `path`."""

    path: Path


@dataclass
class WalkerProgressed(Message):
    """The walker of a generated module tested one more strategy."""

    tested: int
    total: int


@dataclass
class WalkerRanked(Message):
    """The walker of a generated module finished; `rows` are best first."""

    walker_name: str
    metric: str
    rows: tuple[RankingRow, ...]


@dataclass
class OptimizerFailed(Message):
    """A step (run, save, walker) failed; the screen shows `title` and `msg`."""

    step: str
    title: str
    msg: str


@dataclass
class LlmChecked(Message):
    """The LLM connection test finished."""

    ok: bool
    text: str


def summarize(schema: OptimizerSchema) -> OptimizerSummary:
    """Return what the screen lists about an optimizer."""
    test = schema.test_range()
    minutes = int((test.end_date - test.start_date).total_seconds() // 60) + 1
    return OptimizerSummary(
        name=schema.optimizer_name or "?",
        ranges=len(schema.train_ranges()),
        sources=len(schema.sources()),
        test_minutes=minutes,
        note=schema.note,
    )


def unreachable_text(url: str, exc: BaseException) -> str:
    """Say that no LLM server answers at `url`, why in plain words, and how to set one up.

    Args:
        url: The server the settings name.
        exc: What the connection attempt raised (`URLError`, a timeout, a reply not JSON).
    """
    reason = getattr(exc, "reason", exc)
    why = getattr(reason, "strerror", None) or str(reason)
    return (
        f"No LLM server answers at {url} ({why.lower()}).\n"
        "Run one locally with Ollama: `ollama serve`, then `ollama pull <model>`; it listens "
        "on http://127.0.0.1:11434 (the default). Or point the desk at yours before starting "
        "it: DESK_LLM_BASE_URL, DESK_LLM_PROVIDER (ollama or openai), DESK_LLM_MODEL and "
        "DESK_LLM_API_KEY. You can also edit the fields above and press ctrl+t to test again."
    )


class OptimizerBridge:
    """Runs optimizers, saves and walks their modules, and checks the LLM, for the desk.

    Args:
        post: Thread-safe function that delivers a message to the optimizer screen.
        dump_dir: Generated modules are saved under `<dump_dir>/optimizer`.
    """

    def __init__(self, post: Post, dump_dir: Path) -> None:
        self._post = post
        self.save_dir = dump_dir / "optimizer"
        self._running: str | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._loaded: set[str] = set()

    def subscribe(self) -> None:
        """Start forwarding optimizer progress."""
        if self._unsubscribe is None:
            self._unsubscribe = engine.listen_optimizer_progress(self._on_progress)

    def unsubscribe(self) -> None:
        """Stop forwarding optimizer progress."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _on_progress(self, event: Any) -> None:
        if event.optimizer_name == self._running:
            self._post(OptimizerProgressed(event.processed_sources, event.total_sources))

    def optimizers(self) -> tuple[OptimizerSummary, ...]:
        """Return the registered optimizers in registration order."""
        return tuple(summarize(schema) for schema in list_optimizers())

    def symbols(self) -> tuple[str, ...]:
        """Return the demo market's symbols (empty when the demo exchange is not registered)."""
        store = engine.exchange_store(DEMO_EXCHANGE)
        return tuple(store.symbols()) if store is not None else ()

    def generate(self, name: str, symbol: str, llm: LlmSettings) -> GeneratedModule | None:
        """Run `get_data`, then assemble the module (blocking: call it from a thread worker).

        The LLM settings apply to `get_prompt` (through `configure_llm`) and are pinned in the
        module; the module trades on the demo exchange when it is registered.
        """
        configure_llm(llm)
        self._running = name
        try:
            strategies = Optimizer.get_data(symbol, optimizer_name=name)
            prefix = random_prefix()
            code = Optimizer.get_code(
                symbol,
                optimizer_name=name,
                prefix=prefix,
                exchange_name=self._exchange(),
                llm=llm,
                strategies=strategies,
            )
        except Exception as exc:  # a user's source or get_prompt may raise anything
            self._post(OptimizerFailed("run", *describe_error(exc)))
            return None
        finally:
            self._running = None
        module = GeneratedModule(name, symbol, prefix, strategies, code)
        self._post(ModuleGenerated(module))
        return module

    def _exchange(self) -> str | None:
        names = {e.exchange_name for e in engine.list_exchanges()}
        return DEMO_EXCHANGE if DEMO_EXCHANGE in names else None

    def save(self, module: GeneratedModule, llm: LlmSettings) -> Path | None:
        """Check the module imports and write it with `Optimizer.dump` (blocking)."""
        try:
            path = Optimizer.dump(
                module.symbol,
                optimizer_name=module.optimizer_name,
                path=self.save_dir,
                prefix=module.prefix,
                exchange_name=self._exchange(),
                llm=llm,
                strategies=module.strategies,
            )
        except Exception as exc:  # the import check reports the module's own error
            self._post(OptimizerFailed("save", *describe_error(exc)))
            return None
        self._post(ModuleSaved(path))
        return path

    def run_walker(self, module: GeneratedModule, path: Path, cancel: threading.Event) -> None:
        """Load the saved module (it registers itself) and run its walker here (blocking)."""
        try:
            if module.prefix not in self._loaded:
                load_module(path)
                self._loaded.add(module.prefix)
            walker = module.walker_name
            last = None
            for row in engine.Walker.run(
                module.symbol, walker_name=walker, executor=SerialExecutor(), cancel=cancel
            ):
                last = row
                self._post(WalkerProgressed(row.strategies_tested, row.total_strategies))
            if cancel.is_set() or last is None:
                return
            results = engine.Walker.get_data(module.symbol, walker)
        except Exception as exc:  # the engine survives a broken module; so does the desk
            self._post(OptimizerFailed("walker", *describe_error(exc)))
            return
        rows = tuple(
            RankingRow(
                rank=r.rank,
                strategy_name=r.strategy_name,
                metric_value=r.metric_value,
                total_signals=r.stats.total_signals,
                win_rate=r.stats.win_rate,
                total_pnl=r.stats.total_pnl,
            )
            for r in results.ranking
        )
        self._post(WalkerRanked(walker, results.metric, rows))

    def check_llm(self, llm: LlmSettings) -> None:
        """List the server's models (`/api/tags` or `/models`) and report (blocking)."""
        path = "/api/tags" if llm.provider == "ollama" else "/models"
        request = urllib.request.Request(llm.url + path)
        key = llm.api_key()
        if key:
            request.add_header("Authorization", f"Bearer {key}")
        try:
            with urllib.request.urlopen(request, timeout=CONNECTION_TIMEOUT) as reply:
                body = json.loads(reply.read() or b"{}")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            self._post(LlmChecked(False, unreachable_text(llm.url, exc)))
            return
        entries = body.get("models") or body.get("data") or []
        names = [str(m.get("name") or m.get("id") or "?") for m in entries if isinstance(m, dict)]
        found = "listed" if llm.model_name in names else "not listed"
        self._post(
            LlmChecked(True, f"{llm.url} answered: {len(names)} models; {llm.model_name} {found}")
        )
