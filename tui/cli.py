"""The `desk` command: the desk with no verb, headless verbs for scripts and terminals.

Headless verbs load the engine only (never Textual), so they start fast.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
MAX_SHOWN_ERRORS = 5


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="desk",
        description="backtest-desk: a keyboard-driven trading desk. With no command it opens "
        "the desk on the embedded demo market.",
    )
    parser.add_argument("--module", help="a Python file of yours that calls add_* to register")
    verbs = parser.add_subparsers(dest="verb", metavar="COMMAND")
    bt = verbs.add_parser(
        "backtest",
        help="run a backtest and print its statistics and report",
        description="Run a backtest headless. Without --candles it uses the demo market.",
    )
    bt.add_argument("--module", dest="bt_module", help="a Python file that calls add_*")
    bt.add_argument("--strategy", default="bracket", help="strategy name (default: bracket)")
    bt.add_argument("--symbol", default="BTCUSDT", help="symbol (default: BTCUSDT)")
    bt.add_argument("--candles", help="a candle file: Binance klines (.csv/.zip) or 6-column CSV")
    bt.add_argument("--exchange", help="exchange name (default: demo, or csv with --candles)")
    bt.add_argument("--frame", help="a registered frame (default: demo-30d on the demo market)")
    bt.add_argument("--start", help="first frame time, e.g. 2024-03-01 or 2024-03-01T12:00")
    bt.add_argument("--end", help="last frame time (inclusive)")
    bt.add_argument("--days", type=int, help="the last N days of the data")
    bt.add_argument(
        "--profile",
        default="default",
        choices=["default", "backtest-kit-1.4.10"],
        help="execution profile (default: default, which has no look-ahead)",
    )
    bt.add_argument("--json", action="store_true", help="print one JSON object for machines")
    bt.add_argument("--plot", action="store_true", help="draw the equity curve in the terminal")
    bt.add_argument("--no-report", action="store_true", help="print the summary only")
    bt.add_argument("--dump", metavar="DIR", help="also write the report to DIR/<strategy>.md")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `desk` command; return its exit status."""
    args = _parser().parse_args(argv)
    if args.verb == "backtest":
        return backtest_command(args, sys.stdout, sys.stderr)
    from tui.app import run_desk

    run_desk(module=args.module)
    return EXIT_OK


def _parse_time(text: str, option: str) -> datetime:
    from engine.errors import ConfigError

    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{option} {text!r} is not a date; use e.g. 2024-03-01 or 2024-03-01T12:00 (UTC)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _prepare(args: argparse.Namespace) -> tuple[str, str, list[str]]:
    """Register what the run needs; return (exchange, frame, warnings)."""
    import engine
    from engine.data.csv_import import csv_store
    from engine.errors import ConfigError
    from engine.loader import load_module
    from engine.strategies import register_builtin_strategies

    register_builtin_strategies()
    if args.bt_module:
        load_module(args.bt_module)
    warnings: list[str] = []
    exchange = args.exchange or ("csv" if args.candles else "demo")
    if args.candles:
        store, warnings_found = csv_store(args.candles, args.symbol)
        warnings.extend(warnings_found)
        engine.add_exchange(
            exchange_name=exchange,
            get_candles=store.get_candles,
            format_price=lambda symbol, price: f"{price:.2f}",
            format_quantity=lambda symbol, quantity: f"{quantity:.8f}",
            note=f"candles from {args.candles}",
        )
    custom_range = args.start or args.end or args.days
    if args.frame and custom_range:
        raise ConfigError("give either --frame or --start/--end/--days, not both")
    if args.frame:
        return exchange, args.frame, warnings
    if not custom_range and exchange == "demo":
        return exchange, "demo-30d", warnings
    first, last = _data_range(exchange, args.symbol)
    start = _parse_time(args.start, "--start") if args.start else first
    end = _parse_time(args.end, "--end") if args.end else last
    if args.days:
        start = max(first, end - timedelta(days=args.days) + timedelta(minutes=1))
    engine.add_frame(frame_name="cli", interval="1m", start_date=start, end_date=end)
    return exchange, "cli", warnings


def _data_range(exchange: str, symbol: str) -> tuple[datetime, datetime]:
    import engine
    from engine.errors import ConfigError

    store = engine.exchange_store(exchange)
    if store is None:
        raise ConfigError(f"exchange {exchange} is user code: give --frame, or --start and --end")
    ts = store.arrays(symbol).timestamp
    return (
        datetime.fromtimestamp(int(ts[0]) / 1000, tz=UTC),
        datetime.fromtimestamp(int(ts[-1]) / 1000, tz=UTC),
    )


class _Progress:
    """A one-line progress bar on stderr (only on a terminal)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.width = 30

    def update(self, event: Any) -> None:
        if not self.enabled:
            return
        filled = int(event.progress * self.width)
        bar = "█" * filled + "·" * (self.width - filled)
        self.stream.write(
            f"\r{bar} {event.progress * 100:5.1f}%  {event.processed_frames:,}/"
            f"{event.total_frames:,} frames"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * (self.width + 40) + "\r")
            self.stream.flush()


def _number(value: float | None, digits: int = 2, suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}{suffix}"


def _summary(stats: Any, strategy: str, symbol: str, profile: str, frame: str) -> str:
    rows = [
        ("Closed signals", str(stats.total_signals)),
        ("Win rate", _number(stats.win_rate, 2, " %")),
        ("Total PnL", _number(stats.total_pnl, 2, " %")),
        ("Average PnL", _number(stats.avg_pnl, 3, " %")),
        ("Sharpe (per trade)", _number(stats.sharpe_ratio, 3)),
        ("Sortino", _number(stats.sortino_ratio, 3)),
        ("Profit factor", _number(stats.profit_factor, 3)),
        ("Max drawdown", _number(stats.max_drawdown, 2, " %")),
        ("Ambiguous closes", str(stats.ambiguous_closes)),
    ]
    width = max(len(label) for label, _ in rows)
    head = f"{strategy} on {symbol} · frame {frame} · profile {profile}"
    return "\n".join([head, *(f"  {label:<{width}}  {value:>12}" for label, value in rows)])


def _plot(stats: Any, color: bool) -> str:
    import plotext as plt

    closes = [r.close_timestamp / 1000 for r in stats.signal_list]
    equity, total = [], 0.0
    for r in stats.signal_list:
        total += r.pnl.pnl_percentage
        equity.append(total)
    plt.clear_figure()
    plt.theme("clear")
    plt.plotsize(80, 20)
    plt.date_form("Y-m-d")
    plt.plot([plt.datetime_to_string(datetime.fromtimestamp(t, tz=UTC)) for t in closes], equity)
    plt.title("Equity curve (cumulative PnL, %)")
    chart = str(plt.build())
    return chart if color else re.sub(r"\x1b\[[0-9;]*m", "", chart)


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {k: _json_value(v) for k, v in value._asdict().items()}
    return value


def backtest_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run `desk backtest`; print a summary and the report, or JSON."""
    import engine
    from engine.errors import EngineError

    errors: list[BaseException] = []
    progress = _Progress(err) if not args.json else None
    unsubscribe = [engine.listen_error(errors.append)]
    if progress is not None:
        unsubscribe.append(engine.listen_backtest_progress(progress.update))
    cancel = threading.Event()
    closed = 0
    try:
        exchange, frame, warnings = _prepare(args)
        if not args.json:
            for warning in warnings:
                err.write(f"warning: {warning}\n")
        results = engine.Backtest.run(
            args.symbol,
            strategy_name=args.strategy,
            exchange_name=exchange,
            frame_name=frame,
            profile=args.profile,
            cancel=cancel,
        )
        for result in results:
            closed += result.action == "closed"
    except KeyboardInterrupt:
        cancel.set()
        if progress is not None:
            progress.close()
        err.write(f"stopped by Ctrl+C after {closed} closed signals\n")
        return EXIT_INTERRUPTED
    except (EngineError, OSError) as exc:
        if progress is not None:
            progress.close()
        err.write(f"error: {exc}\n")
        return EXIT_FAILED
    finally:
        for off in unsubscribe:
            off()
    if progress is not None:
        progress.close()
    stats = engine.Backtest.get_data(args.symbol, args.strategy)
    if args.dump:
        engine.Backtest.dump(args.symbol, args.strategy, Path(args.dump))
    if args.json:
        payload = {
            "strategy": args.strategy,
            "symbol": args.symbol,
            "exchange": exchange,
            "frame": frame,
            "profile": args.profile,
            "statistics": {
                k: _json_value(getattr(stats, k)) for k in stats.__slots__ if k != "signal_list"
            },
            "signals": [_json_value(r) for r in stats.signal_list],
            "warnings": warnings,
            "errors": {"count": len(errors), "first": [str(e) for e in errors[:20]]},
        }
        out.write(json.dumps(payload) + "\n")
        return EXIT_OK
    for problem in errors[:MAX_SHOWN_ERRORS]:
        err.write(f"strategy error: {problem}\n")
    if len(errors) > MAX_SHOWN_ERRORS:
        err.write(f"… and {len(errors) - MAX_SHOWN_ERRORS} more strategy errors\n")
    out.write(_summary(stats, args.strategy, args.symbol, args.profile, frame) + "\n")
    if args.plot and stats.signal_list:
        out.write(_plot(stats, color=out.isatty()) + "\n")
    if not args.no_report:
        out.write("\n" + engine.Backtest.get_report(args.symbol, args.strategy))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
