"""The desk's state (TinyDB): run history, the launcher's last choices and the theme.

Files are written atomically (temp file, fsync, `os.replace`). A file that is not valid
JSON, or that another program wrote, is moved aside with a notice and a fresh one starts;
single entries of the wrong shape are set aside into `<file>.quarantine.json` with a notice.
The history is a TinyDB index of summaries (`runs.json`); each run's closed signals and
report live in a file of their own under `runs/`, so storing a run writes that run only and
listing the history reads no signals.

Several desks may share one state directory (two terminals over SSH): every write holds a
cross-process lock (`<file>.lock`) and re-reads the file inside it, so run ids never clash
and no desk overwrites another's entries.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from filelock import FileLock, Timeout
from pydantic import ValidationError
from tinydb import Query, TinyDB
from tinydb.storages import Storage
from tinydb.table import Document

from tui.formatting import Clock, format_file_stamp
from tui.runs import RunRecord, RunRequest, RunSummary

STATE_FILE_NAME = "desk.json"
RUNS_FILE_NAME = "runs.json"
RUNS_DIR_NAME = "runs"
RUN_FORMAT = "backtest-desk/run"
STATE_FORMAT = "backtest-desk/state"
QUARANTINE_FORMAT = "backtest-desk/quarantine"
STATE_VERSION = 1
LOCK_TIMEOUT_SECONDS = 10.0
_TABLES = frozenset({"meta", "prefs", "runs"})
_RUN_FILE_NAME = re.compile(r"[0-9a-f]{32}\.json")
_DOC_ID = re.compile(r"[0-9]+")

EntryCheck = Callable[[str, Any], str | None]
"""Return why one stored entry (id, raw value) does not fit, or None when it does."""


class StateLockTimeout(RuntimeError):
    """Another process held a state file's lock for longer than the lock timeout."""


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
        self._cache: tuple[tuple[int, int, int], dict[str, dict[str, Any]]] | None = None

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            stat = self._path.stat()
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)  # each write is a new inode

    def read(self) -> dict[str, dict[str, Any]] | None:
        """Return the stored tables, or None when the file does not exist yet.

        The parsed file is kept while its inode, modification time and size stay the same,
        so reading preferences does not parse a long history again.
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

    def forget(self) -> None:
        """Drop the parsed file, so that the next read parses what is on disk now."""
        self._cache = None


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
    """Write a run's closed signals, report and sections: what the history index omits."""
    write_json(
        path,
        {
            "format": RUN_FORMAT,
            "signals": [s._asdict() for s in record.signals],
            "report": record.report,
            "sections": record.sections and record.sections.model_dump(mode="json"),
        },
    )


def write_report_file(folder: Path, strategy_name: str, run_id: int, record: RunRecord) -> Path:
    """Write a run's markdown report to `<folder>/<strategy>-<run id>.md` and return the path.

    Never replaces a file: a name taken already (by a desk with another history sharing the
    folder) gets `-2`, `-3`, ... before `.md`.
    """
    folder.mkdir(parents=True, exist_ok=True)
    stem, copy = f"{strategy_name}-{run_id}", 1
    while True:
        target = folder / (f"{stem}.md" if copy == 1 else f"{stem}-{copy}.md")
        try:
            with target.open("x", encoding="utf-8") as stream:
                stream.write(record.report)
        except FileExistsError:
            copy += 1
            continue
        return target


def _read_run_file(path: Path) -> dict[str, Any] | None:
    """Return a run file's signals, report and sections, or None (unreadable, a symlink)."""
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(handle, encoding="utf-8") as stream:
            detail = json.loads(stream.read())
    except (OSError, ValueError):
        return None
    if not isinstance(detail, dict) or detail.get("format") != RUN_FORMAT:
        return None
    fields = {"signals": detail.get("signals"), "report": detail.get("report")}
    if "sections" in detail:  # runs stored before the sections existed have none
        fields["sections"] = detail["sections"]
    return fields


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
    meta = data.get("meta", {}).get("1")
    if not isinstance(meta, dict) or meta.get("format") != STATE_FORMAT:
        return "it was not written by backtest-desk"
    if meta.get("version") != STATE_VERSION or not set(data) <= _TABLES:
        return f"it has an unknown layout (version {meta.get('version')!r})"
    return None


def _move_aside(path: Path, clock: Clock) -> Path:
    """Rename `path` to `<name>.<stamp>.bad` beside it and return the new path."""
    aside = path.with_name(f"{path.name}.{format_file_stamp(clock())}.bad")
    os.replace(path, aside)
    return aside


def _first_error(exc: ValidationError) -> str:
    """Return the first validation error as `field.path: message`."""
    error = exc.errors()[0]
    return f"{'.'.join(str(part) for part in error['loc']) or 'value'}: {error['msg']}"


def _is_doc_id(doc_id: str) -> bool:
    return _DOC_ID.fullmatch(doc_id) is not None


class _StateFile:
    """One TinyDB file of the state with the locks that guard it.

    The thread lock serialises the threads of one desk; the file lock (`<file>.lock`)
    serialises the desks sharing the state directory.

    Attributes:
        path: The TinyDB file.
        db: The TinyDB database of the file (write through `writing`).
        quarantine_path: Where entries of the wrong shape are set aside.
        notice: A message for the user when the previous file had to be moved aside.
    """

    def __init__(self, path: Path, clock: Clock, lock_timeout: float) -> None:
        self.path = path
        self.quarantine_path = path.with_name(f"{path.name}.quarantine.json")
        self._clock = clock
        self._lock_timeout = lock_timeout
        self._thread_lock = threading.RLock()
        self._file_lock = FileLock(f"{path}.lock", timeout=lock_timeout)
        self.notice: str | None = None
        with self._locked():
            problem = _problem_with(path)
            if problem is not None:
                aside = _move_aside(path, clock)
                self.notice = (
                    f"The state file {path} was moved to {aside.name} because {problem}; "
                    "the desk starts without it."
                )
            self.db = TinyDB(path, storage=AtomicJSONStorage)
            self._storage = cast(AtomicJSONStorage, self.db.storage)
            meta = self.db.table("meta")
            if meta.get(doc_id=1) is None:
                meta.insert(Document({"format": STATE_FORMAT, "version": STATE_VERSION}, 1))

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock:
            try:
                self._file_lock.acquire()
            except Timeout:
                raise StateLockTimeout(
                    f"The state lock {self._file_lock.lock_file} was not free within "
                    f"{self._lock_timeout:g} s: another desk using {self.path.parent} holds "
                    "it (stuck, or suspended with Ctrl+Z). Resume or close that desk, then "
                    "try again."
                ) from None
            try:
                yield
            finally:
                self._file_lock.release()

    @contextmanager
    def writing(self) -> Iterator[TinyDB]:
        """Hold both locks and yield the database as it is on disk now.

        Raises:
            StateLockTimeout: Another process held the file lock for the whole lock timeout.
        """
        with self._locked():
            self._storage.forget()
            for name in _TABLES:
                self.db.table(name).clear_cache()
            yield self.db

    def entries(self, table: str) -> dict[str, Any]:
        """Return one table's entries as stored (id to raw value), without the file lock.

        Files are replaced atomically, so this sees the last complete write of any desk.
        """
        with self._thread_lock:
            tables = self._storage.read() or {}
        found = tables.get(table)
        return dict(found) if isinstance(found, dict) else {}

    def next_id(self, table: str, floor: int = 0) -> int:
        """Return an id above every id in `table` and above `floor` (call it while writing)."""
        taken = [int(doc_id) for doc_id in self.entries(table) if _is_doc_id(doc_id)]
        return max([floor, *taken]) + 1

    def set_aside(self, table: str, problem_of: EntryCheck) -> str | None:
        """Move the entries of `table` that `problem_of` rejects into the quarantine file.

        The quarantine file is written before the entries leave the state file, so a crash
        in between keeps them twice, never loses them.

        Returns:
            A notice for the user, or None when every entry fits.
        """
        with self.writing():
            tables = self._storage.read() or {}
            stored = tables.get(table)
            if not isinstance(stored, dict):
                return None
            rejected = {
                doc_id: problem
                for doc_id, entry in stored.items()
                if (problem := problem_of(doc_id, entry)) is not None
            }
            if not rejected:
                return None
            stamp = self._clock().isoformat()
            quarantined = self._quarantined() + [
                {"table": table, "id": doc_id, "reason": reason, "entry": stored[doc_id]}
                | {"set_aside_at": stamp}
                for doc_id, reason in rejected.items()
            ]
            write_json(self.quarantine_path, {"format": QUARANTINE_FORMAT, "entries": quarantined})
            tables[table] = {k: v for k, v in stored.items() if k not in rejected}
            self._storage.write(tables)
            self.db.table(table).clear_cache()
        count = len(rejected)
        first = next(iter(rejected.values()))
        return (
            f"{count} {'entry' if count == 1 else 'entries'} of {self.path} did not fit and "
            f"{'was' if count == 1 else 'were'} set aside in {self.quarantine_path} "
            f"(first: {first}{f'; {count - 1} more' if count > 1 else ''}); "
            "the rest of the state is kept."
        )

    def _quarantined(self) -> list[Any]:
        """Return the entries set aside before; an unreadable quarantine file is moved aside."""
        try:
            data = json.loads(self.quarantine_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError):
            data = None
        if (
            isinstance(data, dict)
            and data.get("format") == QUARANTINE_FORMAT
            and isinstance(data.get("entries"), list)
        ):
            return list(data["entries"])
        _move_aside(self.quarantine_path, self._clock)
        return []

    def close(self) -> None:
        """Close the database."""
        with self._thread_lock:
            self.db.close()


def _pref_problem(doc_id: str, entry: Any) -> str | None:
    """Return why a preference entry does not fit; preferences the desk does not know fit."""
    if not _is_doc_id(doc_id):
        return f"the preference entry id {doc_id!r} is not a number"
    if not isinstance(entry, dict):
        return f"preference entry {doc_id} is {type(entry).__name__}, not an object"
    key = entry.get("key")
    if not isinstance(key, str) or "value" not in entry:
        return f"preference entry {doc_id} has no key and value"
    value = entry["value"]
    if key == "theme" and not isinstance(value, str):
        return f"the theme preference {value!r} is not a theme name"
    if key == "last_request":
        try:
            RunRequest.model_validate(value)
        except ValidationError as exc:
            return f"the last run request does not validate ({_first_error(exc)})"
    return None


class DeskState:
    """Preferences and run history in two TinyDB files under the desk's state directory.

    Preferences live apart from the (large) run history, so remembering a choice rewrites
    a small file and never holds the interpreter while megabytes of signals are written.
    Safe to use from the UI thread and from workers (a lock per file serialises access) and
    from several desks on one state directory (a file lock per file serialises writes).

    Attributes:
        path: The preferences file.
        runs_path: The run history file.
        runs_dir: The directory of the runs' signals and reports.
        notice: A message for the user when a previous file, or some of its entries, had to
            be set aside.
    """

    def __init__(
        self, state_dir: Path, clock: Clock, lock_timeout: float = LOCK_TIMEOUT_SECONDS
    ) -> None:
        """Open (or create) the state files, setting aside what does not fit.

        Raises:
            StateLockTimeout: Another desk held a state file's lock for `lock_timeout` s.
        """
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / STATE_FILE_NAME
        self.runs_path = state_dir / RUNS_FILE_NAME
        self.runs_dir = state_dir / RUNS_DIR_NAME
        self._prefs = _StateFile(self.path, clock, lock_timeout)
        self._runs = _StateFile(self.runs_path, clock, lock_timeout)
        notices = (
            self._prefs.notice,
            self._runs.notice,
            self._prefs.set_aside("prefs", _pref_problem),
            self._runs.set_aside("runs", self._run_problem),
        )
        self.notice: str | None = " ".join(n for n in notices if n) or None

    def close(self) -> None:
        """Close the databases."""
        self._prefs.close()
        self._runs.close()

    def _get_pref(self, key: str) -> Any:
        for entry in self._prefs.entries("prefs").values():
            if isinstance(entry, dict) and entry.get("key") == key:
                return entry.get("value")
        return None

    def _set_pref(self, key: str, value: Any) -> None:
        with self._prefs.writing() as db:
            prefs = db.table("prefs")
            if not prefs.update({"value": value}, Query().key == key):
                doc_id = self._prefs.next_id("prefs")
                prefs.insert(Document({"key": key, "value": value}, doc_id))

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

    def index_run(self, record: RunRecord, path: Path, report_dir: Path | None = None) -> RunRecord:
        """List a run whose signals and report are in `path`; return it with its `run_id`.

        The file is written first (possibly by another process), then the summary joins the
        index: a crash in between leaves an unlisted file, never a listed run without data.
        The id is above every id listed or ever deleted, by this desk or another one.

        Args:
            record: The finished run.
            path: Its run file, written already (`write_run_file`).
            report_dir: Where to write the run's markdown report as `<strategy>-<run id>.md`
                (its `report_path`), once the id is known and before the run is listed; None
                writes no report file.

        Raises:
            StateLockTimeout: Another desk held the history's lock for the whole timeout.
        """
        with self._runs.writing() as db:
            run_id = self._runs.next_id("runs", floor=self._last_deleted_id(db))
            update: dict[str, Any] = {"run_id": run_id}
            if report_dir is not None:
                name = record.request.strategy_name
                update["report_path"] = str(write_report_file(report_dir, name, run_id, record))
            listed = record.model_copy(update=update)
            summary = listed.summary().model_dump(mode="json", exclude={"run_id"})
            db.table("runs").insert(Document({**summary, "detail": path.name}, run_id))
        return listed

    def runs(self) -> list[RunSummary]:
        """Return every stored run, newest first (entries that do not fit are set aside)."""
        checked = [self._checked_run(i, e) for i, e in self._runs.entries("runs").items()]
        summaries = [summary for summary in checked if isinstance(summary, RunSummary)]
        if len(summaries) < len(checked):
            self._set_runs_aside()
        return sorted(summaries, key=lambda r: r.run_id, reverse=True)

    def run(self, run_id: int) -> RunRecord | None:
        """Return one stored run with its signals and report, or None (also when unreadable).

        A run whose entry names a file outside `runs/` is set aside, never read.
        """
        entry = self._runs.entries("runs").get(str(run_id))
        if entry is None:
            return None
        if isinstance(self._checked_run(str(run_id), entry), str):
            self._set_runs_aside()
            return None
        fields = {**entry, "run_id": run_id}
        if "signals" not in fields:  # runs stored before signals moved to files of their own
            detail = _read_run_file(self.runs_dir / fields["detail"])
            if detail is None:
                return None
            fields |= detail
        try:
            return RunRecord.model_validate(fields)
        except ValidationError:
            return None

    def delete_run(self, run_id: int) -> None:
        """Remove one stored run and its signals file (only ever a plain file in `runs/`).

        Raises:
            StateLockTimeout: Another desk held the history's lock for the whole timeout.
        """
        with self._runs.writing() as db:
            entry = self._runs.entries("runs").get(str(run_id))
            if entry is None:
                return
            if isinstance(self._checked_run(str(run_id), entry), str):
                self._set_runs_aside()
                return
            if run_id > self._last_deleted_id(db):
                db.table("meta").update({"last_deleted_id": run_id}, doc_ids=[1])
            db.table("runs").remove(doc_ids=[run_id])
        if "detail" in entry:  # checked: a plain `<hex>.json` name; unlink never follows links
            (self.runs_dir / entry["detail"]).unlink(missing_ok=True)

    @staticmethod
    def _last_deleted_id(db: TinyDB) -> int:
        meta = db.table("meta").get(doc_id=1)
        value = meta.get("last_deleted_id") if meta is not None else None
        return value if isinstance(value, int) else 0

    def _checked_run(self, doc_id: str, entry: Any) -> RunSummary | str:
        """Return the run summary an index entry holds, or why it does not fit."""
        if not _is_doc_id(doc_id):
            return f"the run entry id {doc_id!r} is not a number"
        if not isinstance(entry, dict):
            return f"run {doc_id} is {type(entry).__name__}, not an object"
        try:
            summary = RunSummary.model_validate({**entry, "run_id": int(doc_id)})
        except ValidationError as exc:
            return f"run {doc_id} does not validate ({_first_error(exc)})"
        if "detail" not in entry:
            return summary if "signals" in entry else f"run {doc_id} names no run file"
        detail = entry["detail"]
        if not isinstance(detail, str) or _RUN_FILE_NAME.fullmatch(detail) is None:
            return (
                f"run {doc_id} names the run file {detail!r}, "
                f"not a plain <hex>.json file inside {RUNS_DIR_NAME}/"
            )
        if (self.runs_dir / detail).is_symlink():
            return f"run {doc_id}'s file {RUNS_DIR_NAME}/{detail} is a symbolic link"
        return summary

    def _run_problem(self, doc_id: str, entry: Any) -> str | None:
        checked = self._checked_run(doc_id, entry)
        return checked if isinstance(checked, str) else None

    def _set_runs_aside(self) -> None:
        notice = self._runs.set_aside("runs", self._run_problem)
        if notice is not None:
            self.notice = f"{self.notice} {notice}" if self.notice else notice
