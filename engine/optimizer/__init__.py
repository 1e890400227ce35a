"""The optimizer: LLM-generated strategy descriptions and the module that backtests them.

`add_optimizer` registers training ranges, data sources and a `get_prompt` function;
`Optimizer.get_data` builds one conversation per (range, source) and asks `get_prompt` for a
strategy description; `Optimizer.get_code` / `dump` emit a Python module registering one
LLM-driven strategy per description and a walker comparing them (docs/optimizer.md).
"""

from engine.optimizer.client import ClientOptimizer
from engine.optimizer.fetching import ITERATION_DELAY, ITERATION_LIMIT, ITERATION_MAX_DOCUMENTS
from engine.optimizer.llm import (
    LlmClient,
    LlmError,
    LlmSettings,
    LlmUnavailableError,
    configure_llm,
    llm_client,
)
from engine.optimizer.registration import add_optimizer, list_optimizers
from engine.optimizer.schema import (
    FetchArgs,
    Message,
    OptimizerCallbacks,
    OptimizerRange,
    OptimizerSchema,
    OptimizerSource,
    OptimizerStrategy,
)
from engine.optimizer.templates import OptimizerTemplate
from engine.optimizer.utils import Optimizer, OptimizerUtils, check_module

__all__ = [
    "ITERATION_DELAY",
    "ITERATION_LIMIT",
    "ITERATION_MAX_DOCUMENTS",
    "ClientOptimizer",
    "FetchArgs",
    "LlmClient",
    "LlmError",
    "LlmSettings",
    "LlmUnavailableError",
    "Message",
    "Optimizer",
    "OptimizerCallbacks",
    "OptimizerRange",
    "OptimizerSchema",
    "OptimizerSource",
    "OptimizerStrategy",
    "OptimizerTemplate",
    "OptimizerUtils",
    "add_optimizer",
    "check_module",
    "configure_llm",
    "list_optimizers",
    "llm_client",
]
