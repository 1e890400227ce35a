"""The default persistence adapter: TinyDB behind atomic writes, a thread and a process lock."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from filelock import FileLock
from tinydb import Query, TinyDB
from tinydb.storages import Storage

from engine.core.logger import engine_logger
from engine.persist.base import PersistBase, StateError, natural_key
from engine.persist.files import atomic_write_text, corrupt, read_json_state, remove_stale_temps

_log = engine_logger(__name__)

TABLE = "values"
_ABSENT = object()
_thread_locks: dict[Path, threading.RLock] = {}
_registry_lock = threading.Lock()


class AtomicJSONStorage(Storage):
    """A TinyDB storage that never leaves a half-written file (temp file, fsync, replace).

    TinyDB's own JSONStorage truncates and rewrites the file in place: a crash in between
    leaves it empty or cut. This one reads the whole file and replaces it whole.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def read(self) -> dict[str, dict[str, Any]] | None:
        """Return the database, None when the file does not exist yet.

        Raises:
            StateError: the file is not UTF-8, not JSON, `null`, or not a TinyDB database of
                this adapter (it was moved aside).
        """
        data = read_json_state(self.path, _ABSENT)
        if data is _ABSENT:
            return None
        problem = _shape_problem(data)
        if problem:
            why = f"it is JSON but not a TinyDB database of this adapter ({problem})"
            raise corrupt(self.path, why)
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        """Replace the file with `data`, atomically."""
        atomic_write_text(self.path, json.dumps(data, separators=(",", ":")))

    def close(self) -> None:
        """Nothing is held open between operations."""


def _shape_problem(data: Any) -> str:
    """Return what makes `data` not a database of this adapter ("" when it is one)."""
    if not isinstance(data, dict):
        return f"the document is {json.dumps(data)[:40]}, not an object"
    table = data.get(TABLE, {})
    if not isinstance(table, dict):
        return f"table {TABLE!r} is not an object"
    keys: set[str] = set()
    for doc_id, doc in table.items():
        if not (isinstance(doc, dict) and isinstance(doc.get("key"), str) and "value" in doc):
            return f"document {doc_id} is not an object with a string key and a value"
        if doc["key"] in keys:
            return f"key {doc['key']!r} is stored twice"
        keys.add(doc["key"])
    return ""


def _thread_lock(path: Path) -> threading.RLock:
    with _registry_lock:
        return _thread_locks.setdefault(path, threading.RLock())


class TinyDBPersist(PersistBase):
    """Stores an entity in `<base_dir>/<entity_name>.json`, one document per key.

    Every operation holds a thread lock (TinyDB is not thread-safe) and a file lock (so two
    processes sharing a state directory never lose each other's writes), and opens a fresh
    TinyDB so nothing is served from a stale cache.
    """

    def __init__(self, entity_name: str, base_dir: str | Path) -> None:
        super().__init__(entity_name, base_dir)
        self.path = (self.base_dir / f"{entity_name}.json").absolute()
        self._thread_lock = _thread_lock(self.path)
        self._file_lock = FileLock(str(self.path) + ".lock", timeout=60)

    def _run(self, operation: Any) -> Any:
        with self._thread_lock, self._file_lock:
            db = TinyDB(self.path, storage=AtomicJSONStorage)
            try:
                return operation(db.table(TABLE, cache_size=0))
            finally:
                db.close()

    def quarantine(self, why: str) -> StateError:
        """Move the file aside (its content kept whole) and return the error explaining it."""
        with self._thread_lock, self._file_lock:
            return corrupt(self.path, why)

    def wait_for_init(self) -> None:
        """Create the folder, delete temp files left by a killed writer, validate the file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._thread_lock, self._file_lock:
            remove_stale_temps(self.path)
            AtomicJSONStorage(self.path).read()

    def read_value(self, key: str) -> Any:
        """Return the value under `key` (KeyError when absent)."""
        doc = self._run(lambda t: t.get(Query().key == key))
        if doc is None:
            raise KeyError(key)
        return doc["value"]

    def has_value(self, key: str) -> bool:
        """Return whether `key` is stored."""
        return bool(self._run(lambda t: t.contains(Query().key == key)))

    def write_value(self, key: str, value: Any) -> None:
        """Store `value` under `key` (one atomic file replace)."""
        self._run(lambda t: t.upsert({"key": key, "value": value}, Query().key == key))
        _log.debug("state written", {"file": str(self.path), "key": key})

    def remove_value(self, key: str) -> None:
        """Forget `key`."""
        self._run(lambda t: t.remove(Query().key == key))

    def remove_all(self) -> None:
        """Forget every key."""
        self._run(lambda t: t.truncate())

    def items(self) -> list[tuple[str, Any]]:
        """Return every `(key, value)`, keys in natural order."""
        docs = self._run(lambda t: t.all())
        pairs = [(doc["key"], doc["value"]) for doc in docs]
        return sorted(pairs, key=lambda pair: natural_key(pair[0]))
