"""Desk themes: TOML files (in `themes/` and the user's config directory) as Textual themes.

A theme file has a `name`, `dark`, a `[colors]` table (Textual's base colours) and a `[desk]`
table with every desk variable (`pnl-up`, `pnl-down`, `long`, `short`, ...). Widgets use the
desk variables through CSS (`$pnl-up`) or, for Rich text and charts, through `desk_color`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from textual.color import Color, ColorParseError
from textual.theme import Theme

DEFAULT_THEME = "desk-dark"

DESK_VARIABLES = (
    "pnl-up",
    "pnl-down",
    "pnl-flat",
    "long",
    "short",
    "entry",
    "exit",
    "take-profit",
    "stop-loss",
    "candle-up",
    "candle-down",
    "equity",
    "muted",
    "pane-border",
)
"""Variables every desk theme defines, on top of Textual's base colours.

`pane-border` is the border of an unfocused pane (a focused one uses `primary`); every text
colour reads at 4.5:1 and every border at 3:1 on the theme's backgrounds (WCAG AA,
`tests/tui/test_contrast.py`).
"""


def _check_color(value: str) -> str:
    try:
        Color.parse(value)
    except ColorParseError:
        raise ValueError(f"{value!r} is not a colour; use #rrggbb or a colour name") from None
    return value


class ThemeColors(BaseModel):
    """Textual's base colours of a theme (`primary` is required, the rest derive from it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    primary: str
    secondary: str | None = None
    accent: str | None = None
    warning: str | None = None
    error: str | None = None
    success: str | None = None
    foreground: str | None = None
    background: str | None = None
    surface: str | None = None
    panel: str | None = None
    boost: str | None = None

    @field_validator("*")
    @classmethod
    def _colour(cls, value: str | None) -> str | None:
        return None if value is None else _check_color(value)


class ThemeFile(BaseModel):
    """The contents of one theme file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    dark: bool = True
    colors: ThemeColors
    desk: dict[str, str]

    @field_validator("desk")
    @classmethod
    def _desk_variables(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(DESK_VARIABLES))
        if unknown:
            raise ValueError(
                f"unknown desk variable {unknown[0]!r}; the desk variables are "
                f"{', '.join(DESK_VARIABLES)}"
            )
        missing = [name for name in DESK_VARIABLES if name not in value]
        if missing:
            raise ValueError(f"missing desk variables: {', '.join(missing)}")
        return {name: _check_color(colour) for name, colour in value.items()}

    def to_theme(self) -> Theme:
        """Return the Textual theme, with the desk variables as theme variables."""
        return Theme(
            name=self.name,
            dark=self.dark,
            variables=dict(self.desk),
            **self.colors.model_dump(),
        )


def parse_theme(text: str, source: str) -> Theme:
    """Parse one theme file's text.

    Args:
        text: The TOML text.
        source: Where it came from, for error messages.

    Raises:
        ValueError: The text is not TOML or not a valid theme; the message names the source.
    """
    try:
        data = tomllib.loads(text)
        return ThemeFile.model_validate(data).to_theme()
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"theme {source}: not valid TOML ({exc})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "file"
        raise ValueError(f"theme {source}: {where}: {first['msg']}") from None


def user_theme_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Return `$XDG_CONFIG_HOME/backtest-desk/themes` (default `~/.config/...`)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "backtest-desk" / "themes"


@dataclass(frozen=True)
class ThemeCatalog:
    """Themes the desk offers, in display order, and the files that could not be loaded."""

    themes: tuple[Theme, ...]
    problems: tuple[str, ...] = field(default=())

    @property
    def names(self) -> tuple[str, ...]:
        """Return the theme names."""
        return tuple(theme.name for theme in self.themes)


def load_themes(user_dir: Path | None) -> ThemeCatalog:
    """Load the built-in themes, then the user's (a user theme may replace a built-in one).

    Args:
        user_dir: The user's theme directory, or None to load only the built-in themes.
    """
    found: dict[str, Theme] = {}
    problems: list[str] = []
    for entry in sorted(resources.files("themes").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            theme = parse_theme(entry.read_text(encoding="utf-8"), entry.name)
            found[theme.name] = theme
    if user_dir is not None and user_dir.is_dir():
        for path in sorted(user_dir.glob("*.toml")):
            try:
                theme = parse_theme(path.read_text(encoding="utf-8"), str(path))
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                problems.append(str(exc))
                continue
            found[theme.name] = theme
    ordered = sorted(found.values(), key=lambda t: (t.name != DEFAULT_THEME, t.name))
    return ThemeCatalog(tuple(ordered), tuple(problems))


def desk_color(variables: Mapping[str, str], name: str) -> Color:
    """Return a desk variable of the current theme as a Textual `Color`."""
    return Color.parse(variables[name])


def desk_rgb(variables: Mapping[str, str], name: str) -> tuple[int, int, int]:
    """Return a desk variable as an RGB triple (what plotext takes)."""
    return desk_color(variables, name).rgb
