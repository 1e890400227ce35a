"""Backtests in a child process, so the desk's UI thread never waits on the engine.

A backtest is CPU-bound Python. Run in a thread of the desk, it holds the interpreter lock
against the UI thread, and a key pressed while a 365-day run goes waited more than a second.
The desk hands each run to one long-lived child process instead (spawned on first use, kept
for the next runs). The child prepares like the engine's process-pool workers do
(`engine.sim.parallel.WorkerSetup`: the desk's settings, its strategy modules, the built-in
strategies), runs the engine through an `EngineBridge`, writes a finished run's signals
to the history's run file and sends the bridge's messages back over a pipe; the desk's worker
thread relays them and lists a finished run in the history index. A finished run crosses the
pipe without its signals: the relay has received each of them already, streamed, and puts
them back. Sending them twice put one large unpickle and thousands of short-lived objects in
the desk at every run's end.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from textual.message import Message

import engine
from engine.sim.parallel import WorkerSetup
from engine.sim.strategy import seed_signal_ids
from tui.engine_bridge import EngineBridge, Post, describe_error
from tui.messages import RunCancelled, RunFailed, RunFinished, SignalsReceived
from tui.runs import RunRecord, RunRequest, SignalStatus, SignalView
from tui.state import DeskState, write_run_file

POLL_SECONDS = 0.05
"""How often the relay looks at the user's cancel key while the child is quiet."""
CLOSE_SECONDS = 2.0
"""How long closing waits for the child to leave before it is terminated."""


@dataclass(frozen=True)
class RunJob:
    """What the child needs for one run.

    Attributes:
        request: The backtest to run.
        setup: The desk's engine settings and strategy modules (`engine.sim.parallel`), which
            the child applies and imports before it runs.
        cwd: The desk's working directory (reports go to a relative `dump`).
        run_file: Where the child writes the finished run's signals and report for the
            history (`tui.state.write_run_file`), or None to keep no history.
    """

    request: RunRequest
    setup: WorkerSetup
    cwd: str
    run_file: str | None


@dataclass(frozen=True)
class SignalMoney:
    """The closed signals' fees and money PnLs (from the run's account), sent before its end.

    The relay puts them on the streamed rows: ids and two packed float arrays pickle in a
    few bytes per signal, where 9,000 rows sent again would not.
    """

    ids: tuple[str, ...]
    fees: bytes
    pnls: bytes

    @classmethod
    def of(cls, signals: Iterable[SignalView]) -> SignalMoney:
        """Take the money of the signals that have it."""
        rows = [v for v in signals if v.fee is not None and v.pnl_money is not None]
        fees = array("d", (v.fee or 0.0 for v in rows)).tobytes()
        pnls = array("d", (v.pnl_money or 0.0 for v in rows)).tobytes()
        return cls(tuple(v.signal_id for v in rows), fees, pnls)

    def apply(self, signals: Iterable[SignalView]) -> tuple[SignalView, ...]:
        """Return the signals with their fee and money PnL filled in."""
        fees, pnls = array("d"), array("d")
        fees.frombytes(self.fees)
        pnls.frombytes(self.pnls)
        index = {signal_id: i for i, signal_id in enumerate(self.ids)}
        rows = []
        for view in signals:
            i = index.get(view.signal_id)
            rows.append(view if i is None else view._replace(fee=fees[i], pnl_money=pnls[i]))
        return tuple(rows)


@dataclass(frozen=True)
class JobDone:
    """The child's last word on a job: every message of the run was sent before it."""


class RunProcess:
    """Runs the desk's backtests, one at a time, in a child process.

    Args:
        dump_dir: Where a stored run's report is written, as `backtest/<strategy>-<run id>.md`
            (relative to the desk's working directory).
        statistics: The statistic names the desk keeps for each run.
        clock: Stamps `finished_at` of a finished run (the desk's clock, not the child's).
        signal_id_seed: Seeds the child's signal ids once, when it starts (None: random).
    """

    def __init__(
        self,
        dump_dir: Path,
        statistics: Iterable[str],
        clock: Callable[[], datetime],
        *,
        signal_id_seed: int | None = None,
    ) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._dump_dir = dump_dir
        self._statistics = tuple(statistics)
        self._clock = clock
        self._signal_id_seed = signal_id_seed
        self._cancel: Event = self._context.Event()
        self._lock = threading.Lock()
        self._process: SpawnProcess | None = None
        self._conn: Connection | None = None

    @property
    def pid(self) -> int | None:
        """The child's process id, or None before the first run (and after it died)."""
        process = self._process
        return process.pid if process is not None and process.is_alive() else None

    def start(self) -> None:
        """Spawn the child now, so it imports the engine while the user picks a run.

        Returns at once; runs spawn the child on demand anyway, and while one runs the child
        is alive already.
        """
        if self._lock.acquire(blocking=False):
            try:
                self._ensure_child()
            finally:
                self._lock.release()

    def _ensure_child(self) -> Connection:
        if self._process is not None and self._process.is_alive() and self._conn is not None:
            return self._conn
        self._discard_child()
        here, there = self._context.Pipe()
        process = self._context.Process(
            target=serve,
            args=(
                there,
                self._cancel,
                str(self._dump_dir),
                self._statistics,
                self._signal_id_seed,
            ),
            name="backtest-desk runs",
            daemon=True,
        )
        process.start()
        there.close()
        self._process, self._conn = process, here
        return here

    def _discard_child(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._process is not None:
            self._process.join(CLOSE_SECONDS)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(CLOSE_SECONDS)
        self._process, self._conn = None, None

    def run(
        self,
        request: RunRequest,
        cancel: threading.Event,
        post: Post,
        history: DeskState | None = None,
    ) -> None:
        """Run one backtest in the child and relay its messages (blocking: call it from a thread).

        Posts what `EngineBridge.run` posts: `RunStarted`, batches of `SignalsReceived`,
        `RunProgressed`, then exactly one of `RunFinished` (stored in `history` first, when
        given), `RunCancelled` or `RunFailed`, whatever happens: a child that dies, a finished
        run that cannot be stored, a message that does not unpickle and any other exception
        end the run as `RunFailed` with the reason. The next run spawns a new child if needed.
        """
        outcome = _Outcome(request, post)
        try:
            self._run(request, cancel, outcome, history)
        except Exception as exc:  # the desk hears how every run ended, whatever went wrong
            outcome.post(RunFailed(request, *describe_error(exc)))
        finally:
            outcome.close()

    def _run(
        self,
        request: RunRequest,
        cancel: threading.Event,
        outcome: _Outcome,
        history: DeskState | None,
    ) -> None:
        run_file = history.new_run_file() if history is not None else None
        setup = WorkerSetup.capture(str(request.profile))
        job = RunJob(request, setup, os.getcwd(), str(run_file) if run_file else None)
        with self._lock:
            self._cancel.clear()
            try:
                conn = self._ensure_child()
                conn.send(job)
                self._relay(conn, cancel, outcome, history, run_file)
            except (EOFError, OSError):
                process = self._process
                if process is not None:
                    process.join(CLOSE_SECONDS)  # reaped, so that its exit code is known
                code = process.exitcode if process is not None else None
                self._discard_child()
                outcome.post(
                    RunFailed(
                        request,
                        "BacktestProcessStopped",
                        f"the process running backtests stopped (exit code {code}); "
                        "the next run starts a new one",
                    )
                )
            except Exception:
                self._discard_child()  # the pipe is out of step: the next run starts afresh
                raise

    def _relay(
        self,
        conn: Connection,
        cancel: threading.Event,
        outcome: _Outcome,
        history: DeskState | None,
        run_file: Path | None,
    ) -> None:
        closed: list[SignalView] = []
        money: SignalMoney | None = None
        while True:
            if cancel.is_set():
                self._cancel.set()
            if not conn.poll(POLL_SECONDS):
                if self._process is None or not self._process.is_alive():
                    raise EOFError
                continue
            message = conn.recv()
            if isinstance(message, JobDone):
                return
            if isinstance(message, SignalMoney):
                money = message
                continue
            if isinstance(message, SignalsReceived):
                closed += (v for v in message.signals if v.status is SignalStatus.CLOSED)
            elif isinstance(message, RunFinished):
                signals = money.apply(closed) if money is not None else tuple(closed)
                record = message.record.model_copy(update={"signals": signals})
                message = self._finished(record, history, run_file)
            outcome.post(message)

    def _finished(
        self, record: RunRecord, history: DeskState | None, run_file: Path | None
    ) -> RunFinished | RunFailed:
        """Store a finished run; a run the history cannot take ends as failed, with the reason."""
        try:
            return RunFinished(self._stored(record, history, run_file))
        except Exception as exc:  # TinyDB raised, the lock stayed taken: the run is not listed
            title, message = describe_error(exc)
            return RunFailed(
                record.request,
                title,
                f"the run finished but is not in the history: {message}",
            )

    def _stored(
        self, record: RunRecord, history: DeskState | None, run_file: Path | None
    ) -> RunRecord:
        stamped = record.model_copy(update={"finished_at": int(self._clock().timestamp() * 1000)})
        if history is None or run_file is None:
            return stamped
        return history.index_run(stamped, run_file, report_dir=self._dump_dir / "backtest")

    def cancel(self) -> None:
        """Ask the running backtest, if any, to stop."""
        self._cancel.set()

    def close(self) -> None:
        """Stop the child (cancelling its run); a later run spawns a new one.

        A run that does not stop within `CLOSE_SECONDS` (a strategy stuck in its own code)
        ends with its child, which is terminated.
        """
        self._cancel.set()
        if not self._lock.acquire(timeout=CLOSE_SECONDS):
            process = self._process
            if process is not None:
                process.terminate()
            self._lock.acquire()  # the relay sees the child gone and returns
        try:
            if self._conn is not None:
                with contextlib.suppress(OSError):  # the child may be gone already
                    self._conn.send(None)
            self._discard_child()
        finally:
            self._lock.release()


class _Outcome:
    """Posts one run's messages to the desk, letting through one ending message only.

    An ending message is `RunFinished`, `RunFailed` or `RunCancelled`: the first one posted
    ends the run for the desk, later ones (a child killed after it finished) are dropped.
    """

    def __init__(self, request: RunRequest, post: Post) -> None:
        self.request = request
        self._post = post
        self.ended = False

    def post(self, message: Message) -> None:
        """Post a message of the run (an ending one only if the run has not ended yet)."""
        if isinstance(message, RunFinished | RunFailed | RunCancelled):
            if self.ended:
                return
            self.ended = True
        self._post(message)

    def close(self) -> None:
        """End a run that said nothing about how it ended as failed."""
        self.post(
            RunFailed(
                self.request,
                "RunEndedWithoutOutcome",
                "the process running backtests finished the job without reporting how the "
                "run ended; run it again",
            )
        )


def serve(
    conn: Connection,
    cancel: Event,
    dump_dir: str,
    statistics: tuple[str, ...],
    signal_id_seed: int | None = None,
) -> None:
    """The child's loop: run each job sent over `conn` until it sends None or closes."""
    if signal_id_seed is not None:
        seed_signal_ids(signal_id_seed)
    lock = threading.Lock()

    def post(message: Message | JobDone) -> Any:
        money = None
        if isinstance(message, RunFinished):  # the relay has its signals, streamed already
            money = SignalMoney.of(message.record.signals)
            message = RunFinished(message.record.model_copy(update={"signals": ()}))
        with lock:
            if money is not None:
                conn.send(money)
            conn.send(message)

    bridge = EngineBridge(post, Path(dump_dir), statistics, datetime.now)
    bridge.subscribe()
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        try:
            _run_job(bridge, job, cancel)
        except Exception as exc:  # e.g. a message that does not pickle: the run failed
            post(RunFailed(job.request, *describe_error(exc)))
        post(JobDone())


def _run_job(bridge: EngineBridge, job: RunJob, cancel: Event) -> None:
    os.chdir(job.cwd)
    request = job.request
    with contextlib.suppress(engine.ConfigError):  # the run below reports what is missing
        window = bridge.frame_window(request) if request.is_custom_range else None
        frame = window.frame_name if window is not None else str(request.frame_name)
        job.setup.prepare([request.strategy_name], request.exchange_name, frame)

    def persist(record: RunRecord) -> RunRecord:
        if job.run_file is not None:
            write_run_file(Path(job.run_file), record)
        return record

    bridge.run(request, cancel, persist)  # type: ignore[arg-type]  # an Event all the same
