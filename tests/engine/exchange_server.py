"""A local stand-in for Binance's REST API (127.0.0.1 only), for ccxt's real code to talk to.

Answers `/api/v3/exchangeInfo`, `/api/v3/klines` (Binance's exact kline rows, built from the
demo market) and the futures exchangeInfo ccxt asks for; `faults` scripts the next kline
answers ("429", "500", "malformed", "garbage", "empty" for `[]`, "object" for `{}`);
`missing` drops candles (gaps); `delay` makes every kline answer wait (so a test can
interrupt a download between pages).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from engine.data.demo import generate

MIN = 60_000


def symbol_info(symbol: str, base: str, quote: str) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "status": "TRADING",
        "baseAsset": base,
        "baseAssetPrecision": 8,
        "quoteAsset": quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": True,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": "0.01",
                "maxPrice": "1000000.00",
                "tickSize": "0.01",
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": "0.00001",
                "maxQty": "9000.00000000",
                "stepSize": "0.00001",
            },
            {"filterType": "NOTIONAL", "minNotional": "5.00", "maxNotional": "9000000.00"},
        ],
        "permissions": [],
        "permissionSets": [["SPOT", "MARGIN"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def kline(ts: int, o: float, h: float, low: float, c: float, v: float) -> list[Any]:
    return [
        ts,
        f"{o:.8f}",
        f"{h:.8f}",
        f"{low:.8f}",
        f"{c:.8f}",
        f"{v:.8f}",
        ts + MIN - 1,
        f"{v * c:.8f}",
        42,
        f"{v / 2:.8f}",
        f"{v * c / 2:.8f}",
        "0",
    ]


@dataclass
class FakeBinance:
    """State of the fake exchange; tests edit `faults`, `missing` and `now_ms`."""

    now_ms: int
    faults: list[str] = field(default_factory=list)
    missing: set[int] = field(default_factory=set)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    api_keys: list[str] = field(default_factory=list)
    url: str = ""
    delay: float = 0.0

    def klines(self, query: dict[str, str]) -> tuple[int, str, str]:
        fault = self.faults.pop(0) if self.faults else ""
        time.sleep(self.delay)
        if fault == "empty":
            return 200, "application/json", "[]"
        if fault == "object":
            return 200, "application/json", "{}"
        if fault == "429":
            return (
                429,
                "application/json",
                json.dumps(
                    {
                        "code": -1003,
                        "msg": "Too many requests; current limit is 6000 request "
                        "weight per 1 MINUTE.",
                    }
                ),
            )
        if fault == "500":
            return 500, "text/html", "<html><body>500 Internal Server Error</body></html>"
        limit = min(int(query.get("limit", 500)), 1000)
        start = int(query.get("startTime", self.now_ms - limit * MIN))
        end = min(int(query.get("endTime", self.now_ms)), self.now_ms - MIN)
        first = start + (-start) % MIN
        span = (limit + len(self.missing) + 1) * MIN
        candles = generate("BTCUSDT", first, min(end + 1, first + span) + MIN)
        rows = [kline(*c) for c in candles.to_candles() if c[0] not in self.missing]
        rows = [r for r in rows if r[0] <= end][:limit]
        if fault == "malformed" and rows:
            rows[len(rows) // 2][2] = "not-a-number"
            rows[len(rows) // 2][3] = None
        if fault == "garbage":
            return 200, "application/json", '[[1704067200000, "42000.0", '
        return 200, "application/json", json.dumps(rows)

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, str, str]:
        self.requests.append((path, query))
        if path == "/api/v3/klines":
            return self.klines(query)
        if path == "/api/v3/exchangeInfo":
            return (
                200,
                "application/json",
                json.dumps(
                    {
                        "timezone": "UTC",
                        "serverTime": self.now_ms,
                        "rateLimits": [
                            {
                                "rateLimitType": "REQUEST_WEIGHT",
                                "interval": "MINUTE",
                                "intervalNum": 1,
                                "limit": 6000,
                            }
                        ],
                        "exchangeFilters": [],
                        "symbols": [
                            symbol_info("BTCUSDT", "BTC", "USDT"),
                            symbol_info("ETHUSDT", "ETH", "USDT"),
                        ],
                    }
                ),
            )
        if path in ("/fapi/v1/exchangeInfo", "/dapi/v1/exchangeInfo"):
            return (
                200,
                "application/json",
                json.dumps({"timezone": "UTC", "serverTime": self.now_ms, "symbols": []}),
            )
        if path in (
            "/sapi/v1/capital/config/getall",
            "/sapi/v1/margin/allPairs",
            "/sapi/v1/margin/isolated/allPairs",
        ):
            return 200, "application/json", "[]"
        if path == "/api/v3/time":
            return 200, "application/json", json.dumps({"serverTime": self.now_ms})
        return 404, "application/json", json.dumps({"code": -1, "msg": f"no route {path}"})


@contextmanager
def fake_binance(now_ms: int) -> Iterator[FakeBinance]:
    """Serve a `FakeBinance` on 127.0.0.1 (a free port) for the duration of the block."""
    state = FakeBinance(now_ms)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            if self.headers.get("X-MBX-APIKEY"):
                state.api_keys.append(self.headers["X-MBX-APIKEY"])
            status, kind, body = state.answer(parts.path, query)
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
