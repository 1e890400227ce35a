"""`desk data`: download candles into the local cache, list the datasets, delete an entry."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from engine.data.inventory import DatasetInfo

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130


def add_parser(verbs: Any) -> None:
    """Declare `desk data download`, `desk data list` and `desk data delete`."""
    data = verbs.add_parser("data", help="download, list and delete cached candles")
    actions = data.add_subparsers(dest="data_verb", metavar="ACTION", required=True)
    download = actions.add_parser(
        "download",
        help="download candles through ccxt into the local cache",
        description="Download candles page by page (ccxt rate limits, retries on temporary "
        "errors). Periods already cached are not asked again; missing candles are reported. "
        "Pages are cached as they come: Ctrl+C keeps them, and the same command fetches the "
        "rest. A range the exchange answers with no candles is not cached and asked again.",
    )
    download.add_argument("exchange", help="a ccxt exchange id, e.g. binance")
    download.add_argument("symbol", help="e.g. BTC/USDT or BTCUSDT")
    download.add_argument("--start", required=True, help="first candle, e.g. 2024-03-01 (UTC)")
    download.add_argument("--end", required=True, help="end (exclusive), e.g. 2024-04-01 (UTC)")
    download.add_argument("--timeframe", default="1m", help="candle interval (default: 1m)")
    download.add_argument("--env-file", help="a .env file with <EXCHANGE>_API_KEY / _API_SECRET")
    download.add_argument("--api-url", help="send the exchange's API calls to this base URL")
    download.add_argument(
        "--refresh",
        action="store_true",
        help="download the range again even where it is cached (the new candles replace it)",
    )
    download.add_argument("--json", action="store_true", help="print one JSON object")
    listing = actions.add_parser(
        "list",
        help="list the cached candles and candle files: range, rows, missing minutes",
        description="One row per dataset: every entry of the local ccxt cache, then each "
        "--candles file. Missing minutes are minutes without a candle between the first and "
        "the last; zero-volume minutes are candles that traded nothing.",
    )
    listing.add_argument(
        "--candles",
        action="append",
        default=[],
        metavar="FILE",
        help="also list a candle file (FILE or SYMBOL=FILE; repeatable)",
    )
    listing.add_argument("--json", action="store_true", help="print one JSON object")
    delete = actions.add_parser(
        "delete", help="remove one exchange/symbol/timeframe from the cache"
    )
    delete.add_argument("exchange", help="a ccxt exchange id, e.g. binance")
    delete.add_argument("symbol", help="e.g. BTC/USDT or BTCUSDT")
    delete.add_argument("--timeframe", default="1m", help="candle interval (default: 1m)")


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M")


def minute_text(ms: int | None) -> str:
    """Format epoch milliseconds as a UTC minute, `YYYY-MM-DD HH:MM` (`-` for None)."""
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def parse_date(text: str, option: str) -> int:
    """Return the epoch ms of a UTC date or time (`2024-03-01`, `2024-03-01 06:00`).

    Raises:
        ConfigError: `text` is not a date; the message names `option` and the value.
    """
    from engine.core.errors import ConfigError

    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{option} {text!r} is not a date; use e.g. 2024-03-01") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def data_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run `desk data download`, `desk data list` or `desk data delete`."""
    from engine.core.errors import EngineError
    from engine.core.secrets import mask_secrets

    try:
        if args.data_verb == "download":
            return _download(args, out, err)
        if args.data_verb == "delete":
            return _delete(args, out)
        return _list(args, out)
    except KeyboardInterrupt:
        err.write(
            "interrupted: the pages downloaded so far are kept in the cache; run the same "
            "command again to fetch the rest\n"
        )
        return EXIT_INTERRUPTED
    except (EngineError, OSError) as exc:
        err.write(f"error: {mask_secrets(str(exc))}\n")
        return EXIT_FAILED


def _download(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from engine.core.errors import ConfigError
    from engine.core.secrets import exchange_credentials
    from engine.data.ccxt_exchange import CcxtMarket

    start, end = parse_date(args.start, "--start"), parse_date(args.end, "--end")
    if end <= start:
        raise ConfigError(f"--end {args.end} must come after --start {args.start}")
    market = CcxtMarket(
        args.exchange,
        credentials=exchange_credentials(args.exchange, args.env_file),
        api_url=args.api_url,
    )
    result = market.download(args.symbol, start, end, args.timeframe, refresh=args.refresh)
    gaps = [{"start": g.start_ms, "end": g.end_ms, "missing": g.count} for g in result.gaps]
    unanswered = [{"start": lo, "end": hi} for lo, hi in result.unanswered]
    if args.json:
        payload = {
            "exchange": args.exchange,
            "symbol": args.symbol,
            "timeframe": args.timeframe,
            "candles": len(result.candles),
            "requests": result.requests,
            "gaps": gaps,
            "unanswered": unanswered,
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
    for lo, hi in result.unanswered:
        err.write(
            f"no answer: the exchange returned no candles from {_iso(lo)} to {_iso(hi)}; "
            "not cached, asked again next time\n"
        )
    return EXIT_OK


def dataset_row(info: DatasetInfo) -> dict[str, Any]:
    """Return the listed facts of a dataset (what `desk data list --json` prints per dataset)."""
    return {
        "kind": info.kind,
        "exchange": info.exchange,
        "symbol": info.symbol,
        "timeframe": info.timeframe,
        "first": minute_text(info.first_ms),
        "last": minute_text(info.last_ms),
        "first_ms": info.first_ms,
        "last_ms": info.last_ms,
        "rows": info.rows,
        "missing_minutes": info.missing_minutes,
        "zero_volume_minutes": info.zero_volume_minutes,
        "path": str(info.path),
    }


_TABLE = (
    ("kind", "kind", "<"),
    ("exchange", "exchange", "<"),
    ("symbol", "symbol", "<"),
    ("timeframe", "tf", "<"),
    ("first", "first (UTC)", "<"),
    ("last", "last (UTC)", "<"),
    ("rows", "rows", ">"),
    ("missing_minutes", "missing min", ">"),
    ("zero_volume_minutes", "zero-vol min", ">"),
)


def _table(rows: list[dict[str, Any]]) -> list[str]:
    """Lay the rows out in aligned columns under a header."""
    header = [title for _, title, _ in _TABLE]
    body = [
        [f"{row[key]:,}" if isinstance(row[key], int) else str(row[key]) for key, _, _ in _TABLE]
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(_TABLE))]
    aligns = [align for _, _, align in _TABLE]
    return [
        "  ".join(
            f"{cell:{align}{width}}"
            for cell, width, align in zip(line, widths, aligns, strict=True)
        ).rstrip()
        + "\n"
        for line in [header, *body]
    ]


def _list(args: argparse.Namespace, out: TextIO) -> int:
    from engine.data import inventory
    from engine.data.cache import cache_dir
    from engine.data.sources import parse_candle_arg

    files = [inventory.file_dataset(*parse_candle_arg(text)) for text in args.candles]
    rows = [dataset_row(info) for info in [*inventory.cached_datasets(), *files]]
    if args.json:
        out.write(json.dumps({"cache": str(cache_dir() / "ccxt"), "datasets": rows}) + "\n")
        return EXIT_OK
    if not rows:
        out.write(
            f"no candles cached yet in {cache_dir() / 'ccxt'}; try: desk data download binance "
            "BTC/USDT --start 2024-01-01 --end 2024-01-02\n"
        )
        return EXIT_OK
    out.writelines(_table(rows))
    return EXIT_OK


def _delete(args: argparse.Namespace, out: TextIO) -> int:
    from engine.data import candle_cache
    from engine.data.inventory import cache_dataset

    info = cache_dataset(candle_cache.delete(args.exchange, args.symbol, args.timeframe))
    out.write(
        f"removed {info.exchange} {info.symbol} {info.timeframe}: {info.rows:,} candles from "
        f"{minute_text(info.first_ms)} to {minute_text(info.last_ms)} UTC ({info.path})\n"
    )
    return EXIT_OK
