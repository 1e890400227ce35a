"""The LLM client against a scripted local server: both protocols, errors, recordings."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from engine.core.errors import SignalValidationError
from engine.optimizer.llm import LlmClient, LlmError, LlmSettings, LlmUnavailableError
from engine.optimizer.signals import trading_signal
from tests.engine.llm_server import Reply, Seen, error_reply, serve

SCHEMA = {
    "type": "object",
    "properties": {"position": {"type": "string"}},
    "required": ["position"],
}
MESSAGES = [{"role": "user", "content": "BTCUSDT?"}]


@pytest.fixture(autouse=True)
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DESK_LLM_API_KEY", "OLLAMA_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def client(url: str, provider: str = "ollama", **kw: Any) -> LlmClient:
    return LlmClient(LlmSettings(provider=provider, base_url=url, model="m1", **kw))


def test_ollama_request_and_answer() -> None:
    with serve(lambda seen: '{"position": "long"}') as server:
        answer = client(server.url, temperature=0.2, seed=7).chat_json(MESSAGES, SCHEMA)
    assert answer == {"position": "long"}
    (seen,) = server.requests
    assert (seen.method, seen.path) == ("POST", "/api/chat")
    assert seen.body == {
        "model": "m1",
        "messages": MESSAGES,
        "stream": False,
        "format": SCHEMA,
        "options": {"temperature": 0.2, "seed": 7},
    }
    assert "authorization" not in seen.headers  # upstream sent "Bearer undefined"


def test_openai_request_answer_and_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with serve(lambda seen: "plain text ") as server:
        llm = client(server.openai_url, "openai", seed=3)
        assert llm.chat(MESSAGES) == "plain text "
        llm.chat(MESSAGES, SCHEMA)
    first, second = server.requests
    assert (first.method, first.path) == ("POST", "/v1/chat/completions")
    assert first.body == {"model": "m1", "messages": MESSAGES, "stream": False, "seed": 3}
    assert second.body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": SCHEMA, "strict": False},
    }
    assert first.headers["authorization"] == "Bearer sk-test"


def test_the_key_variable_can_be_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", "k1")
    with serve(lambda seen: "ok") as server:
        client(server.url, api_key_env="MY_KEY").chat(MESSAGES)
    assert server.requests[0].headers["authorization"] == "Bearer k1"


@pytest.mark.parametrize("provider", ["ollama", "openai"])
@pytest.mark.parametrize(
    ("reply", "kind", "text"),
    [
        (
            lambda s: error_reply(s, 404, "model 'm1' not found"),
            LlmError,
            "answered 404 .*model 'm1' not found",
        ),
        (
            lambda s: error_reply(s, 500, "out of memory"),
            LlmUnavailableError,
            "answered 500 .*out of memory",
        ),
        (lambda s: Reply(text="<html>"), LlmError, "reply that is not JSON: '<html>'"),
        (lambda s: Reply(body={"done": True}), LlmError, "reply has no .*content text"),
        (lambda s: "no json here", LlmError, "the LLM answer is not JSON"),
        (lambda s: Reply(body={}, delay=1.0), LlmUnavailableError, "did not answer within 0.3 s"),
    ],
)
def test_server_failures_become_llm_errors(
    provider: str, reply: Any, kind: type, text: str
) -> None:
    with serve(reply) as server:
        url = server.url if provider == "ollama" else server.openai_url
        with pytest.raises(kind, match=text) as error:
            client(url, provider, timeout=0.3).chat_json(MESSAGES, SCHEMA)
    assert "Traceback" not in str(error.value)


def test_an_unreachable_server_is_a_temporary_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(LlmUnavailableError, match=rf"127.0.0.1:{port}/api/chat is unreachable"):
        client(f"http://127.0.0.1:{port}").chat(MESSAGES)


def test_settings_from_the_environment() -> None:
    settings = LlmSettings.from_env(
        {"OLLAMA_HOST": "10.0.0.5:11434", "DESK_LLM_SEED": "5", "DESK_LLM_TEMPERATURE": "0"}
    )
    assert (settings.url, settings.model_name, settings.seed, settings.temperature) == (
        "http://10.0.0.5:11434",
        "deepseek-v3.1:671b",
        5,
        0.0,
    )
    openai = LlmSettings.from_env({"DESK_LLM_PROVIDER": "openai", "DESK_LLM_MODEL": "x"})
    assert (openai.url, openai.model_name) == ("https://api.openai.com/v1", "x")
    with pytest.raises(Exception, match="DESK_LLM_SEED='five' is not a int"):
        LlmSettings.from_env({"DESK_LLM_SEED": "five"})
    with pytest.raises(Exception, match="provider 'claude' is unknown"):
        LlmSettings.from_env({"DESK_LLM_PROVIDER": "claude"})


def test_recording_then_replay_without_the_server(tmp_path: Path) -> None:
    answers = iter(['{"position": "long"}', '{"position": "short"}'])
    with serve(lambda seen: next(answers)) as server:
        live = client(server.url, record_dir=str(tmp_path))
        assert live.chat_json(MESSAGES, SCHEMA) == {"position": "long"}
        assert live.chat_json(MESSAGES, SCHEMA) == {"position": "long"}  # auto: replayed
        url = server.url
    assert len(server.requests) == 1
    (file,) = tmp_path.glob("*/*.json")
    record = json.loads(file.read_text())
    assert record["request"]["messages"] == MESSAGES and record["request"]["schema"] == SCHEMA
    replay = client(url, record_dir=str(tmp_path), record_mode="replay")
    assert replay.chat_json(MESSAGES, SCHEMA) == {"position": "long"}
    with pytest.raises(LlmError, match=r"no recorded LLM answer .* \(replay mode\)"):
        replay.chat([{"role": "user", "content": "other"}])
    # the hash ignores the server address but not the model
    other_model = LlmClient(
        LlmSettings(base_url=url, model="m2", record_dir=str(tmp_path), record_mode="replay")
    )
    with pytest.raises(LlmError, match="no recorded"):
        other_model.chat(MESSAGES, SCHEMA)


def test_record_mode_always_asks_and_overwrites(tmp_path: Path) -> None:
    answers = iter(["first", "second"])
    with serve(lambda seen: next(answers)) as server:
        llm = client(server.url, record_dir=str(tmp_path), record_mode="record")
        assert [llm.chat(MESSAGES), llm.chat(MESSAGES)] == ["first", "second"]
    replay = client(server.url, record_dir=str(tmp_path), record_mode="replay")
    assert replay.chat(MESSAGES) == "second"


SIGNAL = {
    "position": "long",
    "note": "n",
    "priceOpen": 100,
    "priceTakeProfit": 101,
    "priceStopLoss": 99,
    "minuteEstimatedTime": 59.6,
}


def test_signal_hygiene_of_the_default_profile() -> None:
    assert trading_signal({**SIGNAL, "position": "wait"}) is None
    assert trading_signal(SIGNAL) == {
        "position": "long",
        "note": "n",
        "price_open": 100.0,
        "price_take_profit": 101.0,
        "price_stop_loss": 99.0,
        "minute_estimated_time": 60,
    }
    with pytest.raises(SignalValidationError, match=r"priceOpen: Field required.*: no signal"):
        trading_signal({k: v for k, v in SIGNAL.items() if k != "priceOpen"})
    with pytest.raises(SignalValidationError, match="position: Input should be 'wait', 'long'"):
        trading_signal({**SIGNAL, "position": "hold"})


def test_the_legacy_profile_returns_the_answer_as_is(monkeypatch: pytest.MonkeyPatch) -> None:
    import engine

    engine.use_profile("backtest-kit-1.4.10")
    try:
        wait = {**SIGNAL, "position": "wait"}
        assert trading_signal(wait) is wait
    finally:
        engine.use_profile("default")


def test_seen_requests_keep_their_messages() -> None:
    with serve(lambda seen: "ok") as server:
        client(server.url).chat(MESSAGES)
    seen: Seen = server.requests[0]
    assert seen.messages == MESSAGES and seen.protocol == "ollama"
