"""`desk data`: download candles from an exchange into the local cache, list the cache."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any, TextIO

EXIT_OK, EXIT_FAILED = 0, 1


def add_parser(verbs: Any) -> None:
    """Declare `desk data download` and `desk data list`."""
    data = verbs.add_parser("data", help="download and list cached candles")
    actions = data.add_subparsers(dest="data_verb", metavar="ACTION", required=True)
    download = actions.add_parser(
        "download",
        help="download candles through ccxt into the local cache",
        description="Download candles page by page (ccxt rate limits, retries on temporary "
        "errors). Periods already cached are not asked again; missing candles are reported.",
    )
    download.add_argument("exchange", help="a ccxt exchange id, e.g. binance")
    download.add_argument("symbol", help="e.g. BTC/USDT or BTCUSDT")
    download.add_argument("--start", required=True, help="first candle, e.g. 2024-03-01 (UTC)")
    download.add_argument("--end", required=True, help="end (exclusive), e.g. 2024-04-01 (UTC)")
    download.add_argument("--timeframe", default="1m", help="candle interval (default: 1m)")
    download.add_argument("--env-file", help="a .env file with <EXCHANGE>_API_KEY / _API_SECRET")
    download.add_argument("--api-url", help="send the exchange's API calls to this base URL")
    download.add_argument("--json", action="store_true", help="print one JSON object")
    listing = actions.add_parser("list", help="list the cached candles")
    listing.add_argument("--json", action="store_true", help="print one JSON object")


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M")


def _ms(text: str, option: str) -> int:
    from engine.errors import ConfigError

    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{option} {text!r} is not a date; use e.g. 2024-03-01") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def data_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run `desk data download` or `desk data list`."""
    from engine.errors import EngineError

    try:
        if args.data_verb == "download":
            return _download(args, out, err)
        return _list(args, out)
    except (EngineError, OSError) as exc:
        err.write(f"error: {exc}\n")
        return EXIT_FAILED


def _download(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from engine.data.ccxt_exchange import CcxtMarket
    from engine.errors import ConfigError
    from engine.secrets import exchange_credentials

    start, end = _ms(args.start, "--start"), _ms(args.end, "--end")
    if end <= start:
        raise ConfigError(f"--end {args.end} must come after --start {args.start}")
    market = CcxtMarket(
        args.exchange,
        credentials=exchange_credentials(args.exchange, args.env_file),
        api_url=args.api_url,
    )
    result = market.download(args.symbol, start, end, args.timeframe)
    gaps = [{"start": g.start_ms, "end": g.end_ms, "missing": g.count} for g in result.gaps]
    if args.json:
        payload = {
            "exchange": args.exchange,
            "symbol": args.symbol,
            "timeframe": args.timeframe,
            "candles": len(result.candles),
            "requests": result.requests,
            "gaps": gaps,
        }
        out.write(json.dumps(payload) + "\n")
        return EXIT_OK
    out.write(
        f"{args.exchange} {args.symbol} {args.timeframe}: {len(result.candles):,} candles "
        f"from {_iso(start)} to {_iso(end)} ({result.requests} requests)\n"
    )
    for gap in result.gaps[:20]:
        err.write(f"gap: {gap.count} candles missing from {_iso(gap.start_ms)}\n")
    if len(result.gaps) > 20:
        err.write(f"… and {len(result.gaps) - 20} more gaps\n")
    return EXIT_OK


def _list(args: argparse.Namespace, out: TextIO) -> int:
    from engine.data import candle_cache
    from engine.intervals import interval_ms

    rows, lines = [], []
    for entry in candle_cache.entries():
        ts = entry.candles.timestamp
        step = interval_ms(entry.timeframe)
        gaps = sum(len(candle_cache.find_gaps(ts, lo, hi, step)) for lo, hi in entry.spans)
        first, last = (int(ts[0]), int(ts[-1])) if len(ts) else (None, None)
        rows.append(
            {
                "exchange": entry.exchange,
                "symbol": entry.symbol,
                "timeframe": entry.timeframe,
                "candles": len(ts),
                "first": first,
                "last": last,
                "gaps": gaps,
                "path": str(entry.path),
            }
        )
        span = f"{_iso(first)} .. {_iso(last)}" if first is not None and last else "empty"
        lines.append(
            f"{entry.exchange:<10} {entry.symbol:<12} {entry.timeframe:<4} {len(ts):>10,} "
            f"candles  {span}  {gaps} gaps\n"
        )
    if args.json:
        out.write(json.dumps({"cache": rows}) + "\n")
        return EXIT_OK
    if not rows:
        out.write(
            "no candles cached yet; try: desk data download binance BTC/USDT "
            "--start 2024-01-01 --end 2024-01-02\n"
        )
    out.writelines(lines)
    return EXIT_OK
