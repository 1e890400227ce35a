"""Persistence adapters: the PersistBase contract, crash-safe writes, corrupt files, locks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import engine
from engine.persist import MemoryPersist, PersistBase, StateError, TinyDBPersist
from engine.persist.adapters import PersistSignalAdapter

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["tinydb", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> PersistBase:
    cls = TinyDBPersist if request.param == "tinydb" else MemoryPersist
    made = cls("BTCUSDT_bracket", tmp_path / "data" / "signal")
    made.wait_for_init()
    return made


def test_the_persist_contract(store: PersistBase) -> None:
    assert store.keys() == [] and not store.has_value("a")
    with pytest.raises(KeyError):
        store.read_value("a")
    for key in ("k10", "k2", "k1"):
        store.write_value(key, {"n": key})
    store.write_value("none", None)
    assert store.keys() == ["k1", "k2", "k10", "none"]  # digit runs compare as numbers
    assert store.read_value("none") is None and store.has_value("none")
    store.write_value("k2", {"n": "again"})
    assert store.values()[1] == {"n": "again"}
    assert store.filter(lambda v: v is not None and v["n"].startswith("k")) == [
        {"n": "k1"},
        {"n": "k10"},
    ]
    assert store.take(2) == [{"n": "k1"}, {"n": "again"}]
    store.remove_value("k1")
    store.remove_value("missing")
    assert store.keys() == ["k2", "k10", "none"]
    store.remove_all()
    assert store.items() == []


def test_values_come_back_as_copies(store: PersistBase) -> None:
    value = {"levels": [10]}
    store.write_value("s", value)
    value["levels"].append(20)
    assert store.read_value("s") == {"levels": [10]}


def test_the_file_is_plain_json_a_user_can_read(tmp_path: Path) -> None:
    store = TinyDBPersist("e", tmp_path)
    store.wait_for_init()
    store.write_value("BTCUSDT", {"id": "x", "price_open": 1.5})
    doc = json.loads((tmp_path / "e.json").read_text())
    assert list(doc["values"].values()) == [
        {"key": "BTCUSDT", "value": {"id": "x", "price_open": 1.5}}
    ]


def test_a_failed_write_leaves_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = TinyDBPersist("e", tmp_path)
    store.wait_for_init()
    store.write_value("a", 1)
    before = (tmp_path / "e.json").read_text()

    def crash(*args: object) -> None:
        raise OSError("disk unplugged")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="unplugged"):
        store.write_value("a", 2)
    monkeypatch.undo()
    assert (tmp_path / "e.json").read_text() == before
    assert store.read_value("a") == 1
    assert not list(tmp_path.glob(".tmp-*"))


def test_temp_files_of_a_killed_writer_are_removed_on_start(tmp_path: Path) -> None:
    (tmp_path / ".tmp-0123456789ab-e.json").write_text('{"values": {')
    TinyDBPersist("e", tmp_path).wait_for_init()
    assert not list(tmp_path.glob(".tmp-*"))


@pytest.mark.parametrize("content", ["", '{"values": {"1": {"key": "BTC", "val', "[1, 2]"])
def test_a_corrupt_file_is_moved_aside_and_the_error_says_what_to_do(
    tmp_path: Path, content: str
) -> None:
    path = tmp_path / "BTCUSDT_bracket.json"
    path.write_text(content)
    store = TinyDBPersist("BTCUSDT_bracket", tmp_path)
    with pytest.raises(StateError) as caught:
        store.wait_for_init()
    aside = list(tmp_path.glob("BTCUSDT_bracket.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text() == content
    assert not path.exists()
    message = str(caught.value)
    assert str(path) in message and str(aside[0]) in message
    assert "check your positions" in message and "start again" in message


WRITER = """
import sys
from engine.persist import TinyDBPersist
store = TinyDBPersist("shared", sys.argv[1])
store.wait_for_init()
for i in range(40):
    store.write_value(f"{sys.argv[2]}-{i}", i)
"""


def test_two_processes_writing_one_file_lose_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), name], env=env)
        for name in ("a", "b")
    ]
    assert [p.wait(60) for p in procs] == [0, 0]
    keys = TinyDBPersist("shared", tmp_path).keys()
    assert len(keys) == 80


def test_custom_adapters_plug_in(tmp_path: Path) -> None:
    made: list[tuple[str, Path]] = []

    class Recording(MemoryPersist):
        def __init__(self, entity_name: str, base_dir: str | Path) -> None:
            super().__init__(entity_name, base_dir)
            made.append((entity_name, Path(base_dir)))

    engine.use_persist_signal_adapter(Recording)
    try:
        store = PersistSignalAdapter.create("ETHUSDT_s", tmp_path)
        assert isinstance(store, Recording)
        assert made == [("ETHUSDT_s", tmp_path / "data" / "signal")]
    finally:
        PersistSignalAdapter.reset()
    with pytest.raises(engine.ConfigError, match="use_persist_signal_adapter"):
        engine.use_persist_signal_adapter("tinydb")  # type: ignore[arg-type]
