"""The user's keymap: `binding-id = "keys"` lines in a TOML file that rebind the desk's keys.

```toml
# ~/.config/backtest-desk/keymap.toml: the help screen (?) lists every binding id
show-history = "ctrl+o"
launch-backtest = "b,f5"
```

Textual applies the keymap (`App.set_keymap`); this module reads the file and checks it, so a
typo gets a message that names the entry and the fix instead of a silently ignored line.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

KEYMAP_FILE = "keymap.toml"


def user_keymap_path(environ: Mapping[str, str] | None = None) -> Path:
    """Return `$XDG_CONFIG_HOME/backtest-desk/keymap.toml` (default `~/.config/...`)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "backtest-desk" / KEYMAP_FILE


@dataclass(frozen=True)
class Keymap:
    """Keys by binding id, and what in the file could not be used (one message per problem)."""

    keys: dict[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


def load_keymap(path: Path, binding_ids: Collection[str]) -> Keymap:
    """Read the keymap at `path` (absent: no keymap); entries with a problem are left out.

    Args:
        path: The keymap file.
        binding_ids: Every binding id of the desk (an entry must name one of them).
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Keymap()
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return Keymap(
            problems=(f"{path} cannot be read ({exc}); fix it or remove it. Default keys apply.",)
        )
    keys: dict[str, str] = {}
    problems: list[str] = []
    for binding_id, value in data.items():
        if binding_id not in binding_ids:
            close = difflib.get_close_matches(binding_id, binding_ids, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            problems.append(
                f"{path}: no key has the id {binding_id!r}; {hint}the help screen (?) lists them"
            )
        elif not isinstance(value, str) or not value.strip(",+ "):
            problems.append(
                f"{path}: {binding_id} = {value!r} is not a key; write keys as a string, "
                'e.g. "ctrl+o" or "b,f5"'
            )
        else:
            keys[binding_id] = value.replace(" ", "")
    return Keymap(keys, tuple(problems))
