"""Shared pieces of the markdown reports: tables, numbers, dates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from engine.jsformat import to_fixed
from engine.logger import get_logger


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Return a markdown table."""
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def iso(ms: int) -> str:
    """Return epoch milliseconds as `2024-01-01T00:51:00.000Z`."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def fixed(value: float | None, digits: int, suffix: str = "", signed: bool = False) -> str:
    """Return `value` rounded like JavaScript's toFixed, or `N/A` for a missing value."""
    if value is None:
        return "N/A"
    sign = "+" if signed and value > 0 else ""
    return f"{sign}{to_fixed(value, digits)}{suffix}"


def price(value: float) -> str:
    """Return a price as `42033.47000000 USD`."""
    return f"{to_fixed(value, 8)} USD"


def document(title: str, *sections: str) -> str:
    """Join a title and non-empty sections with blank lines, ending with a newline."""
    return "\n\n".join([title, *(s for s in sections if s)]) + "\n"


def bullets(lines: Sequence[str]) -> str:
    """Return summary lines as a markdown list, so each stays on its own line when rendered."""
    return "\n".join(f"- {line}" for line in lines)


def save_report(folder: str | Path, name: str, text: str, label: str) -> Path:
    """Write `text` to `<folder>/<name>.md` (creating folders) and log where it went."""
    target = Path(folder) / f"{name}.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    get_logger().log(f"{label} saved: {target}")
    return target
