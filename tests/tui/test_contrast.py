"""The built-in themes can be read: WCAG 2.x AA contrast, computed from the theme files.

Relative luminance and contrast ratio follow WCAG 2.x (sRGB channels linearised with the
0.04045 threshold; ratio = (L1 + 0.05) / (L2 + 0.05)). Colours with alpha (`$text-muted` is
`auto 60%`) are blended over the background they are drawn on first, as the terminal shows
them. AA asks text ≥ 4.5:1 and borders, focus and chart marks ≥ 3:1.

Pairs checked, on each of the backgrounds `background` (the screen), `surface` (the panes)
and `panel` (title lines, header, footer):
- text: `foreground`, `text-muted`, `primary`, `accent`, `warning`, `error`, `success` and the
  desk's text colours `pnl-up`, `pnl-down`, `pnl-flat`, `long`, `short`, `muted`, `entry`,
  `exit`, `take-profit`, `stop-loss`, all ≥ 4.5;
- borders and focus: `pane-border` (an unfocused pane) and `primary` (the focused pane) on
  `background` and `surface`, ≥ 3;
- chart marks: `candle-up`, `candle-down`, `equity` on `surface`, ≥ 3.
"""

from __future__ import annotations

from importlib import resources

import pytest
from textual.color import Color
from textual.theme import Theme

from tui.theming import parse_theme

TEXT = (
    "foreground",
    "text-muted",
    "primary",
    "accent",
    "warning",
    "error",
    "success",
    "pnl-up",
    "pnl-down",
    "pnl-flat",
    "long",
    "short",
    "muted",
    "entry",
    "exit",
    "take-profit",
    "stop-loss",
)
TEXT_GROUNDS = ("background", "surface", "panel")
BORDERS = ("pane-border", "primary")
BORDER_GROUNDS = ("background", "surface")
MARKS = ("candle-up", "candle-down", "equity")
AA_TEXT, AA_GRAPHICS = 4.5, 3.0


def theme_files() -> list[str]:
    """The built-in theme files (every one must be readable)."""
    return sorted(e.name for e in resources.files("themes").iterdir() if e.name.endswith(".toml"))


def load(name: str) -> dict[str, str]:
    """Return every colour variable of a theme file, as Textual generates them."""
    text = (resources.files("themes") / name).read_text(encoding="utf-8")
    theme: Theme = parse_theme(text, name)
    return theme.to_color_system().generate() | dict(theme.variables)


def channel(value: float) -> float:
    """Linearise one sRGB channel (0-255), per WCAG 2.x."""
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(color: Color) -> float:
    """Return the relative luminance of an opaque colour."""
    r, g, b = color.rgb
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def ratio(front: Color, back: Color) -> float:
    """Return the WCAG contrast ratio of `front` drawn over `back` (alpha blended first)."""
    shown = back.blend(front.with_alpha(1.0), front.a) if front.a < 1 else front
    lighter, darker = sorted((luminance(shown), luminance(back)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def resolve(variables: dict[str, str], name: str, back: Color) -> Color:
    """Return a variable as a colour; `auto N%` is the contrast text Textual picks on `back`."""
    value = variables[name]
    if value.startswith("auto"):
        alpha = float(value.split()[1].rstrip("%")) / 100 if " " in value else 1.0
        return back.get_contrast_text(alpha)
    return Color.parse(value)


def test_the_wcag_formula_gives_the_known_ratios() -> None:
    black, white = Color(0, 0, 0), Color(255, 255, 255)
    assert ratio(black, white) == pytest.approx(21.0)
    assert ratio(Color(0x76, 0x76, 0x76), white) == pytest.approx(4.54, abs=0.01)
    assert ratio(white.with_alpha(0.0), black) == pytest.approx(1.0)


@pytest.mark.parametrize("name", theme_files())
def test_every_text_colour_reads_at_aa_on_every_background(name: str) -> None:
    variables = load(name)
    failures = []
    for ground in TEXT_GROUNDS:
        back = Color.parse(variables[ground])
        for text in TEXT:
            value = ratio(resolve(variables, text, back), back)
            if value < AA_TEXT:
                failures.append(f"{text} on {ground}: {value:.2f}")
    assert not failures, f"{name}: text below {AA_TEXT}:1: {', '.join(failures)}"


@pytest.mark.parametrize("name", theme_files())
def test_borders_focus_and_chart_marks_stand_out_at_aa(name: str) -> None:
    variables = load(name)
    failures = []
    pairs = [(b, g) for b in BORDERS for g in BORDER_GROUNDS] + [(m, "surface") for m in MARKS]
    for front, ground in pairs:
        back = Color.parse(variables[ground])
        value = ratio(resolve(variables, front, back), back)
        if value < AA_GRAPHICS:
            failures.append(f"{front} on {ground}: {value:.2f}")
    assert not failures, f"{name}: below {AA_GRAPHICS}:1: {', '.join(failures)}"
