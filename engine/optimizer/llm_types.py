"""LLM settings, requests and errors, shared by the client, its transports and recordings."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from engine.core.errors import ConfigError, EngineError, TemporaryError

PROVIDERS = ("ollama", "openai")
RECORD_MODES = ("auto", "record", "replay")
DEFAULT_URLS = {"ollama": "http://127.0.0.1:11434", "openai": "https://api.openai.com/v1"}
DEFAULT_MODELS = {"ollama": "deepseek-v3.1:671b", "openai": "gpt-4o-mini"}
KEY_VARIABLES = {"ollama": "OLLAMA_API_KEY", "openai": "OPENAI_API_KEY"}


class LlmError(EngineError):
    """The LLM gave no usable answer: a wrong setting, a refused request or a bad reply."""


class LlmUnavailableError(LlmError, TemporaryError):
    """The LLM server is unreachable, timed out or failed (5xx, 429): retrying may work."""


@dataclass(frozen=True, slots=True)
class LlmSettings:
    """Which LLM to use and how; empty strings mean the provider's default.

    Attributes:
        provider: `ollama` or `openai` (any OpenAI-compatible server).
        base_url: Server address.
        model: Model name.
        api_key_env: Name of the environment variable holding the API key.
        temperature: Sampling temperature, or None for the server's.
        seed: Sampling seed, or None.
        timeout: Seconds a request may take.
        record_dir: Folder of recorded answers, or empty for none.
        record_mode: `auto` (replay what is recorded, record the rest), `record` (always ask,
            overwrite) or `replay` (never ask; a missing answer is an error).
    """

    provider: str = "ollama"
    base_url: str = ""
    model: str = ""
    api_key_env: str = ""
    temperature: float | None = None
    seed: int | None = None
    timeout: float = 120.0
    record_dir: str = ""
    record_mode: str = "auto"

    def __post_init__(self) -> None:
        if self.provider not in PROVIDERS:
            raise ConfigError(f"LLM provider {self.provider!r} is unknown; use one of {PROVIDERS}")
        if self.record_mode not in RECORD_MODES:
            raise ConfigError(
                f"LLM record mode {self.record_mode!r} is unknown; use one of {RECORD_MODES}"
            )
        if not self.timeout > 0:
            raise ConfigError(f"LLM timeout must be positive seconds, was {self.timeout}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LlmSettings:
        """Read the `DESK_LLM_*` variables (see the module doc)."""
        env = os.environ if env is None else env
        provider = env.get("DESK_LLM_PROVIDER", "ollama")
        base_url = env.get("DESK_LLM_BASE_URL", "")
        if not base_url and provider == "ollama" and env.get("OLLAMA_HOST"):
            host = env["OLLAMA_HOST"]
            base_url = host if "://" in host else f"http://{host}"
        return cls(
            provider=provider,
            base_url=base_url,
            model=env.get("DESK_LLM_MODEL", ""),
            api_key_env=env.get("DESK_LLM_API_KEY_ENV", ""),
            temperature=_number(env, "DESK_LLM_TEMPERATURE", float),
            seed=_number(env, "DESK_LLM_SEED", int),
            timeout=_number(env, "DESK_LLM_TIMEOUT", float) or 120.0,
            record_dir=env.get("DESK_LLM_RECORD", ""),
            record_mode=env.get("DESK_LLM_RECORD_MODE", "auto"),
        )

    @property
    def url(self) -> str:
        """The server address, without a trailing slash."""
        return (self.base_url or DEFAULT_URLS[self.provider]).rstrip("/")

    @property
    def model_name(self) -> str:
        """The model to ask."""
        return self.model or DEFAULT_MODELS[self.provider]

    def api_key(self) -> str | None:
        """Return the API key from the environment, or None when unset."""
        names = [self.api_key_env] if self.api_key_env else ["DESK_LLM_API_KEY"]
        names += [] if self.api_key_env else [KEY_VARIABLES[self.provider]]
        return next((os.environ[n] for n in names if os.environ.get(n)), None)


def _number(env: Mapping[str, str], name: str, kind: type[float] | type[int]) -> Any:
    text = env.get(name, "")
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r} is not a {kind.__name__}") from None


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One request to the LLM, transport-neutral; `key()` identifies it for recordings."""

    provider: str
    model: str
    messages: tuple[tuple[str, str], ...]
    schema: Mapping[str, Any] | None
    temperature: float | None
    seed: int | None

    def as_dict(self) -> dict[str, Any]:
        """Return the request as plain JSON data."""
        return {
            "provider": self.provider,
            "model": self.model,
            "messages": [{"role": r, "content": c} for r, c in self.messages],
            "schema": self.schema,
            "temperature": self.temperature,
            "seed": self.seed,
        }

    def key(self) -> str:
        """Return the sha256 of the request (server address and key left out)."""
        text = json.dumps(self.as_dict(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()


class Transport(Protocol):
    """Sends a request to an LLM and returns the answer's text."""

    def complete(self, request: ChatRequest) -> str:
        """Return the assistant's answer to `request`."""
        ...
