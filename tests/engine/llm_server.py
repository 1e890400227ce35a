"""A scripted LLM server on 127.0.0.1 speaking Ollama's and OpenAI's chat protocols.

`serve(script)` starts it in a daemon thread; `script(request)` decides each answer: a
string is the assistant's text (wrapped in the protocol's reply), a `Reply` is sent raw
(status, body), and a `Reply` with `delay` waits first (for timeouts). Every request is
recorded in `server.requests`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_DELAY = 3.0


@dataclass(frozen=True)
class Seen:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def messages(self) -> list[dict[str, str]]:
        return list(self.body["messages"])

    @property
    def protocol(self) -> str:
        return "openai" if self.path.endswith("/chat/completions") else "ollama"


@dataclass(frozen=True)
class Reply:
    """A raw reply: status, JSON body (or text), optional delay before sending."""

    status: int = 200
    body: Any = None
    text: str | None = None
    delay: float = 0.0


Script = Callable[[Seen], "str | Reply"]


@dataclass
class LlmServer:
    """The running server: its base URLs and the requests it saw."""

    port: int
    requests: list[Seen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_url(self) -> str:
        return f"{self.url}/v1"


def _wrap(seen: Seen, content: str) -> dict[str, Any]:
    message = {"role": "assistant", "content": content}
    if seen.protocol == "openai":
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": seen.body.get("model"),
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }
    return {
        "model": seen.body.get("model"),
        "created_at": "2024-01-01T00:00:00Z",
        "message": message,
        "done": True,
        "done_reason": "stop",
    }


def error_reply(seen: Seen, status: int, text: str) -> Reply:
    """Return an error in the protocol's shape."""
    if seen.protocol == "openai":
        return Reply(status, {"error": {"message": text, "type": "invalid_request_error"}})
    return Reply(status, {"error": text})


def _handler(server: LlmServer, script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, reply: Reply) -> None:
            time.sleep(min(reply.delay, MAX_DELAY))
            data = (reply.text if reply.text is not None else json.dumps(reply.body)).encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (timeout)
                pass

        def do_GET(self) -> None:
            seen = Seen("GET", self.path, {k.lower(): v for k, v in self.headers.items()}, None)
            server.requests.append(seen)
            if self.path == "/api/version":
                self._send(Reply(body={"version": "0.0.0-test"}))
            elif self.path in ("/api/tags", "/v1/models"):
                self._send(Reply(body={"models": [{"name": "test", "model": "test"}]}))
            else:
                self._send(Reply(404, {"error": f"no route {self.path}"}))

        def do_POST(self) -> None:
            size = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(size))
            headers = {k.lower(): v for k, v in self.headers.items()}
            seen = Seen("POST", self.path, headers, body)
            server.requests.append(seen)
            if self.path not in ("/api/chat", "/v1/chat/completions"):
                self._send(error_reply(seen, 404, f"no route {self.path}"))
                return
            answer = script(seen)
            self._send(answer if isinstance(answer, Reply) else Reply(body=_wrap(seen, answer)))

    return Handler


@contextmanager
def serve(script: Script) -> Iterator[LlmServer]:
    """Run a scripted server on a free port of 127.0.0.1 until the block ends."""
    state = LlmServer(0)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state, script))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="llm-server", daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def unauthorized_echoing_key(seen: Seen) -> Reply:
    """Refuse with 401 and echo the bearer key in full, as OpenAI's servers do."""
    key = seen.headers.get("authorization", "").removeprefix("Bearer ")
    return error_reply(
        seen,
        401,
        f"Incorrect API key provided: {key}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
    )
