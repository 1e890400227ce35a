"""Messages from the engine bridge to the desk: facts in the past tense, one per phase of a run."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from tui.runs import RunRecord, RunRequest, SignalView


@dataclass
class RunStarted(Message):
    """A backtest began."""

    request: RunRequest
    frame_label: str


@dataclass
class RunProgressed(Message):
    """A backtest advanced; a full snapshot, so a queued one may replace the previous."""

    processed_frames: int
    total_frames: int

    def can_replace(self, message: Message) -> bool:
        """Merge with an older progress message still waiting in the queue."""
        return isinstance(message, RunProgressed)


@dataclass
class SignalsReceived(Message):
    """A batch of signal rows (opened, closed, cancelled) of the running backtest."""

    signals: tuple[SignalView, ...]


@dataclass
class RunFinished(Message):
    """A backtest completed; `record` holds its statistics, signals and report."""

    record: RunRecord


@dataclass
class RunCancelled(Message):
    """A backtest was cancelled by the user before it completed."""

    request: RunRequest
    closed_signals: int


@dataclass
class RunFailed(Message):
    """A backtest could not run or stopped on an error."""

    request: RunRequest
    title: str
    msg: str


@dataclass
class EngineErrorReported(Message):
    """The engine reported a recoverable error (`listen_error`), e.g. a strategy raised."""

    title: str
    msg: str


@dataclass
class EngineNoticed(Message):
    """Something worth a log line happened in the engine (partial profit, a warning)."""

    text: str
    severity: str = "information"


@dataclass
class ModuleLoaded(Message):
    """The user's strategy module was imported; the registry may have changed."""

    path: str


@dataclass
class ModuleLoadFailed(Message):
    """The user's strategy module could not be imported."""

    path: str
    title: str
    msg: str
