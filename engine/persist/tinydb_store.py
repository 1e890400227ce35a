"""The default persistence adapter: TinyDB behind atomic writes, a thread and a process lock."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from filelock import FileLock
from tinydb import Query, TinyDB
from tinydb.storages import Storage

from engine.persist.base import PersistBase, natural_key
from engine.persist.files import atomic_write_text, corrupt, read_json_state, remove_stale_temps

TABLE = "values"
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
        """Return the database, None when the file does not exist yet."""
        data = read_json_state(self.path)
        if data is not None and not _well_formed(data):
            raise corrupt(self.path, "it is JSON but not a TinyDB database of this adapter")
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        """Replace the file with `data`, atomically."""
        atomic_write_text(self.path, json.dumps(data, separators=(",", ":")))

    def close(self) -> None:
        """Nothing is held open between operations."""


def _well_formed(data: Any) -> bool:
    if not isinstance(data, dict):
        return False
    table = data.get(TABLE, {})
    return isinstance(table, dict) and all(
        isinstance(doc, dict) and isinstance(doc.get("key"), str) and "value" in doc
        for doc in table.values()
    )


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
