"""The desk's own immutable records: run requests, signal rows and finished runs."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_BALANCE = 10_000.0
"""The account's starting balance when the launcher is not told otherwise (quote currency)."""


class Profile(StrEnum):
    """Execution profiles the engine accepts."""

    DEFAULT = "default"
    BACKTEST_KIT_1_4_10 = "backtest-kit-1.4.10"


class RunRequest(BaseModel):
    """What the launcher asks for: one backtest of one strategy on one symbol.

    A run uses either a registered frame (`frame_name`) or an ad-hoc date range
    (`start_ms`/`end_ms`, epoch ms UTC, with `frame_name` left empty). `balance` is the
    account's starting balance in the quote currency (positive; requests stored before it
    existed read as 10,000).
    """

    model_config = ConfigDict(frozen=True)

    strategy_name: str
    symbol: str
    exchange_name: str
    frame_name: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    profile: Profile = Profile.DEFAULT
    balance: float = Field(default=DEFAULT_BALANCE, gt=0, allow_inf_nan=False)

    @property
    def is_custom_range(self) -> bool:
        """Return whether the run uses a date range instead of a registered frame."""
        return self.frame_name is None


class SignalStatus(StrEnum):
    """Life stage of a signal row in the stream."""

    SCHEDULED = "scheduled"
    OPENED = "opened"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class SignalView(NamedTuple):
    """One signal as the desk shows and stores it; rows are keyed by `signal_id`.

    A named tuple rather than a pydantic model: a 365-day run keeps about 9,000 of them, and
    as models they were 27,000 objects for the garbage collector to scan at every full pass
    (each pass stops the UI) and 4 times slower to unpickle from the run process. Pydantic
    still validates them inside `RunRecord`. `fee` and `pnl_money` are the closed trade's
    fees and net PnL in money, from the run's account (None while it runs, and in runs
    stored before the account existed).
    """

    signal_id: str
    status: SignalStatus
    position: str
    price_open: float
    price_take_profit: float
    price_stop_loss: float
    opened_at: int
    closed_at: int | None = None
    price_close: float | None = None
    close_reason: str | None = None
    pnl_percentage: float | None = None
    ambiguous: bool = False
    note: str | None = None
    fee: float | None = None
    pnl_money: float | None = None
    scheduled_at: int | None = None
    """When a limit signal started waiting for its price (None: it opened at once)."""


class ScheduleOutcome(StrEnum):
    """What became of a scheduled (limit) signal by the end of its run."""

    ACTIVATED = "activated"
    CANCELLED = "cancelled"
    WAITING = "waiting"


class ScheduledSignal(NamedTuple):
    """A limit signal of a run: when it started waiting for its price and how that ended.

    `ended_at` is when it activated or was cancelled (None: still waiting at the run's end);
    `price_then` is the market price when it was scheduled.
    """

    signal_id: str
    position: str
    scheduled_at: int
    price_open: float
    price_take_profit: float
    price_stop_loss: float
    price_then: float
    outcome: ScheduleOutcome = ScheduleOutcome.WAITING
    ended_at: int | None = None
    note: str | None = None


class PartialLevel(NamedTuple):
    """An open signal of a run reached a partial profit or loss level (percent of price move)."""

    timestamp: int
    kind: str
    """`profit` or `loss`."""
    signal_id: str
    position: str
    level: int
    price: float


class TimingRow(NamedTuple):
    """The engine's timing of one step of a run (`engine.Performance`), in milliseconds."""

    metric_type: str
    measurements: int
    total_ms: float
    avg_ms: float
    min_ms: float
    max_ms: float
    p95_ms: float


class RunSections(BaseModel):
    """A run's report sections besides its trades: scheduled signals, partial levels, timings.

    A run's record has None instead when it was stored before the desk kept its sections.
    """

    model_config = ConfigDict(frozen=True)

    scheduled: tuple[ScheduledSignal, ...] = ()
    partials: tuple[PartialLevel, ...] = ()
    timings: tuple[TimingRow, ...] = ()


class RunSummary(BaseModel):
    """A finished run as the history list shows it: what ran, its statistics, its errors.

    `statistics` holds backtest-kit's figures and the account's (`engine.analytics.account`: final
    equity, return, drawdown of peak equity, … under the names of `tui.formatting.STATISTICS`);
    runs stored before the account existed lack the latter, which then show `—`.

    `error_count` counts every recoverable error the engine reported during the run (a
    strategy's `get_signal` raised, a candle fetch failed), `first_error` is the first one's
    text; both default, so runs stored before they existed still read as clean runs.
    """

    model_config = ConfigDict(frozen=True)

    run_id: int = 0
    request: RunRequest
    frame_label: str
    start_ms: int
    end_ms: int
    finished_at: int
    statistics: dict[str, float | None]
    report_path: str | None = None
    error_count: int = 0
    first_error: str | None = None

    def error_summary(self, limit: int | None = None) -> str | None:
        """Return `12 errors · first: ValueError: boom`, or None for a clean run.

        Args:
            limit: Cut the first error's text to this many characters (with `…`).
        """
        if not self.error_count:
            return None
        noun = "error" if self.error_count == 1 else "errors"
        first = self.first_error.splitlines()[0] if self.first_error else "?"
        if limit is not None and len(first) > limit:
            first = first[: limit - 1] + "…"
        return f"{self.error_count} {noun} · first: {first}"

    @property
    def title(self) -> str:
        """Return `#3 bracket · BTCUSDT · demo-7d`."""
        return (
            f"#{self.run_id} {self.request.strategy_name} · {self.request.symbol} · "
            f"{self.frame_label}"
        )


class RunRecord(RunSummary):
    """A finished run in full: its summary, closed signals, markdown report and sections."""

    signals: tuple[SignalView, ...]
    report: str
    sections: RunSections | None = None
    """None for runs stored before the desk kept the sections (their report says so)."""

    def summary(self) -> RunSummary:
        """Return the run without its signals, report and sections."""
        return RunSummary.model_validate(self.model_dump(exclude={"signals", "report", "sections"}))
