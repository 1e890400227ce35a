"""The desk's state (TinyDB): run history, the launcher's last choices and the theme.

Files are written atomically (temp file, fsync, `os.replace`). A file that is not valid
JSON, or that another program wrote, is moved aside with a notice and a fresh one starts.
The history is a TinyDB index of summaries (`runs.json`); each run's closed signals and
report live in a file of their own under `runs/`, so storing a run writes that run only and
listing the history reads no signals.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from tinydb import Query, TinyDB
from tinydb.storages import Storage

from tui.formatting import Clock, format_file_stamp
from tui.runs import RunRecord, RunRequest, RunSummary

STATE_FILE_NAME = "desk.json"
RUNS_FILE_NAME = "runs.json"
RUNS_DIR_NAME = "runs"
RUN_FORMAT = "backtest-desk/run"
STATE_FORMAT = "backtest-desk/state"
STATE_VERSION = 1
_TABLES = frozenset({"meta", "prefs", "runs"})


def default_state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Return `$BACKTEST_DESK_HOME`, else `$XDG_STATE_HOME/backtest-desk` (`~/.local/state`)."""
    env = os.environ if environ is None else environ
    if env.get("BACKTEST_DESK_HOME"):
        return Path(env["BACKTEST_DESK_HOME"])
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "backtest-desk"


class AtomicJSONStorage(Storage):
    """TinyDB storage that replaces the whole file atomically on every write."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._cache: tuple[tuple[int, int], dict[str, dict[str, Any]]] | None = None

    def _signature(self) -> tuple[int, int] | None:
        try:
            stat = self._path.stat()
        except FileNotFoundError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def read(self) -> dict[str, dict[str, Any]] | None:
        """Return the stored tables, or None when the file does not exist yet.

        The parsed file is kept while its modification time and size stay the same, so
        reading preferences does not parse a long history again.
        """
        signature = self._signature()
        if signature is None:
            return None
        if self._cache is not None and self._cache[0] == signature:
            return self._cache[1]
        text = self._path.read_text(encoding="utf-8")
        data: dict[str, dict[str, Any]] | None = json.loads(text) if text.strip() else None
        self._cache = (signature, data) if data is not None else None
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        """Replace the file atomically with all tables."""
        write_json(self._path, data)
        signature = self._signature()
        self._cache = (signature, data) if signature is not None else None


def write_json(path: Path, data: Any) -> None:
    """Write `data` as JSON to a temp file, fsync it and move it over `path`."""
    text = json.dumps(data, separators=(",", ":"))
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".desk-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def write_run_file(path: Path, record: RunRecord) -> None:
    """Write a run's closed signals and report, the part of a run the history index omits."""
    write_json(
        path,
        {
            "format": RUN_FORMAT,
            "signals": [s._asdict() for s in record.signals],
            "report": record.report,
        },
    )


def _problem_with(path: Path) -> str | None:
    """Return why the file at `path` is not a desk state file, or None if it is (or is absent)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        return f"it cannot be read ({exc})"
    if not text.strip():
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"it is not valid JSON (line {exc.lineno}: {exc.msg})"
    if not isinstance(data, dict) or not all(isinstance(t, dict) for t in data.values()):
        return "it is not a TinyDB file"
    meta = data.get("meta", {}).get("1", {})
    if meta.get("format") != STATE_FORMAT:
        return "it was not written by backtest-desk"
    if meta.get("version") != STATE_VERSION or not set(data) <= _TABLES:
        return f"it has an unknown layout (version {meta.get('version')!r})"
    return None


def _open(path: Path, clock: Clock) -> tuple[TinyDB, str | None]:
    """Open one state file, moving a corrupt or foreign one aside with a notice."""
    notice = None
    problem = _problem_with(path)
    if problem is not None:
        aside = path.with_name(f"{path.name}.{format_file_stamp(clock())}.bad")
        os.replace(path, aside)
        notice = (
            f"The state file {path} was moved to {aside.name} because {problem}; "
            "the desk starts without it."
        )
    db = TinyDB(path, storage=AtomicJSONStorage)
    meta = db.table("meta")
    if not meta.all():
        meta.insert({"format": STATE_FORMAT, "version": STATE_VERSION})
    return db, notice


class DeskState:
    """Preferences and run history in two TinyDB files under the desk's state directory.

    Preferences live apart from the (large) run history, so remembering a choice rewrites
    a small file and never holds the interpreter while megabytes of signals are written.
    Safe to use from the UI thread and from workers (a lock per file serialises access).

    Attributes:
        path: The preferences file.
        runs_path: The run history file.
        notice: A message for the user when a previous file had to be moved aside.
    """

    def __init__(self, state_dir: Path, clock: Clock) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / STATE_FILE_NAME
        self.runs_path = state_dir / RUNS_FILE_NAME
        self.runs_dir = state_dir / RUNS_DIR_NAME
        self._lock = threading.RLock()
        self._runs_lock = threading.RLock()  # history writes never block preference reads
        self._db, prefs_notice = _open(self.path, clock)
        self._runs_db, runs_notice = _open(self.runs_path, clock)
        self.notice: str | None = " ".join(n for n in (prefs_notice, runs_notice) if n) or None

    def close(self) -> None:
        """Close the databases."""
        with self._lock, self._runs_lock:
            self._db.close()
            self._runs_db.close()

    def _get_pref(self, key: str) -> Any:
        with self._lock:
            found = self._db.table("prefs").get(Query().key == key)
        return None if found is None else found.get("value")

    def _set_pref(self, key: str, value: Any) -> None:
        with self._lock:
            self._db.table("prefs").upsert({"key": key, "value": value}, Query().key == key)

    @property
    def theme(self) -> str | None:
        """Return the remembered theme name."""
        value = self._get_pref("theme")
        return value if isinstance(value, str) else None

    @theme.setter
    def theme(self, name: str) -> None:
        self._set_pref("theme", name)

    @property
    def last_request(self) -> RunRequest | None:
        """Return the launcher's last choices, or None when absent or unreadable."""
        value = self._get_pref("last_request")
        if value is None:
            return None
        try:
            return RunRequest.model_validate(value)
        except ValidationError:
            return None

    @last_request.setter
    def last_request(self, request: RunRequest) -> None:
        self._set_pref("last_request", request.model_dump(mode="json"))

    def add_run(self, record: RunRecord) -> RunRecord:
        """Store a finished run and return it with its assigned `run_id`."""
        path = self.new_run_file()
        write_run_file(path, record)
        return self.index_run(record, path)

    def new_run_file(self) -> Path:
        """Return a fresh path for a run's signals and report (`write_run_file` writes it)."""
        self.runs_dir.mkdir(exist_ok=True)
        return self.runs_dir / f"{uuid.uuid4().hex}.json"

    def index_run(self, record: RunRecord, path: Path) -> RunRecord:
        """List a run whose signals and report are in `path`; return it with its `run_id`.

        The file is written first (possibly by another process), then the summary joins the
        index: a crash in between leaves an unlisted file, never a listed run without data.
        """
        summary = record.summary().model_dump(mode="json", exclude={"run_id"})
        with self._runs_lock:
            run_id = self._runs_db.table("runs").insert({**summary, "detail": path.name})
        return record.model_copy(update={"run_id": run_id})

    def runs(self) -> list[RunSummary]:
        """Return every stored run, newest first (records that no longer validate are skipped)."""
        summaries: list[RunSummary] = []
        with self._runs_lock:
            documents = self._runs_db.table("runs").all()
        for document in documents:
            try:
                summaries.append(RunSummary.model_validate({**document, "run_id": document.doc_id}))
            except ValidationError:
                continue
        return sorted(summaries, key=lambda r: r.run_id, reverse=True)

    def run(self, run_id: int) -> RunRecord | None:
        """Return one stored run with its signals and report, or None (also when unreadable)."""
        with self._runs_lock:
            document = self._runs_db.table("runs").get(doc_id=run_id)
        if document is None:
            return None
        fields = {**document, "run_id": run_id}
        if "signals" not in fields:  # runs stored before signals moved to files of their own
            try:
                detail = json.loads((self.runs_dir / str(fields["detail"])).read_text("utf-8"))
            except (KeyError, OSError, ValueError):
                return None
            if not isinstance(detail, dict) or detail.get("format") != RUN_FORMAT:
                return None
            fields |= {"signals": detail.get("signals"), "report": detail.get("report")}
        try:
            return RunRecord.model_validate(fields)
        except ValidationError:
            return None

    def delete_run(self, run_id: int) -> None:
        """Remove one stored run and its signals file."""
        with self._runs_lock:
            document = self._runs_db.table("runs").get(doc_id=run_id)
            self._runs_db.table("runs").remove(doc_ids=[run_id])
        detail = document.get("detail") if document is not None else None
        if isinstance(detail, str):
            (self.runs_dir / detail).unlink(missing_ok=True)
