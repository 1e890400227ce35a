"""The docs: every reference points into the repository, and the porting guide covers upstream.

A maintainer must be able to follow every citation in code, comments, docstrings and
markdown: a `docs/…` page and its `#anchor` must exist, and no text may cite one of the
design documents the project started from, which were never part of the repository.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

import engine

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
SCANNED_DIRS = ("engine", "tui", "tests", "bench", "themes", "docs", ".ci")
SCANNED_FILES = ("README.md", "mkdocs.yml", "pyproject.toml")
TEXT_SUFFIXES = {".py", ".md", ".toml", ".yml", ".yaml", ".tcss", ".txt", ""}

# The design documents of the project's start (and the section sign their citations used).
GONE = re.compile(
    r"\bSPEC\b|\bDESIGN\.md|\bWIREFRAMES\b|\bSTYLE\.md|\bOPTIMIZER\.md|reference/README|§"
)
# `docs/page.md`, `docs/page.md#anchor`, and `, #more` anchors of the same page after it.
DOCS_REF = re.compile(r"\bdocs/([\w./-]+\.md)((?:#[\w-]+)?(?:, #[\w-]+)*)")
# A markdown link inside a docs page: `](page.md)`, `](page.md#anchor)`, `](#anchor)`.
PAGE_LINK = re.compile(r"\]\(((?:[\w./-]+\.md)?)(#[\w-]+)?\)")
HEADING = re.compile(r"^#{1,6} (.+?)(?: \{#([\w-]+)\})?\s*$", re.M)
NAMES_FILE = ROOT / "tests" / "data" / "upstream_api_names.txt"


def scanned_files() -> list[Path]:
    """Return every text file a citation could sit in, this test excepted."""
    files = [ROOT / name for name in SCANNED_FILES]
    for folder in SCANNED_DIRS:
        for path in sorted((ROOT / folder).rglob("*")):
            parts = set(path.relative_to(ROOT).parts)
            if (
                path.is_file()
                and path.suffix in TEXT_SUFFIXES
                and not parts
                & {
                    "__pycache__",
                    "__snapshots__",
                }
            ):
                files.append(path)
    return [path for path in files if path.resolve() != Path(__file__).resolve()]


def anchors(page: Path) -> set[str]:
    """Return the anchors of a docs page: explicit `{#id}`s, else the headings' slugs."""
    found = set()
    for title, explicit in HEADING.findall(page.read_text(encoding="utf-8")):
        slug = re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", title).strip().lower())
        found.add(explicit or slug)
    return found


def broken(page: str, fragments: str, where: str) -> list[str]:
    """Return what is wrong with a reference to `page` and its `#anchor` fragments."""
    target = DOCS / page
    if not target.is_file():
        return [f"{where}: docs/{page} does not exist"]
    known = anchors(target)
    return [
        f"{where}: docs/{page} has no anchor #{anchor}"
        for anchor in re.findall(r"#([\w-]+)", fragments)
        if anchor not in known
    ]


def test_no_text_cites_a_document_that_is_not_in_the_repository() -> None:
    cited = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in scanned_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if GONE.search(line)
    ]
    assert cited == []


def test_every_docs_reference_names_a_page_and_anchor_that_exist() -> None:
    problems = []
    for path in scanned_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{path.relative_to(ROOT)}:{number}"
            for page, fragments in DOCS_REF.findall(line):
                problems += broken(page, fragments, where)
    assert problems == []


def test_every_link_between_docs_pages_resolves() -> None:
    problems = []
    for page in sorted(DOCS.rglob("*.md")):
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{page.relative_to(ROOT)}:{number}"
            for target, fragment in PAGE_LINK.findall(line):
                name = str((page.parent / target).relative_to(DOCS)) if target else page.name
                problems += broken(name, fragment, where)
    assert problems == []


def test_the_checks_catch_a_missing_page_a_missing_anchor_and_a_gone_document() -> None:
    assert broken("nowhere.md", "", "x") == ["x: docs/nowhere.md does not exist"]
    assert broken("semantics.md", "#vwap, #nowhere", "x") == [
        "x: docs/semantics.md has no anchor #nowhere"
    ]
    assert DOCS_REF.findall("(docs/semantics.md#vwap, #pnl)") == [("semantics.md", "#vwap, #pnl")]
    assert GONE.search("the rule of " + "SPEC" + " §5.2") is not None
    assert GONE.search("docs/semantics.md#validation") is None


# ----- the porting guide ------------------------------------------------------------------


def upstream_names() -> list[str]:
    lines = NAMES_FILE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def porting_rows() -> dict[str, str]:
    """Return the porting guide's table rows: upstream name → the Python cell."""
    rows = {}
    for line in (DOCS / "porting.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) >= 2:
            rows[cells[0].strip("`")] = cells[1]
    return rows


def test_the_names_list_holds_upstreams_user_facing_names_only() -> None:
    names = upstream_names()
    assert len(names) == len(set(names)) > 200
    assert {"addStrategy", "Backtest.getData", "IStrategyCallbacks.onWrite"} <= set(names)
    assert not [n for n in names if re.search(r"Service\b|^Client", n.split(".")[0])]


@pytest.mark.parametrize("name", upstream_names())
def test_the_porting_guide_table_covers_upstream_name(name: str) -> None:
    rows = porting_rows()
    assert name in rows, f"docs/porting.md's table has no row for `{name}`"
    assert rows[name], f"the row of `{name}` gives no Python name"


# Where the Python fields of each upstream schema, callbacks or record live.
FIELD_OWNERS = {
    "IStrategySchema": "engine.core.schemas.StrategySchema",
    "IStrategyCallbacks": "engine.core.schemas.StrategyCallbacks",
    "ISignalDto": "engine.core.schemas.SignalDto",
    "IExchangeSchema": "engine.core.schemas.ExchangeSchema",
    "IExchangeCallbacks": "engine.core.schemas.ExchangeCallbacks",
    "IFrameSchema": "engine.core.schemas.FrameSchema",
    "IFrameCallbacks": "engine.core.schemas.FrameCallbacks",
    "IRiskSchema": "engine.core.registration.RiskSchema",
    "IRiskCallbacks": "engine.sim.risk.RiskCallbacks",
    "ISizingSchema": "engine.sim.sizing.SizingSchema",
    "ISizingCallbacks": "engine.sim.sizing.SizingCallbacks",
    "IWalkerSchema": "engine.sim.walker.WalkerSchema",
    "IWalkerCallbacks": "engine.sim.walker.WalkerCallbacks",
    "IOptimizerSchema": "engine.optimizer.schema.OptimizerSchema",
    "IOptimizerSource": "engine.optimizer.schema.OptimizerSource",
    "IOptimizerCallbacks": "engine.optimizer.schema.OptimizerCallbacks",
    "IOptimizerTemplate": "engine.optimizer.templates.OptimizerTemplate",
    "ILogger": "engine.core.logger.Logger",
}
# Upstream interfaces whose fields are plain mapping keys here (a validation is a function or a
# `{"validate": fn, "note": ...}` mapping).
MAPPING_KEYS = {"IRiskValidation"}


def resolve(dotted: str) -> object:
    """Return the object `dotted` names: an `engine` export, or `engine.module.Name…`."""
    parts = dotted.split(".")
    if parts[0] == "engine":
        for cut in range(len(parts), 1, -1):
            try:
                found: object = importlib.import_module(".".join(parts[:cut]))
            except ModuleNotFoundError:
                continue
            for attr in parts[cut:]:
                found = getattr(found, attr)
            return found
    found = getattr(engine, parts[0])
    for attr in parts[1:]:
        found = getattr(found, attr)
    return found


def has_field(owner: object, field: str) -> bool:
    fields = getattr(owner, "model_fields", None) or getattr(owner, "__dataclass_fields__", {})
    return field in fields or callable(getattr(owner, field, None))


def test_every_python_name_in_the_porting_table_exists() -> None:
    missing = []
    for upstream, cell in porting_rows().items():
        code = re.match(r"`([A-Za-z_][\w.]*)", cell)
        if code is None:
            assert cell.startswith("no Python"), f"`{upstream}`: {cell!r}"
            continue
        python = code.group(1)
        interface = upstream.split(".")[0]
        try:
            if "." in upstream and interface in FIELD_OWNERS:
                owner = resolve(FIELD_OWNERS[interface])
                if not has_field(owner, python):
                    missing.append(f"{upstream} → {python} (not a field of {owner})")
            elif interface not in MAPPING_KEYS:
                resolve(python)
        except AttributeError as exc:
            missing.append(f"{upstream} → {python} ({exc})")
    assert missing == []
