"""The data screen: cached datasets and candle files with the highlighted one's gap calendar.

Downloads (new ranges, refreshes) run in a thread worker with a progress bar and a cancel
key; a cache entry is deleted after a yes/no.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.events import Resize
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Label, ProgressBar, Static

from engine.core.errors import EngineError
from engine.data import candle_cache
from engine.data.ccxt_exchange import CcxtMarket, Download
from engine.data.inventory import (
    CACHE_KIND,
    DatasetInfo,
    cached_datasets,
    dataset_candles,
    gap_calendar,
)
from tui.data_command import minute_text
from tui.formatting import Clock, system_clock
from tui.screens.confirm import ConfirmModal
from tui.screens.data_download import DownloadModal, DownloadRequest, default_api_url
from tui.widgets.gap_calendar import GapCalendarView, legend
from tui.widgets.key_footer import KeyFooter
from tui.widgets.vim_table import VimTable

COMPACT_WIDTH, COMPACT_HEIGHT = 100, 30
COLUMNS = (
    ("kind", "Kind"),
    ("exchange", "Exchange"),
    ("symbol", "Symbol"),
    ("timeframe", "TF"),
    ("first", "First (UTC)"),
    ("last", "Last (UTC)"),
    ("rows", "Rows"),
    ("missing", "Missing"),
    ("zero", "Zero vol"),
)
NARROW_COLUMNS = (
    ("dataset", "Dataset"),
    ("first", "First (UTC)"),
    ("last", "Last (UTC)"),
    ("rows", "Rows"),
)
"""Below `COMPACT_WIDTH` columns: the missing minutes move to the calendar's title."""


class DownloadProgressed(Message):
    """A page arrived: `done_ms` of `total_ms` downloaded."""

    def __init__(self, done_ms: int, total_ms: int) -> None:
        super().__init__()
        self.done_ms = done_ms
        self.total_ms = total_ms


class DownloadEnded(Message):
    """A download finished, was cancelled (`result.cancelled`) or failed (`error`).

    `symbol` is the symbol as the exchange unified it (the cache's name for it).
    """

    def __init__(
        self,
        request: DownloadRequest,
        result: Download | None,
        error: str | None,
        symbol: str | None = None,
    ) -> None:
        super().__init__()
        self.request = request
        self.result = result
        self.error = error
        self.symbol = symbol or request.symbol


def download_summary(request: DownloadRequest, result: Download) -> str:
    """Say what a download brought (and, when cancelled, what counts as downloaded)."""
    rows = len(result.candles)
    missing = sum(gap.count for gap in result.gaps)
    count = len(result.gaps)
    plural = "" if count == 1 else "s"
    gaps = f", {count} gap{plural} ({missing} candles missing)" if count else ", no gaps"
    if result.cancelled:
        reached = [hi for lo, hi in result.fetched if hi > lo]
        upto = f" up to {minute_text(reached[-1])}" if reached else ""
        return (
            f"Cancelled {request.exchange} {request.symbol}: kept the {result.requests} pages "
            f"it got ({rows:,} candles{upto}); only that part counts as downloaded."
        )
    verb = "Refreshed" if request.refresh else "Downloaded"
    source = "all from the cache" if result.from_cache else f"{result.requests} requests"
    return f"{verb} {request.label}: {rows:,} candles{gaps} ({source})."


class DataScreen(Screen[None]):
    """Datasets in a table, the highlighted one's gap calendar under it.

    `n` downloads a new range, `r` downloads the highlighted range again, `x` cancels a
    download, `d` deletes the highlighted cache entry (after asking).

    Args:
        files: Candle files the desk was opened with, listed after the cache.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="data-back"),
        Binding("N", "new_download", "New download", tooltip="Download a new range", id="data-new"),
        Binding(
            "u",
            "refresh_dataset",
            "Update",
            tooltip="Download the highlighted dataset's range again",
            id="data-refresh",
        ),
        Binding("x", "cancel_download", "Cancel", tooltip="Stop the download", id="data-cancel"),
        Binding(
            "d,delete",
            "delete_dataset",
            "Delete",
            tooltip="Delete the highlighted cache entry (asks first)",
            id="data-delete",
        ),
    ]

    def __init__(self, files: Sequence[DatasetInfo] = ()) -> None:
        super().__init__()
        self.files = list(files)
        self.datasets: dict[str, DatasetInfo] = {}
        self.api_url = default_api_url() or None
        self._cancel = threading.Event()
        self.downloading: DownloadRequest | None = None
        self.narrow: bool | None = None

    def compose(self) -> ComposeResult:
        """Title, datasets, progress and status, calendar with its legend, footer."""
        yield Label(
            "Data · N new download · u update · x cancel · d delete",
            id="data-title",
            classes="screen-title",
        )
        table = VimTable(id="data-sets", cursor_type="row", zebra_stripes=True, classes="pane")
        table.border_title = "Datasets"
        yield table
        with Horizontal(id="data-progress-row"):
            yield ProgressBar(total=1, show_eta=False, id="data-progress")
            yield Static("", id="data-status")
        with VerticalScroll(id="data-calendar-scroll", classes="pane") as scroll:
            scroll.border_title = "Gaps per UTC hour"
            yield GapCalendarView(id="data-calendar")
        yield Static("", id="data-legend")
        yield KeyFooter()

    def on_mount(self) -> None:
        """Fill the table and draw the legend."""
        self.query_one("#data-legend", Static).update(legend(self.app.theme_variables))
        self._fit(self.app.size.width, self.app.size.height)
        self.query_one(VimTable).focus()

    def on_resize(self, event: Resize) -> None:
        """Fit the table's columns and height to the terminal."""
        self._fit(event.size.width, event.size.height)

    def _fit(self, width: int, height: int) -> None:
        self.set_class(width < COMPACT_WIDTH or height < COMPACT_HEIGHT, "-compact")
        narrow = width < COMPACT_WIDTH
        if narrow == self.narrow:
            return
        self.narrow = narrow
        table = self.query_one(VimTable)
        current = self._cursor_key()
        table.clear(columns=True)
        for key, label in NARROW_COLUMNS if narrow else COLUMNS:
            table.add_column(label, key=key)
        self.reload(highlight=current)

    def on_unmount(self) -> None:
        """Stop a running download (it keeps what it got)."""
        self._cancel.set()

    # ----- the table and the calendar ---------------------------------------------------------

    def reload(self, highlight: str | None = None) -> None:
        """List the cache and the files again; keep the cursor on `highlight` (a path)."""
        table = self.query_one(VimTable)
        current = highlight or self._cursor_key()
        table.clear()
        infos = [*cached_datasets(), *self.files]
        self.datasets = {str(info.path): info for info in infos}
        for info in infos:
            table.add_row(*self._cells(info), key=str(info.path))
        table.border_title = f"Datasets ({len(infos)})"
        keys = list(self.datasets)
        if current in keys:
            table.move_cursor(row=keys.index(current))
        if not infos:
            self._status("Nothing cached yet: press N to download candles.")
        self.show_calendar()

    def _cells(self, info: DatasetInfo) -> tuple[str, ...]:
        first, last, rows = minute_text(info.first_ms), minute_text(info.last_ms), f"{info.rows:,}"
        if self.narrow:
            return (f"{info.exchange} {info.symbol} {info.timeframe}", first, last, rows)
        return (
            info.kind,
            info.exchange,
            info.symbol,
            info.timeframe,
            first,
            last,
            rows,
            f"{info.missing_minutes:,}",
            f"{info.zero_volume_minutes:,}",
        )

    def _cursor_key(self) -> str | None:
        table = self.query_one(VimTable)
        if table.row_count == 0:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def highlighted(self) -> DatasetInfo | None:
        """Return the dataset under the cursor."""
        key = self._cursor_key()
        return None if key is None else self.datasets.get(key)

    @on(DataTable.RowHighlighted, "#data-sets")
    def _row_highlighted(self) -> None:
        self.show_calendar()

    def show_calendar(self) -> None:
        """Draw the gap calendar of the highlighted dataset."""
        info = self.highlighted()
        view = self.query_one(GapCalendarView)
        scroll = self.query_one("#data-calendar-scroll", VerticalScroll)
        if info is None:
            view.show(None)
            scroll.border_title = "Gaps per UTC hour"
            return
        try:
            candles = dataset_candles(info)
        except EngineError as exc:
            view.show(None)
            self._failed(str(exc))
            return
        view.show(gap_calendar(candles, info.timeframe))
        scroll.border_title = (
            f"{info.symbol} {info.timeframe} · {info.missing_minutes:,} missing · "
            f"{info.zero_volume_minutes:,} zero-volume minutes per UTC hour"
        )
        scroll.scroll_home(animate=False)

    # ----- downloads -----------------------------------------------------------------------

    def _status(self, text: str) -> None:
        status = self.query_one("#data-status", Static)
        status.remove_class("-failed")
        status.update(text)

    def _failed(self, message: str) -> None:
        self.query_one("#data-status", Static).update(f"Failed: {message}")
        self.query_one("#data-status", Static).add_class("-failed")
        self.notify(message, title="Data", severity="error")

    def action_new_download(self) -> None:
        """Ask what to download, then download it."""
        if self._busy():
            return

        def chosen(request: DownloadRequest | None) -> None:
            if request is not None:
                self.start_download(request)

        self.app.push_screen(DownloadModal(self._now_ms()), chosen)

    def _now_ms(self) -> int:
        clock: Clock = getattr(self.app, "clock", system_clock)
        return round(clock().timestamp() * 1000)

    def action_refresh_dataset(self) -> None:
        """Download the highlighted cache entry's range again (its new candles replace it)."""
        info = self.highlighted()
        if info is None or info.kind != CACHE_KIND or info.first_ms is None:
            self.notify(
                "Highlight a ccxt cache entry to refresh; candle files have no exchange.",
                severity="warning",
            )
            return
        if self._busy():
            return
        end = info.end_ms if info.end_ms is not None else info.first_ms
        self.start_download(
            DownloadRequest(
                info.exchange,
                info.symbol,
                info.first_ms,
                end,
                self.api_url,
                info.timeframe,
                refresh=True,
            )
        )

    def _busy(self) -> bool:
        if self.downloading is not None:
            self.notify(
                f"Downloading {self.downloading.label}; press x to cancel it first.",
                severity="warning",
            )
            return True
        return False

    def start_download(self, request: DownloadRequest) -> None:
        """Run a download in a thread worker; progress shows under the table."""
        self.downloading = request
        self.api_url = request.api_url
        self._cancel = threading.Event()
        self.query_one("#data-progress", ProgressBar).update(total=1, progress=0)
        self.query_one("#data-progress-row").add_class("-running")
        self._status(f"Downloading {request.label} … x cancels")
        self._download(request, self._cancel)

    @work(thread=True, exclusive=True, exit_on_error=False, group="data-download")
    def _download(self, request: DownloadRequest, cancel: threading.Event) -> None:
        try:
            market = CcxtMarket(request.exchange, api_url=request.api_url)
            symbol = market.symbol(request.symbol)
            result = market.download(
                request.symbol,
                request.start_ms,
                request.end_ms,
                request.timeframe,
                refresh=request.refresh,
                progress=lambda done, total: self.post_message(DownloadProgressed(done, total)),
                cancel=cancel,
            )
        except EngineError as exc:
            self.post_message(DownloadEnded(request, None, str(exc)))
        except Exception as exc:  # ccxt or the network failing in a way not translated
            self.post_message(DownloadEnded(request, None, f"{type(exc).__name__}: {exc}"))
        else:
            self.post_message(DownloadEnded(request, result, None, symbol))

    def on_download_progressed(self, event: DownloadProgressed) -> None:
        """Move the progress bar."""
        self.query_one("#data-progress", ProgressBar).update(
            total=max(event.total_ms, 1), progress=event.done_ms
        )

    def on_download_ended(self, event: DownloadEnded) -> None:
        """List the new candles and say what came (or what went wrong)."""
        self.downloading = None
        self.query_one("#data-progress-row").remove_class("-running")
        if event.result is None:
            self._failed(f"{event.request.label}: {event.error}")
            return
        summary = download_summary(event.request, event.result)
        self._status(summary)
        self.notify(
            summary, title="Data", severity="warning" if event.result.cancelled else "information"
        )
        path = candle_cache.cache_path(
            event.request.exchange, event.symbol, event.request.timeframe
        )
        self.reload(highlight=str(path))

    def action_cancel_download(self) -> None:
        """Stop the running download after the page in flight (it keeps what it got)."""
        if self.downloading is None:
            self.notify("No download is running.", severity="warning")
            return
        self._cancel.set()
        self._status(f"Cancelling {self.downloading.label} after the page in flight …")

    # ----- delete ----------------------------------------------------------------------------

    def action_delete_dataset(self) -> None:
        """Ask, then delete the highlighted cache entry's file."""
        info = self.highlighted()
        if info is None or info.kind != CACHE_KIND:
            self.notify(
                "Highlight a ccxt cache entry to delete; candle files stay where they are.",
                severity="warning",
            )
            return
        if self._busy():
            return

        def answered(delete: bool | None) -> None:
            if delete:
                self._delete(info)

        self.app.push_screen(
            ConfirmModal(
                "Delete cached candles",
                f"Delete {info.exchange} {info.symbol} {info.timeframe}?",
                f"{info.rows:,} candles from {minute_text(info.first_ms)} to "
                f"{minute_text(info.last_ms)} UTC leave the cache ({info.path}). "
                "Download them again with n.",
                "y / enter delete · n / esc keep",
                dialog_id="confirm-data-delete",
            ),
            answered,
        )

    def _delete(self, info: DatasetInfo) -> None:
        try:
            candle_cache.delete(info.exchange, info.symbol, info.timeframe)
        except (EngineError, OSError) as exc:
            self._failed(str(exc))
            return
        message = f"Deleted {info.exchange} {info.symbol} {info.timeframe} ({info.rows:,} candles)."
        self.reload()
        self._status(message)
        self.notify(message, title="Data")
