"""The state file (TinyDB on disk), theme files and formatting, without the app."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tui.formatting import STATISTICS, fixed_clock, format_stat_delta, format_timestamp, parse_date
from tui.keymap import Keymap, load_keymap
from tui.runs import Profile, RunRecord, RunRequest, SignalStatus, SignalView
from tui.state import DeskState, default_state_dir, write_run_file
from tui.theming import DESK_VARIABLES, load_themes, parse_theme, user_theme_dir

CLOCK = fixed_clock(datetime(2025, 1, 2, 9, 30, tzinfo=UTC))
REQUEST = RunRequest(
    strategy_name="bracket", symbol="BTCUSDT", exchange_name="demo", frame_name="demo-7d"
)


def record() -> RunRecord:
    signal = SignalView(
        signal_id="a1",
        status=SignalStatus.CLOSED,
        position="long",
        price_open=100.0,
        price_take_profit=101.0,
        price_stop_loss=99.0,
        opened_at=1_735_000_000_000,
        closed_at=1_735_000_600_000,
        price_close=101.0,
        close_reason="take_profit",
        pnl_percentage=0.6,
    )
    return RunRecord(
        request=REQUEST,
        frame_label="demo-7d",
        start_ms=1_735_000_000_000,
        end_ms=1_735_600_000_000,
        finished_at=1_735_810_200_000,
        statistics={"total_signals": 1.0, "sharpe_ratio": None},
        signals=(signal,),
        report="# Backtest Report: bracket\n",
    )


def add_entries(path: Path, table: str, entries: dict[str, object]) -> None:
    """Add raw entries to a TinyDB state file, as another program (or a person) would."""
    tables = json.loads(path.read_text(encoding="utf-8"))
    tables.setdefault(table, {}).update(entries)
    path.write_text(json.dumps(tables), encoding="utf-8")


def test_runs_and_preferences_survive_a_reopen(tmp_path: Path) -> None:
    state = DeskState(tmp_path, CLOCK)
    stored = [state.add_run(record()), state.add_run(record())]
    state.last_request = REQUEST.model_copy(update={"profile": Profile.BACKTEST_KIT_1_4_10})
    state.theme = "desk-light"
    state.close()

    again = DeskState(tmp_path, CLOCK)
    assert [r.run_id for r in again.runs()] == [s.run_id for s in reversed(stored)]
    assert again.run(stored[0].run_id) == stored[0]
    assert again.last_request is not None
    assert again.last_request.profile is Profile.BACKTEST_KIT_1_4_10
    assert again.theme == "desk-light"
    assert again.notice is None


def test_the_history_index_holds_no_signals_and_each_run_has_its_file(tmp_path: Path) -> None:
    state = DeskState(tmp_path, CLOCK)
    first, second = state.add_run(record()), state.add_run(record())
    index = json.loads((tmp_path / "runs.json").read_text(encoding="utf-8"))
    assert all("signals" not in doc and "report" not in doc for doc in index["runs"].values())
    files = sorted((tmp_path / "runs").iterdir())
    assert len(files) == 2
    assert [r.title for r in state.runs()] == [second.title, first.title]

    state.delete_run(first.run_id)
    assert len(list((tmp_path / "runs").iterdir())) == 1
    assert state.run(first.run_id) is None
    assert state.run(second.run_id) == second


def test_a_run_whose_file_is_missing_is_listed_but_does_not_open(tmp_path: Path) -> None:
    state = DeskState(tmp_path, CLOCK)
    stored = state.add_run(record())
    for file in (tmp_path / "runs").iterdir():
        file.write_text("{not json", encoding="utf-8")
    assert [r.run_id for r in state.runs()] == [stored.run_id]
    assert state.run(stored.run_id) is None


def test_runs_stored_inline_by_the_first_layout_still_open(tmp_path: Path) -> None:
    state = DeskState(tmp_path, CLOCK)
    legacy = record()
    add_entries(tmp_path / "runs.json", "runs", {"4": legacy.model_dump(mode="json")})
    assert state.run(4) == legacy.model_copy(update={"run_id": 4})
    assert [r.run_id for r in DeskState(tmp_path, CLOCK).runs()] == [4]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{broken", "not valid JSON"),
        (
            json.dumps({"_default": {"1": {"name": "someone else's"}}}),
            "not written by backtest-desk",
        ),
        (json.dumps([1, 2, 3]), "not a TinyDB file"),
        (json.dumps({"meta": {"1": 5}}), "not written by backtest-desk"),
    ],
)
def test_a_bad_state_file_is_moved_aside_with_a_notice(
    tmp_path: Path, content: str, reason: str
) -> None:
    (tmp_path / "desk.json").write_text(content, encoding="utf-8")
    state = DeskState(tmp_path, CLOCK)
    assert state.notice is not None and reason in state.notice
    aside = tmp_path / "desk.json.20250102-093000.bad"
    assert aside.read_text(encoding="utf-8") == content
    assert state.runs() == []
    state.add_run(record())
    assert len(DeskState(tmp_path, CLOCK).runs()) == 1


def quarantined(path: Path) -> list[tuple[str, str, object]]:
    """Return the (table, id, entry) of every entry set aside beside the state file `path`."""
    data = json.loads(path.with_name(f"{path.name}.quarantine.json").read_text(encoding="utf-8"))
    return [(e["table"], e["id"], e["entry"]) for e in data["entries"]]


def test_entries_of_the_wrong_shape_are_set_aside_with_a_notice(tmp_path: Path) -> None:
    state = DeskState(tmp_path, CLOCK)
    first, second = state.add_run(record()), state.add_run(record())
    state.theme = "desk-light"
    state.close()
    bad_prefs: dict[str, object] = {
        "2": {"key": "last_request", "value": {"symbol": 1}},
        "3": [1, 2],
        "4": {"key": "theme", "value": 5},
    }
    summary = first.summary().model_dump(mode="json") | {"detail": f"{'0' * 32}.json"}
    bad_runs: dict[str, object] = {
        "5": summary | {"frame_label": 3},
        "6": "a run",
        "seven": summary,
        "8": {k: v for k, v in summary.items() if k != "detail"},
    }
    add_entries(tmp_path / "desk.json", "prefs", bad_prefs)
    add_entries(tmp_path / "runs.json", "runs", bad_runs)

    again = DeskState(tmp_path, CLOCK)
    assert again.notice is not None
    assert f"3 entries of {tmp_path / 'desk.json'} did not fit" in again.notice
    assert f"4 entries of {tmp_path / 'runs.json'} did not fit" in again.notice
    assert str(tmp_path / "runs.json.quarantine.json") in again.notice
    assert "run 5 does not validate (frame_label: Input should be a valid string" in again.notice
    assert quarantined(tmp_path / "desk.json") == [("prefs", k, v) for k, v in bad_prefs.items()]
    assert quarantined(tmp_path / "runs.json") == [("runs", k, v) for k, v in bad_runs.items()]
    assert again.theme == "desk-light"
    assert again.last_request is None
    assert [r.run_id for r in again.runs()] == [second.run_id, first.run_id]
    assert again.run(first.run_id) == first
    again.last_request = REQUEST
    assert again.add_run(record()).run_id == second.run_id + 1

    third = DeskState(tmp_path, CLOCK)
    assert third.notice is None  # told once: what was set aside stays aside
    assert third.last_request == REQUEST and third.theme == "desk-light"
    assert len(third.runs()) == 3


@pytest.mark.parametrize("detail", ["../../outside.json", "ABSOLUTE"])
def test_a_run_naming_a_file_outside_runs_is_neither_read_nor_deleted(
    tmp_path: Path, detail: str
) -> None:
    outside = tmp_path / "outside.json"
    write_run_file(outside, record())
    content = outside.read_text(encoding="utf-8")
    detail = str(outside) if detail == "ABSOLUTE" else detail
    state_dir = tmp_path / "state"
    state = DeskState(state_dir, CLOCK)
    kept = state.add_run(record())
    entry = kept.summary().model_dump(mode="json") | {"detail": detail}
    add_entries(state_dir / "runs.json", "runs", {"7": entry})

    assert state.run(7) is None
    state.delete_run(7)
    assert outside.read_text(encoding="utf-8") == content
    assert state.notice is not None
    assert f"run 7 names the run file {detail!r}, not a plain <hex>.json file" in state.notice
    assert [r.run_id for r in state.runs()] == [kept.run_id]
    assert quarantined(state_dir / "runs.json") == [("runs", "7", entry)]
    assert DeskState(state_dir, CLOCK).notice is None


def test_a_run_file_that_is_a_symbolic_link_is_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    write_run_file(outside, record())
    state_dir = tmp_path / "state"
    state = DeskState(state_dir, CLOCK)
    linked, kept = state.add_run(record()), state.add_run(record())
    index = json.loads((state_dir / "runs.json").read_text(encoding="utf-8"))
    link = state_dir / "runs" / index["runs"][str(linked.run_id)]["detail"]
    link.unlink()
    link.symlink_to(outside)
    (state_dir / "runs.json.quarantine.json").write_text("{broken", encoding="utf-8")

    assert state.run(linked.run_id) is None
    state.delete_run(linked.run_id)
    assert outside.exists() and link.is_symlink()
    assert state.notice is not None and "is a symbolic link" in state.notice
    assert [r.run_id for r in state.runs()] == [kept.run_id]
    assert state.run(kept.run_id) == kept
    aside = state_dir / "runs.json.quarantine.json.20250102-093000.bad"
    assert aside.read_text(encoding="utf-8") == "{broken"
    assert [doc_id for _, doc_id, _ in quarantined(state_dir / "runs.json")] == [str(linked.run_id)]
    assert DeskState(state_dir, CLOCK).notice is None


def test_state_dir_respects_the_environment() -> None:
    assert default_state_dir({"BACKTEST_DESK_HOME": "/x"}) == Path("/x")
    assert default_state_dir({"XDG_STATE_HOME": "/s"}) == Path("/s/backtest-desk")
    assert user_theme_dir({"XDG_CONFIG_HOME": "/c"}) == Path("/c/backtest-desk/themes")


def test_builtin_themes_define_every_desk_variable() -> None:
    catalog = load_themes(None)
    assert catalog.names[0] == "desk-dark"
    assert {"desk-dark", "desk-light", "desk-high-contrast"} <= set(catalog.names)
    for theme in catalog.themes:
        assert set(theme.variables) == set(DESK_VARIABLES)


def test_user_themes_are_added_and_broken_ones_reported(tmp_path: Path) -> None:
    dark = (Path(__file__).parents[2] / "themes" / "desk-dark.toml").read_text(encoding="utf-8")
    (tmp_path / "mine.toml").write_text(
        dark.replace('name = "desk-dark"', 'name = "mine"'), encoding="utf-8"
    )
    (tmp_path / "typo.toml").write_text(dark.replace("pnl-up", "pnl-upp"), encoding="utf-8")
    catalog = load_themes(tmp_path)
    assert "mine" in catalog.names
    assert len(catalog.problems) == 1
    assert "unknown desk variable 'pnl-upp'" in catalog.problems[0]


def test_a_theme_with_a_bad_colour_names_it() -> None:
    with pytest.raises(ValueError, match="not a colour"):
        parse_theme('name = "x"\n[colors]\nprimary = "blurple"\n[desk]\n', "x.toml")


def test_python_holds_no_hex_colours() -> None:
    sources = (Path(__file__).parents[2] / "tui").rglob("*.py")
    offenders = [
        p.name for p in sources if re.search(r"#[0-9a-fA-F]{6}\b", p.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_formatting_is_utc_and_signed() -> None:
    assert format_timestamp(1_735_689_540_000) == "2024-12-31 23:59"
    assert parse_date("2024-03-08", end_of_day=True) == datetime(2024, 3, 8, 23, 59, tzinfo=UTC)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_date("03/08/2024")
    kinds = {name: kind for name, _, kind, _ in STATISTICS}
    assert format_stat_delta(kinds["total_signals"], 10, 7) == "-3"
    assert format_stat_delta(kinds["total_pnl"], 1.0, 3.5) == "+2.50 %"
    assert format_stat_delta(kinds["sharpe_ratio"], None, 1.0) == "—"


def test_importing_tui_does_not_load_textual() -> None:
    import subprocess
    import sys

    code = "import sys, tui; assert 'textual' not in sys.modules, 'textual loaded'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


def test_a_keymap_that_is_not_toml_names_the_file_and_keeps_default_keys(tmp_path: Path) -> None:
    path = tmp_path / "keymap.toml"
    assert load_keymap(path, {"quit"}) == Keymap()
    path.write_text('quit = "ctrl+q\n', encoding="utf-8")
    keymap = load_keymap(path, {"quit"})
    assert keymap.keys == {}
    assert len(keymap.problems) == 1
    assert str(path) in keymap.problems[0] and "Default keys apply" in keymap.problems[0]
    path.write_text('quit = "ctrl+q, f10"\n', encoding="utf-8")
    assert load_keymap(path, {"quit"}) == Keymap({"quit": "ctrl+q,f10"})
