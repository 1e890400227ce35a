"""Exchange API keys: read from the environment (or a `.env` file the user names), never stored.

Keys live only in memory. Their `repr` and every message the engine builds show at most the
last four characters; `redact` scrubs them from third-party error texts, and `mask_secrets`
scrubs every secret configured in the environment (LLM keys too) from any error text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from engine.core.errors import ConfigError

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def mask(value: str | None) -> str:
    """Return a secret as `…abcd` (its last four characters), or `(none)`."""
    if not value:
        return "(none)"
    return "…" + value[-4:] if len(value) > 4 else "…"


@dataclass(frozen=True, slots=True)
class ApiCredentials:
    """An exchange's API key, secret and optional password; printed masked."""

    api_key: str = field(repr=False)
    secret: str = field(repr=False)
    password: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"ApiCredentials(api_key={mask(self.api_key)}, secret={mask(self.secret)})"

    __str__ = __repr__

    def values(self) -> tuple[str, ...]:
        """Return the non-empty secret values (for `redact`)."""
        return tuple(v for v in (self.api_key, self.secret, self.password) if v)


def read_env_file(path: str | Path) -> dict[str, str]:
    """Parse `KEY=VALUE` lines (comments, blank lines, `export`, quotes allowed).

    Raises:
        ConfigError: the file is missing or a line is not `KEY=VALUE` (the value is not shown).
    """
    file = Path(path).expanduser()
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"env file {file} cannot be read: {exc.strerror}") from None
    values: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise ConfigError(f"{file}:{number}: expected KEY=VALUE")
        key, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def env_names(exchange_id: str) -> tuple[str, str, str]:
    """Return the variables holding an exchange's key, secret and password.

    For `binance`: `BINANCE_API_KEY`, `BINANCE_API_SECRET`, `BINANCE_API_PASSWORD`.
    """
    prefix = re.sub(r"[^A-Z0-9]", "_", exchange_id.upper())
    return f"{prefix}_API_KEY", f"{prefix}_API_SECRET", f"{prefix}_API_PASSWORD"


def exchange_credentials(
    exchange_id: str,
    env_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> ApiCredentials | None:
    """Return an exchange's credentials from the environment, else from `env_file`.

    Returns None when no key is set (market data needs none).

    Raises:
        ConfigError: a key without its secret (or the reverse).
    """
    env = dict(read_env_file(env_file)) if env_file is not None else {}
    env.update(os.environ if environ is None else environ)
    key_name, secret_name, password_name = env_names(exchange_id)
    key, secret = env.get(key_name, ""), env.get(secret_name, "")
    if not key and not secret:
        return None
    if not key or not secret:
        missing = key_name if not key else secret_name
        raise ConfigError(f"{missing} is not set; set both {key_name} and {secret_name}")
    return ApiCredentials(key, secret, env.get(password_name) or None)


SECRET_SUFFIXES = ("_API_KEY", "_API_SECRET", "_API_PASSWORD", "_SECRET", "_TOKEN", "_PASSWORD")
"""Environment variables whose values are secrets (LLM and exchange keys among them)."""
MIN_SECRET_LENGTH = 8
"""Shorter values are not masked: they would blank out ordinary words of a message."""
_KEY_PREFIX = re.compile(r"^[A-Za-z]{2,4}-")


def configured_secrets(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Return the secret values set in the environment, longest first.

    Secrets are the variables ending in one of `SECRET_SUFFIXES` (`DESK_LLM_API_KEY`,
    `OPENAI_API_KEY`, `BINANCE_API_SECRET`, …) and the one `DESK_LLM_API_KEY_ENV` names.
    """
    env = os.environ if environ is None else environ
    names = {name for name in env if name.upper().endswith(SECRET_SUFFIXES)}
    if env.get("DESK_LLM_API_KEY_ENV"):
        names.add(env["DESK_LLM_API_KEY_ENV"])
    values = {env.get(name, "") for name in names}
    return tuple(sorted((v for v in values if len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True))


def mask_in_text(value: str) -> str:
    """Return how a secret shows inside a message: `sk-…abcd` (a short prefix kept)."""
    prefix = _KEY_PREFIX.match(value)
    return (prefix.group(0) if prefix else "") + mask(value)


def mask_secrets(
    text: str, extra: tuple[str, ...] = (), environ: Mapping[str, str] | None = None
) -> str:
    """Mask every configured secret (and `extra` values) found in `text`.

    Use it on any error text shown to the user: servers echo keys back in error bodies.
    """
    secrets = sorted({*configured_secrets(environ), *extra}, key=len, reverse=True)
    for value in secrets:
        if value:
            text = text.replace(value, mask_in_text(value))
    return text


def redact(text: str, credentials: ApiCredentials | None) -> str:
    """Replace every secret value in `text` by its masked form."""
    if credentials is None:
        return text
    for value in credentials.values():
        text = text.replace(value, mask(value))
    return text
