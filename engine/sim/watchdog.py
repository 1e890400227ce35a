"""A time budget on strategy code in live runs, and stops that work while it hangs.

A live tick runs the user's `get_signal`, callbacks and exchange `get_candles` (so do the
resume of a saved position and the catch-up). `guarded` runs them on a worker thread and
waits on it in the calling thread, so Ctrl+C and SIGTERM (whose handlers set the run's stop
and cancel events) are seen even while the user's code never returns:

* past the budget (`CC_STRATEGY_TIMEOUT_SECONDS`, `desk live --timeout`) the call is
  reported once on `listen_error` (`StrategyTimeoutError`) and the run keeps waiting;
* a cancel, or a stop once the call is past its budget, abandons the call if it has not
  returned `CANCEL_GRACE_SECONDS` later (one about to return is not "stuck"): the run ends
  with `StrategyHungError` (a thread cannot be killed; the strategy is marked stopped so a
  late answer opens nothing).

`sys.exit` in strategy code ends the run with `StrategyExitError`, never a silent exit.
"""

from __future__ import annotations

import contextvars
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

from engine.core.errors import EngineError, StrategyError
from engine.sim.exchange import ms_to_datetime

if TYPE_CHECKING:
    from engine.sim.strategy import ClientStrategy

T = TypeVar("T")
POLL_SECONDS = 0.05
CANCEL_GRACE_SECONDS = 0.5
"""How long a stopped run still waits for a running call before abandoning it: a call about to
return (say, a listener inside the tick cancelled the run) is not reported as stuck."""
_FIXED = {"_get_signal": "get_signal", "_fetch_user": "get_candles"}
"""Engine frames that run user code under a fixed name (`_call`, `_deliver` name theirs)."""
_ENGINE_DIR = str(Path(__file__).resolve().parent)


class StrategyTimeoutError(StrategyError):
    """A strategy call has run past its time budget (reported; the run waits for it)."""


class StrategyExitError(StrategyError):
    """Strategy code called `sys.exit`: a live run ends with an error, never exit 0."""


class StrategyHungError(EngineError):
    """The run was stopped while strategy code had not returned; the call is abandoned.

    Attributes:
        thread: the worker thread still running the call (it cannot be killed).
    """

    def __init__(self, message: str, thread: threading.Thread) -> None:
        super().__init__(message)
        self.thread = thread


FATAL = (StrategyExitError, StrategyHungError)
"""Errors that end a live run (every other tick error is reported and the run goes on)."""


def exit_error(strategy: str, exc: SystemExit) -> StrategyExitError:
    """Return the error for a `sys.exit(code)` in strategy code (the call found in `exc`)."""
    error = StrategyExitError(
        f"strategy {strategy} called sys.exit({exc.code!r}) in {_exited_in(exc)}; a strategy "
        "must not exit the process: return None to skip a signal, or raise an exception to report "
        "an error"
    )
    error.__cause__ = exc
    return error


def _call_name(frame: FrameType) -> str | None:
    """Return the user call an engine frame runs (None: the frame runs no user code)."""
    function = frame.f_code.co_name
    if function == "_call":
        return str(frame.f_locals.get("what"))
    if function == "_deliver":  # a journaled lifecycle callback
        return str(getattr(frame.f_locals.get("entry"), "callback", "a callback"))
    return _FIXED.get(function)


def _running_call(frame: FrameType | None) -> tuple[str, str]:
    """Return (the user call, the user's line it is at) for an innermost frame.

    Walks outwards to the engine frame that called user code; the user's line is the one
    in the function the engine called (the strategy's own code, not a library under it).
    """
    where = ""
    while frame is not None:
        code = frame.f_code
        if code.co_filename.startswith(_ENGINE_DIR):
            name = _call_name(frame)
            if name is not None:
                return name, where
        else:
            where = f"{Path(code.co_filename).name}:{frame.f_lineno} in {code.co_name}"
        frame = frame.f_back
    return "tick", where


def _exited_in(exc: BaseException) -> str:
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    call, where = _running_call(tb.tb_frame if tb is not None else None)
    return f"{call} (at {where})" if where else call


def describe(thread: threading.Thread) -> str:
    """Return what a worker thread is running, e.g. `get_signal (at my.py:12 in get_signal)`."""
    frame = sys._current_frames().get(thread.ident or -1)
    call, where = _running_call(frame)
    return f"{call} (at {where})" if where else call


def guarded(
    client: ClientStrategy,
    when: int,
    stop: threading.Event | None,
    cancel: threading.Event | None,
    fn: Callable[..., T],
    *args: Any,
) -> T:
    """Run `fn(*args)` (strategy code of `client`, e.g. its tick at `when`) under the budget.

    Returns:
        What `fn` returned; what it raised is raised here (`SystemExit` as
        `StrategyExitError`).

    Raises:
        StrategyHungError: `cancel` was set, or `stop` was set past the budget, and `fn` had
            not returned `CANCEL_GRACE_SECONDS` later.
    """
    budget = float(client.settings.strategy_timeout_seconds)
    outcome: list[Any] = []
    done = threading.Event()

    def work() -> None:
        try:
            outcome.append((True, fn(*args)))
        except SystemExit as exc:  # from user code the strategy does not wrap (get_candles)
            outcome.append((False, exit_error(client.name, exc)))
        except BaseException as exc:  # handed to the waiting thread, raised there
            outcome.append((False, exc))
        finally:
            done.set()

    caller = contextvars.copy_context()  # the tick sees the caller's context variables
    worker = threading.Thread(
        target=caller.run, args=(work,), name=f"strategy-{client.name}", daemon=True
    )
    started = time.monotonic()
    worker.start()
    late = False
    while not done.wait(POLL_SECONDS):
        if not late and budget > 0 and time.monotonic() - started >= budget:
            late = True
            client.report(_timeout(client, when, budget, describe(worker)), when, "tick")
        if (cancel is not None and cancel.is_set()) or (
            late and stop is not None and stop.is_set()
        ):
            if done.wait(CANCEL_GRACE_SECONDS):
                break
            client.stopped = True  # an answer that comes later opens nothing
            raise StrategyHungError(_hung(client, budget, describe(worker), late), worker)
    ok, value = outcome[0]
    if ok:
        return value
    raise value


def _timeout(client: ClientStrategy, when: int, budget: float, call: str) -> StrategyTimeoutError:
    return StrategyTimeoutError(
        f"strategy {client.name} on {client.symbol}: {call} has not returned within its "
        f"budget of {budget:g} s (tick at {ms_to_datetime(when).isoformat()}); the run waits "
        "for it, Ctrl+C or SIGTERM stops the run; change the budget with "
        "CC_STRATEGY_TIMEOUT_SECONDS or desk live --timeout"
    )


def _hung(client: ClientStrategy, budget: float, call: str, late: bool) -> str:
    past = f"past its budget of {budget:g} s" if late else "still running"
    return (
        f"stopped while strategy {client.name} on {client.symbol} was stuck in {call}, {past}; "
        "the call was abandoned and the saved state is kept for the next start: fix the "
        "strategy code that does not return"
    )
