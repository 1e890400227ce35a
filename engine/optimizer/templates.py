"""The default template: the sections of the generated Python module (docs/optimizer.md#code).

Every method returns source text; an optimizer's `template` mapping replaces any of them
by name, the rest come from here (upstream's per-method merge). Literals are emitted with
`literal()`, never hand-escaped, so any name or prompt gives valid Python.
"""

from __future__ import annotations

import ast
import dataclasses
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from engine.optimizer import blocks
from engine.optimizer.jsjson import stringify
from engine.optimizer.llm_types import LlmSettings


def literal(text: str, indent: int = 0) -> str:
    """Return a Python literal of `text`; multi-line text as a readable join of lines.

    Args:
        text: The string to emit.
        indent: Columns of the line the literal starts on (continuation lines line up).
    """
    lines = text.split("\n")
    if len(lines) == 1:
        return _quote(text)
    pad = " " * indent
    body = "".join(f"{pad}        {_quote(line)},\n" for line in lines)
    return f'"\\n".join(\n{pad}    [\n{body}{pad}    ]\n{pad})'


def _quote(text: str) -> str:
    quoted = json.dumps(text, ensure_ascii=False)
    try:
        if ast.literal_eval(quoted) == text:
            return quoted
    except (SyntaxError, ValueError):
        pass
    return repr(text)


def llm_settings_section(settings: LlmSettings | None) -> str:
    """Return the `LLM_SETTINGS` line: pinned settings, or None for the environment's."""
    if settings is None:
        return "LLM_SETTINGS: LlmSettings | None = None  # the DESK_LLM_* environment variables"
    args = "".join(
        f"    {f.name}={_value(getattr(settings, f.name))},\n"
        for f in dataclasses.fields(settings)
        if getattr(settings, f.name) != f.default
    )
    return f"LLM_SETTINGS: LlmSettings | None = LlmSettings(\n{args})"


def _value(value: Any) -> str:
    return literal(value) if isinstance(value, str) else repr(value)


def _date(moment: datetime) -> str:
    return f"datetime.fromisoformat({_quote(moment.astimezone(UTC).isoformat())})"


class OptimizerTemplate:
    """The default sections; the schema's `template` mapping replaces methods by name."""

    def get_top_banner(self, symbol: str) -> str:
        """Return the module docstring, imports and the lists `register()` reads."""
        return blocks.BANNER

    def get_user_message(self, symbol: str, data: Sequence[Any], name: str) -> str:
        """Return the user turn for a source's rows: an instruction and the rows as JSON."""
        return f"{blocks.DEFAULT_USER_MESSAGE}\n\n{stringify(list(data))}"

    def get_assistant_message(self, symbol: str, data: Sequence[Any], name: str) -> str:
        """Return the assistant's acknowledgement of a source's rows."""
        return blocks.DEFAULT_ASSISTANT_MESSAGE

    def get_json_dump_template(self, symbol: str) -> str:
        """Return `dump_json`, which logs each LLM call in dump/strategy beside the module."""
        return blocks.JSON_DUMP

    def get_text_template(self, symbol: str) -> str:
        """Return the prompts and `text(messages)`, the free-text LLM helper."""
        user = blocks.TEXT_USER_PROMPT.format(symbol=symbol.upper())
        return (
            f"TEXT_SYSTEM_PROMPT = {literal(blocks.TEXT_SYSTEM_PROMPT)}\n"
            f"TEXT_USER_PROMPT = {literal(user)}\n\n\n{blocks.TEXT}"
        )

    def get_json_template(self, symbol: str) -> str:
        """Return the signal prompt and schema, `json_signal` and `llm_strategy`."""
        return (
            f"SIGNAL_SYSTEM_PROMPT = {literal(blocks.SIGNAL_SYSTEM_PROMPT)}\n"
            f"SIGNAL_REQUEST = {literal(blocks.SIGNAL_REQUEST)}\n"
            f"SIGNAL_REQUEST_END = {literal(blocks.SIGNAL_REQUEST_END)}\n"
            f"{blocks.SIGNAL_SCHEMA}\n\n\n{blocks.JSON}"
        )

    def get_exchange_template(self, symbol: str, exchange_name: str) -> str:
        """Return a Binance spot exchange through ccxt (candles need the network)."""
        return (
            f"{blocks.CCXT_EXCHANGE}\n\n\n"
            "EXCHANGES.append(\n"
            "    {\n"
            f'        "exchange_name": {literal(exchange_name)},\n'
            '        "get_candles": fetch_binance,\n'
            '        "format_price": lambda symbol, price: f"{price:.2f}",\n'
            '        "format_quantity": lambda symbol, quantity: f"{quantity:.8f}",\n'
            "    }\n"
            ")"
        )

    def get_frame_template(
        self,
        symbol: str,
        frame_name: str,
        interval: str,
        start_date: datetime,
        end_date: datetime,
    ) -> str:
        """Return the registration of one frame."""
        return (
            "FRAMES.append(\n"
            "    {\n"
            f'        "frame_name": {literal(frame_name)},\n'
            f'        "interval": {literal(interval)},\n'
            f'        "start_date": {_date(start_date)},\n'
            f'        "end_date": {_date(end_date)},\n'
            "    }\n"
            ")"
        )

    def get_strategy_template(self, strategy_name: str, interval: str, prompt: str) -> str:
        """Return the registration of one LLM-driven strategy following `prompt`."""
        return (
            "STRATEGIES.append(\n"
            "    {\n"
            f'        "strategy_name": {literal(strategy_name)},\n'
            f'        "interval": {literal(interval)},\n'
            f'        "get_signal": llm_strategy(\n'
            f"            {literal(prompt, 12)}\n"
            "        ),\n"
            "    }\n"
            ")"
        )

    def get_walker_template(
        self, walker_name: str, exchange_name: str, frame_name: str, strategies: Sequence[str]
    ) -> str:
        """Return the registration of the walker comparing the strategies."""
        names = "".join(f"            {literal(s)},\n" for s in strategies)
        return (
            "WALKERS.append(\n"
            "    {\n"
            f'        "walker_name": {literal(walker_name)},\n'
            f'        "exchange_name": {literal(exchange_name)},\n'
            f'        "frame_name": {literal(frame_name)},\n'
            f'        "strategies": [\n{names}        ],\n'
            "    }\n"
            ")"
        )

    def get_launcher_template(self, symbol: str, walker_name: str) -> str:
        """Return `register()`, `main()` and the entry points."""
        return (
            f"SYMBOL = {literal(symbol)}\nWALKER_NAME = {literal(walker_name)}\n{blocks.LAUNCHER}"
        )
