"""Real exchanges through ccxt: paginated history, rate limits, retries, a local cache.

ccxt is imported on first use (it takes a while to load), so `import engine` stays fast.
API keys come from `engine.core.secrets` and never leave memory.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from engine.core.clock import SYSTEM_CLOCK, Clock
from engine.core.errors import ConfigError, DataError, TemporaryError
from engine.core.intervals import interval_ms
from engine.core.secrets import ApiCredentials, mask, mask_secrets, redact
from engine.data import candle_cache
from engine.data.candle_cache import Gap, Span
from engine.data.store import CandleArrays, to_ms

PAGE_LIMIT = 1000
COMMIT_SECONDS = 1.0
"""A download writes the pages it got to the cache at most this often (and when it ends)."""


@dataclass(frozen=True, slots=True)
class Download:
    """The result of a history download: the candles of the range and what is missing.

    `cancelled` tells a download stopped by its `cancel` event; `fetched` holds the ranges
    asked of the exchange this time (a cancelled download's end where it stopped).
    `unanswered` holds the ranges the exchange answered with an empty page: they are not
    cached (neither as candles nor as a gap), so the next download asks them again.
    """

    candles: CandleArrays
    gaps: tuple[Gap, ...]
    requests: int
    from_cache: bool
    cancelled: bool = False
    fetched: tuple[Span, ...] = ()
    unanswered: tuple[Span, ...] = ()


def _with_base(url: Any, base: str) -> Any:
    """Return `url` (a string or nested dict of strings) with its scheme and host replaced."""
    if isinstance(url, dict):
        return {key: _with_base(value, base) for key, value in url.items()}
    if isinstance(url, str) and "://" in url:
        parts = urlsplit(url)
        return base.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
    return url


class CcxtMarket:
    """One ccxt exchange as a candle source for the engine.

    Args:
        exchange_id: a ccxt id such as `binance`.
        credentials: API keys (optional: market data needs none).
        api_url: send every API call to this base URL instead (a testnet, a proxy, a mock).
        retries: attempts per request on temporary errors (network, rate limit, 5xx).
        backoff_ms: first wait between attempts; doubled after each failure.
        clock: where retry waits sleep (tests pass a simulated clock).
        config: extra ccxt constructor options.
    """

    def __init__(
        self,
        exchange_id: str,
        *,
        credentials: ApiCredentials | None = None,
        api_url: str | None = None,
        retries: int = 5,
        backoff_ms: float = 1000,
        clock: Clock = SYSTEM_CLOCK,
        config: dict[str, Any] | None = None,
    ) -> None:
        import ccxt

        if exchange_id not in ccxt.exchanges:
            import difflib

            hint = difflib.get_close_matches(exchange_id, ccxt.exchanges, n=3)
            raise ConfigError(
                f"ccxt has no exchange {exchange_id!r}"
                + (f"; did you mean {' or '.join(map(repr, hint))}?" if hint else "")
            )
        options: dict[str, Any] = {
            "enableRateLimit": True,
            "enableLastJsonResponse": True,
            **(config or {}),
        }
        if credentials is not None:
            options.update(apiKey=credentials.api_key, secret=credentials.secret)
            if credentials.password:
                options["password"] = credentials.password
        self.id = exchange_id
        self.client = getattr(ccxt, exchange_id)(options)
        if api_url:
            self.client.urls["api"] = _with_base(self.client.urls["api"], api_url)
        self.credentials = credentials
        self.retries = max(retries, 1)
        self.backoff_ms = backoff_ms
        self.clock = clock

    def __repr__(self) -> str:
        key = mask(self.credentials.api_key if self.credentials else None)
        return f"CcxtMarket({self.id}, api key {key})"

    # ----- one request ----------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        """Run a ccxt call with retries on temporary errors; translate the others."""
        import ccxt

        for attempt in range(1, self.retries + 1):
            try:
                return fn()
            except ccxt.BadResponse as exc:
                raise DataError(
                    f"exchange {self.id}: {what} returned a malformed answer ({self._text(exc)})"
                ) from None
            except ccxt.OperationFailed as exc:  # network, rate limit, 5xx: may pass
                if attempt == self.retries:
                    raise TemporaryError(
                        f"exchange {self.id}: {what} failed {attempt} times "
                        f"({type(exc).__name__}: {self._text(exc)}); the exchange is "
                        "unreachable or limiting requests, try again later"
                    ) from None
                self.clock.sleep(self.backoff_ms * 2 ** (attempt - 1))
            except (ccxt.BadSymbol, ccxt.AuthenticationError, ccxt.PermissionDenied) as exc:
                raise ConfigError(f"exchange {self.id}: {what}: {self._text(exc)}") from None
            except ccxt.BaseError as exc:
                raise DataError(
                    f"exchange {self.id}: {what} failed ({type(exc).__name__}: {self._text(exc)})"
                ) from None
        raise AssertionError("unreachable")

    def _text(self, exc: Exception) -> str:
        text = mask_secrets(redact(str(exc), self.credentials))
        return text if len(text) <= 300 else text[:300] + "…"

    def load_markets(self) -> None:
        """Load the exchange's markets once (symbols, precisions)."""
        if not self.client.markets:
            self._call("load_markets()", self.client.load_markets)

    def symbol(self, symbol: str) -> str:
        """Return the unified symbol of `symbol` (`BTCUSDT` and `BTC/USDT` both work)."""
        self.load_markets()
        markets = self.client.markets
        if symbol in markets:
            return symbol
        by_id = self.client.markets_by_id or {}
        if symbol in by_id:
            return str(by_id[symbol][0]["symbol"])
        import difflib

        hint = difflib.get_close_matches(symbol, list(markets), n=3)
        tail = f"; did you mean {' or '.join(map(repr, hint))}?" if hint else ""
        raise ConfigError(f"exchange {self.id} has no symbol {symbol!r}{tail}")

    def fetch_page(self, symbol: str, timeframe: str, since: int, limit: int) -> CandleArrays:
        """Return one page of candles from `since` (validated, sorted)."""
        unified = self.symbol(symbol)
        what = f"fetch_ohlcv({unified}, {timeframe}, since={since}, limit={limit})"
        rows = self._call(
            what, lambda: self.client.fetch_ohlcv(unified, timeframe, since=since, limit=limit)
        )
        if not rows and self.client.last_json_response is None:
            # ccxt turns an answer that is not JSON into an empty list: do not take it as "no data"
            body = str(self.client.last_http_response or "")[:120]
            raise DataError(
                f"exchange {self.id}: {what} returned a malformed answer (not JSON): {body!r}"
            )
        return _validated(rows, f"exchange {self.id}: {what}")

    # ----- the exchange contract and downloads ---------------------------------------------

    def get_candles(
        self, symbol: str, interval: str, since: datetime | int, limit: int
    ) -> list[tuple[int, float, float, float, float, float]]:
        """Return up to `limit` candles opening at or after `since` (for `add_exchange`)."""
        page = self.fetch_page(symbol, interval, to_ms(since), limit)
        return list(
            zip(
                page.timestamp.tolist(),
                page.open.tolist(),
                page.high.tolist(),
                page.low.tolist(),
                page.close.tolist(),
                page.volume.tolist(),
                strict=True,
            )
        )

    def download(
        self,
        symbol: str,
        start_ms: int,
        end_ms: int,
        timeframe: str = "1m",
        *,
        use_cache: bool = True,
        refresh: bool = False,
        progress: Callable[[int, int], Any] | None = None,
        cancel: threading.Event | None = None,
    ) -> Download:
        """Download candles opening in `[start_ms, end_ms)`, page by page; cache them.

        Ranges already in the cache are not asked again unless `refresh` is set (then the
        whole range is downloaded and its new candles replace the cached ones).
        `progress(done_ms, total_ms)` is called after each page. `cancel` is checked before
        each page: once set, the download stops, keeps the pages it got and marks only the
        ranges they cover as downloaded. Gaps are the candles the exchange did not return.

        The pages are committed to the cache as they come (at most every `COMMIT_SECONDS`),
        and at once when the download ends in any way: a Ctrl+C (`KeyboardInterrupt`) or an
        error keeps every page already fetched. An empty page is never cached as a gap: the
        range from it to the end of its span is `unanswered` and asked again next time.
        """
        step = interval_ms(timeframe)
        unified = self.symbol(symbol)
        cached = candle_cache.load(self.id, unified, timeframe) if use_cache else None
        spans = cached.spans if cached is not None else ()
        todo = (
            [(start_ms, end_ms)] if refresh else candle_cache.missing_spans(spans, start_ms, end_ms)
        )
        total = sum(b - a for a, b in todo)
        pages = _Pages(self.id, unified, timeframe, cached, use_cache)
        unanswered: list[Span] = []
        requests, done, cancelled = 0, 0, False
        try:
            for lo, hi in todo:
                since = lo
                pages.fetched.append((lo, lo))
                while since < hi:
                    if cancel is not None and cancel.is_set():
                        cancelled = True
                        break
                    page = self.fetch_page(unified, timeframe, since, PAGE_LIMIT)
                    requests += 1
                    if len(page) == 0 or int(page.timestamp[-1]) < since:
                        unanswered.append((since, hi))
                        break
                    pages.add(page.slice(0, int(page.timestamp.searchsorted(hi))))
                    since = min(int(page.timestamp[-1]) + step, hi)
                    pages.fetched[-1] = (lo, since)
                    pages.commit_if_due()
                    if progress is not None:
                        progress(done + since - lo, total)
                if cancelled:
                    break
                done += hi - lo
        finally:
            merged = pages.commit() if requests else pages.merged()
        keep = (merged.timestamp >= start_ms) & (merged.timestamp < end_ms)
        window = merged.take(keep.nonzero()[0])
        gaps = tuple(
            gap
            for lo, hi in pages.covered()
            if hi > start_ms and lo < end_ms
            for gap in candle_cache.find_gaps(
                window.timestamp, max(lo, start_ms), min(hi, end_ms), step
            )
        )
        fetched = tuple(span for span in pages.fetched if span[1] > span[0])
        return Download(
            window,
            gaps,
            requests,
            requests == 0 and not cancelled,
            cancelled,
            fetched,
            tuple(unanswered),
        )


class _Pages:
    """The pages a download got so far, and their commits to the cache file."""

    def __init__(
        self,
        exchange: str,
        symbol: str,
        timeframe: str,
        cached: candle_cache.CacheEntry | None,
        enabled: bool,
    ) -> None:
        self._where = (exchange, symbol, timeframe)
        self._cached = cached
        self._enabled = enabled
        self._pages: list[CandleArrays] = []
        self._committed_at = time.monotonic()
        self.fetched: list[Span] = []
        """The ranges answered so far (the last one grows page by page)."""

    def add(self, page: CandleArrays) -> None:
        """Keep a page's candles."""
        if len(page):
            self._pages.append(page)

    def covered(self) -> tuple[Span, ...]:
        """Return the ranges the cache holds once the pages are committed."""
        spans = self._cached.spans if self._cached is not None else ()
        return candle_cache.merge_spans([*spans, *self.fetched])

    def merged(self) -> CandleArrays:
        """Return the cached candles outside the answered ranges, with the new pages."""
        kept = [_outside(self._cached.candles, self.fetched)] if self._cached is not None else []
        return _concat([*kept, *self._pages])

    def commit_if_due(self) -> None:
        """Commit if `COMMIT_SECONDS` passed since the last commit."""
        if time.monotonic() - self._committed_at >= COMMIT_SECONDS:
            self.commit()

    def commit(self) -> CandleArrays:
        """Write the candles and covered ranges to the cache; return the candles."""
        merged = self.merged()
        if self._enabled:
            candle_cache.save(*self._where, merged, self.covered())
        self._committed_at = time.monotonic()
        return merged


def _outside(candles: CandleArrays, spans: list[Span]) -> CandleArrays:
    """Return the candles that open outside every span."""
    import numpy as np

    ts = candles.timestamp
    inside = np.zeros(len(ts), dtype=bool)
    for lo, hi in spans:
        inside |= (ts >= lo) & (ts < hi)
    return candles.take(np.flatnonzero(~inside))


def _concat(parts: list[CandleArrays]) -> CandleArrays:
    import numpy as np

    if not parts:
        return CandleArrays.from_columns([], [], [], [], [], [])
    columns = [
        np.concatenate([getattr(p, name) for p in parts])
        for name in ("timestamp", "open", "high", "low", "close", "volume")
    ]
    ts = columns[0]
    _, first = np.unique(ts, return_index=True)
    return CandleArrays.from_columns(*(c[first] for c in columns))


def _validated(rows: Any, where: str) -> CandleArrays:
    """Check an OHLCV answer row by row; reject it with the first bad row named."""
    if not isinstance(rows, list):
        raise DataError(f"{where} returned {type(rows).__name__}, not a list of candles")
    for i, row in enumerate(rows):
        ok = isinstance(row, list | tuple) and len(row) >= 6
        values = list(row[:6]) if ok else []
        ok = ok and all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in values
        )
        if ok:
            ts, o, h, low, c, v = values
            ok = h >= max(o, c, low) and low <= min(o, c) and low > 0 and v >= 0
        if not ok:
            raise DataError(
                f"{where} returned a malformed candle at row {i}: {row!r}; expected "
                "[timestamp, open, high, low, close, volume] with high >= open, close >= low > 0"
            )
    data = CandleArrays.from_candles([tuple(r[:6]) for r in rows])
    ts = data.timestamp
    if len(ts) > 1 and bool((ts[1:] <= ts[:-1]).any()):
        data = data.take(ts.argsort(kind="stable"))
    return data


def ccxt_exchange(
    exchange_id: str,
    *,
    exchange_name: str | None = None,
    credentials: ApiCredentials | None = None,
    register: bool = True,
    **options: Any,
) -> CcxtMarket:
    """Connect a ccxt exchange and (by default) register it with `add_exchange`.

    Prices and quantities are formatted with the exchange's market precision.

    Args:
        exchange_id: a ccxt id such as `binance`.
        exchange_name: the name to register under (default: the ccxt id).
        credentials: API keys, e.g. `engine.core.secrets.exchange_credentials("binance")`.
        register: False to only build the market (for downloads).
        **options: passed to `CcxtMarket` (api_url, retries, backoff_ms, clock, config).
    """
    from engine.core.registration import add_exchange

    market = CcxtMarket(exchange_id, credentials=credentials, **options)
    if register:

        def format_price(symbol: str, price: float) -> str:
            return _formatted(market, "price_to_precision", symbol, price, 8)

        def format_quantity(symbol: str, quantity: float) -> str:
            return _formatted(market, "amount_to_precision", symbol, quantity, 8)

        add_exchange(
            exchange_name=exchange_name or exchange_id,
            get_candles=market.get_candles,
            format_price=format_price,
            format_quantity=format_quantity,
            note=f"ccxt {exchange_id}: {market!r}",
        )
    return market


def _formatted(market: CcxtMarket, method: str, symbol: str, value: float, digits: int) -> str:
    try:
        return str(getattr(market.client, method)(market.symbol(symbol), value))
    except Exception:  # no market data to format with: plain digits
        return f"{value:.{digits}f}"
