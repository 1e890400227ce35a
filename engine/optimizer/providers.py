"""HTTP transports to Ollama and OpenAI-compatible servers (httpx, the `llm` extra).

Failures become `LlmError`s: unreachable, timeout, 5xx and 429 as `LlmUnavailableError`,
other 4xx with the server's own message, and replies without an answer's text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from engine.core.errors import ConfigError
from engine.optimizer.llm_types import (
    ChatRequest,
    LlmError,
    LlmSettings,
    LlmUnavailableError,
    Transport,
)

if TYPE_CHECKING:
    import httpx

USER_AGENT = "backtest-desk"


def make_transport(settings: LlmSettings) -> Transport:
    """Return the transport of `settings.provider`.

    Raises:
        ConfigError: httpx is not installed.
    """
    try:
        import httpx
    except ImportError:
        raise ConfigError("the LLM client needs httpx: pip install 'backtest-desk[llm]'") from None
    http = httpx.Client(timeout=settings.timeout, headers={"User-Agent": USER_AGENT})
    if settings.provider == "openai":
        return OpenAITransport(settings, http)
    return OllamaTransport(settings, http)


class _HttpTransport:
    """POSTs JSON and turns every failure into an `LlmError`."""

    def __init__(self, settings: LlmSettings, http: httpx.Client) -> None:
        self.settings = settings
        self.http = http

    def _post(self, path: str, body: Mapping[str, Any]) -> Any:
        import httpx

        url = f"{self.settings.url}{path}"
        key = self.settings.api_key()
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        try:
            response = self.http.post(url, json=body, headers=headers)
        except httpx.TimeoutException:
            raise LlmUnavailableError(
                f"the LLM server at {url} did not answer within {self.settings.timeout:g} s; "
                "raise DESK_LLM_TIMEOUT or use a smaller model"
            ) from None
        except httpx.HTTPError as exc:
            raise LlmUnavailableError(
                f"the LLM server at {url} is unreachable ({exc}); start it or set DESK_LLM_BASE_URL"
            ) from None
        if response.status_code >= 400:
            kind = (
                LlmUnavailableError
                if response.status_code >= 500 or response.status_code == 429
                else LlmError
            )
            raise kind(
                f"the LLM server answered {response.status_code} to POST {url}: "
                f"{_error_text(response)}"
            )
        try:
            return response.json()
        except ValueError:
            raise LlmError(
                f"the LLM server at {url} sent a reply that is not JSON: {response.text[:200]!r}"
            ) from None


def _error_text(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return response.text[:200] or response.reason_phrase
    if isinstance(error, Mapping):
        return str(error.get("message", error))
    return str(error)


def _answer(reply: Any, *path: str | int) -> str:
    value = reply
    for step in path:
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            value = None
            break
    if not isinstance(value, str):
        where = ".".join(str(p) for p in path)
        raise LlmError(f"the LLM server's reply has no {where} text: {str(reply)[:200]}")
    return value


class OllamaTransport(_HttpTransport):
    """`POST /api/chat`, non-streaming; a schema goes in `format`, options in `options`."""

    def complete(self, request: ChatRequest) -> str:
        """Return the answer's `message.content`."""
        body: dict[str, Any] = {
            "model": request.model,
            "messages": request.as_dict()["messages"],
            "stream": False,
        }
        if request.schema is not None:
            body["format"] = request.schema
        options = {"temperature": request.temperature, "seed": request.seed}
        options = {k: v for k, v in options.items() if v is not None}
        if options:
            body["options"] = options
        return _answer(self._post("/api/chat", body), "message", "content")


class OpenAITransport(_HttpTransport):
    """`POST <base>/chat/completions`; a schema goes in `response_format` (json_schema)."""

    def complete(self, request: ChatRequest) -> str:
        """Return the first choice's `message.content`."""
        body: dict[str, Any] = {
            "model": request.model,
            "messages": request.as_dict()["messages"],
            "stream": False,
        }
        if request.schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": "answer",
                    "schema": request.schema,
                    "strict": request.schema.get("additionalProperties") is False,
                },
            }
        for option in ("temperature", "seed"):
            value = getattr(request, option)
            if value is not None:
                body[option] = value
        reply = self._post("/chat/completions", body)
        return _answer(reply, "choices", 0, "message", "content")
