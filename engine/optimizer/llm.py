"""LLM access for optimizers and generated strategies: settings, the client, its errors.

A client talks to an Ollama server (`POST /api/chat`, JSON schema output through `format`)
or an OpenAI-compatible one (`POST <base>/chat/completions`, `response_format`), through
httpx (the `llm` extra). Settings come from `configure_llm(...)` or the environment:

* `DESK_LLM_PROVIDER`: `ollama` (default) or `openai`.
* `DESK_LLM_BASE_URL`: the server (OpenAI-style ones usually end in `/v1`); default
  `OLLAMA_HOST` or `http://127.0.0.1:11434`, or `https://api.openai.com/v1`.
* `DESK_LLM_MODEL`: default `deepseek-v3.1:671b` (upstream's) or `gpt-4o-mini`.
* `DESK_LLM_API_KEY_ENV`: the variable holding the key; default `DESK_LLM_API_KEY`, then
  `OLLAMA_API_KEY` / `OPENAI_API_KEY`.
* `DESK_LLM_TEMPERATURE`, `DESK_LLM_SEED`: sampling options (default: the server's).
* `DESK_LLM_TIMEOUT`: seconds per request (default 120).
* `DESK_LLM_RECORD`: a folder of recorded answers (see `engine.optimizer.recording`).
* `DESK_LLM_RECORD_MODE`: `auto` (default), `record` or `replay`.

No `Authorization` header is sent when no key is set. Every failure is an `LlmError`
(an `EngineError`); inside a strategy the engine reports it through `listen_error` and the
strategy gets no signal.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from engine.optimizer.llm_types import (
    ChatRequest,
    LlmError,
    LlmSettings,
    LlmUnavailableError,
    Transport,
)
from engine.optimizer.providers import make_transport
from engine.optimizer.recording import Recording
from engine.optimizer.schema import Message

__all__ = [
    "ChatRequest",
    "LlmClient",
    "LlmError",
    "LlmSettings",
    "LlmUnavailableError",
    "Transport",
    "configure_llm",
    "llm_client",
]

ChatMessage = Message | Mapping[str, str]


class LlmClient:
    """Asks an LLM, through recorded answers first when a recording folder is set."""

    def __init__(self, settings: LlmSettings, transport: Transport | None = None) -> None:
        self.settings = settings
        self.transport = transport or make_transport(settings)
        self.recording = (
            Recording(settings.record_dir, settings.record_mode) if settings.record_dir else None
        )

    def chat(self, messages: Sequence[ChatMessage], schema: Mapping[str, Any] | None = None) -> str:
        """Return the LLM's answer to `messages` (JSON text following `schema` if given).

        Raises:
            LlmError: the server refused or sent a bad reply, or (replay) nothing is recorded.
            LlmUnavailableError: the server is unreachable, timed out or failed.
        """
        request = ChatRequest(
            self.settings.provider,
            self.settings.model_name,
            tuple(_pair(m) for m in messages),
            schema,
            self.settings.temperature,
            self.settings.seed,
        )
        key = request.key()
        if self.recording is not None:
            recorded = self.recording.lookup(key)
            if recorded is not None:
                return recorded
        answer = self.transport.complete(request)
        if self.recording is not None:
            self.recording.save(key, request, answer)
        return answer

    def chat_json(self, messages: Sequence[ChatMessage], schema: Mapping[str, Any]) -> Any:
        """Return the LLM's answer parsed as JSON.

        Raises:
            LlmError: as `chat`, or the answer is not JSON.
        """
        answer = self.chat(messages, schema)
        try:
            return json.loads(answer.strip())
        except json.JSONDecodeError as exc:
            raise LlmError(f"the LLM answer is not JSON ({exc.msg}): {answer[:200]!r}") from None


def _pair(message: ChatMessage) -> tuple[str, str]:
    if isinstance(message, Message):
        return message.role, message.content
    return str(message["role"]), str(message["content"])


_configured: list[LlmClient | None] = [None]
_lock = threading.Lock()


def configure_llm(client: LlmSettings | LlmClient | None) -> None:
    """Use `client` (or a client for these settings) everywhere; None: the environment's."""
    with _lock:
        _configured[0] = LlmClient(client) if isinstance(client, LlmSettings) else client


def llm_client(settings: LlmSettings | None = None) -> LlmClient:
    """Return a client for `settings`, else the configured one, else the environment's.

    Generated modules pass the settings pinned at generation time (or None), so backtests
    in worker processes use the same LLM as the process that started them.
    """
    if settings is not None:
        return _client_for(settings)
    configured = _configured[0]
    return configured if configured is not None else _client_for(LlmSettings.from_env())


@functools.lru_cache(maxsize=8)
def _client_for(settings: LlmSettings) -> LlmClient:
    return LlmClient(settings)
