"""The `desk` command: the desk with no verb, headless verbs for scripts and terminals.

Headless verbs load the engine only (never Textual), so they start fast.
"""

from __future__ import annotations

import argparse
import gc
import math
import re
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_ERRORS, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
"""Exit statuses: `EXIT_ERRORS` is a run that completed while the engine reported errors."""
MAX_SHOWN_ERRORS = 5
ERRORS_IN_JSON = 20
"""How many engine errors `--json` lists (`errors.messages`); `errors.count` counts them all."""


def _exit_statuses(what: str) -> str:
    """Return the `--help` epilog that lists the exit statuses of a verb that runs `what`."""
    return (
        "exit status:\n"
        f"  0    {what} completed and the engine reported no error\n"
        f"  1    {what} could not run (unknown name, bad value, unreadable data)\n"
        "  2    usage error (unknown option, missing argument)\n"
        f"  3    {what} completed, but the engine reported errors (a strategy raised,\n"
        "       a candle fetch failed): see errors in the summary or errors.count in --json\n"
        "  130  stopped by Ctrl+C\n"
    )


class _HelpFormatter(argparse.HelpFormatter):
    """Wraps descriptions as usual and prints the exit status epilog line by line."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("exit status:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="desk",
        description="backtest-desk: a keyboard-driven trading desk. With no command it opens "
        "the desk on the embedded demo market.",
    )
    parser.add_argument(
        "--module", help="a Python file of yours that calls add_* (beside the built-in strategies)"
    )
    add_candles_option(parser)
    verbs = parser.add_subparsers(dest="verb", metavar="COMMAND")
    bt = verbs.add_parser(
        "backtest",
        help="run a backtest and print its statistics and report",
        description="Run a backtest headless. Without --candles it uses the demo market.",
        epilog=_exit_statuses("the backtest"),
        formatter_class=_HelpFormatter,
    )
    bt.add_argument("--module", dest="bt_module", help="a Python file that calls add_*")
    bt.add_argument("--strategy", default="bracket", help="strategy name (default: bracket)")
    bt.add_argument(
        "--symbol", help="symbol (default: BTCUSDT, or the symbol of the --candles file)"
    )
    add_candles_option(bt)
    bt.add_argument(
        "--exchange",
        help="exchange name: demo (default), csv for --candles files, or a ccxt id such as "
        "binance to read its local cache offline (desk data download fills it)",
    )
    bt.add_argument(
        "--frame",
        help="a registered frame (default: demo-30d on the demo market, else the data's range)",
    )
    bt.add_argument("--start", help="first frame time, e.g. 2024-03-01 or 2024-03-01T12:00")
    bt.add_argument("--end", help="last frame time (inclusive)")
    bt.add_argument("--days", type=int, help="the last N days of the data")
    add_profile_option(bt)
    bt.add_argument(
        "--balance",
        type=_balance,
        default=10_000.0,
        help="starting balance of the account, in the quote currency (default: 10000); each "
        "position takes the whole equity unless the strategy names a sizing",
    )
    bt.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object for machines, with every signal and every trade",
    )
    bt.add_argument(
        "--summary",
        action="store_true",
        help="with --json, print the statistics and the account's figures only (no list of "
        "signals or trades); without --json, the same as --no-report",
    )
    bt.add_argument("--plot", action="store_true", help="draw the equity curve in the terminal")
    bt.add_argument("--no-report", action="store_true", help="print the summary only")
    bt.add_argument("--dump", metavar="DIR", help="also write the report to DIR/<strategy>.md")
    opt = verbs.add_parser(
        "optimize",
        help="generate LLM strategies with an optimizer and the module that backtests them",
        description="Run a registered optimizer headless: fetch its sources, ask get_prompt for "
        "each strategy and print the generated Python module (or write it with --dump).",
    )
    opt.add_argument("name", help="the optimizer's name (registered by --module)")
    opt.add_argument("symbol", help="the symbol to generate strategies for, e.g. BTCUSDT")
    opt.add_argument("--module", dest="opt_module", help="a Python file that calls add_optimizer")
    opt.add_argument("--dump", metavar="DIR", help="write DIR/<name>_<symbol>.py (checked first)")
    opt.add_argument("--prefix", help="prefix of the generated names (default: random)")
    opt.add_argument(
        "--exchange",
        help="a registered exchange for the generated walker, e.g. demo (default: ccxt Binance)",
    )
    opt.add_argument("--json", action="store_true", help="print one JSON object for machines")
    from tui import data_command, live_command

    live_command.add_parser(verbs)
    data_command.add_parser(verbs)
    _walker_parser(verbs)
    return parser


def _balance(text: str) -> float:
    """Parse `--balance`: a positive amount."""
    from engine.analytics.account import check_balance
    from engine.core.errors import ConfigError

    try:
        return check_balance(float(text))
    except (ValueError, ConfigError):
        raise argparse.ArgumentTypeError(
            f"balance {text!r} must be a positive amount, e.g. --balance 10000"
        ) from None


def add_candles_option(parser: argparse.ArgumentParser) -> None:
    """Declare `--candles FILE` (repeatable; `SYMBOL=FILE` names the symbol)."""
    parser.add_argument(
        "--candles",
        action="append",
        metavar="[SYMBOL=]FILE",
        help="a candle file: Binance klines (.csv/.csv.gz/.zip) or timestamp,open,high,low,"
        "close,volume; repeat it for more symbols (the symbol comes from the file name, e.g. "
        "BTCUSDT-1m-2024-01.zip, or write BTCUSDT=btc.csv)",
    )


def add_profile_option(parser: argparse.ArgumentParser) -> None:
    """Declare `--profile`, one of the engine's execution profiles."""
    from engine.core.config import DEFAULT_PROFILE, PROFILES  # every verb loads the engine anyway

    parser.add_argument(
        "--profile",
        default=DEFAULT_PROFILE,
        choices=PROFILES,
        help="execution profile (default: default, which has no look-ahead)",
    )


def _walker_parser(verbs: Any) -> None:
    """Declare `desk walker` and its options."""
    walk = verbs.add_parser(
        "walker",
        help="backtest several strategies on several symbols and rank them",
        description="Compare strategies headless: backtest each strategy on each symbol (in "
        "parallel on every core unless --serial) and print a ranking per symbol.",
        epilog=_exit_statuses("the backtests"),
        formatter_class=_HelpFormatter,
    )
    walk.add_argument(
        "--module", dest="walker_module", metavar="FILE", help="a Python file that calls add_*"
    )
    walk.add_argument(
        "--walker", help="a walker registered by --module (instead of the options below)"
    )
    walk.add_argument(
        "--strategies", help="comma-separated strategies (default: bracket,limit,sma_rsi)"
    )
    walk.add_argument(
        "--symbols", help="comma-separated (default: BTCUSDT, or every --candles file's symbol)"
    )
    add_candles_option(walk)
    walk.add_argument(
        "--exchange",
        help="exchange name: demo (default), csv for --candles files, or a cached ccxt id",
    )
    walk.add_argument(
        "--frame", help="a registered frame (default: demo-30d on demo, else the data's range)"
    )
    walk.add_argument("--start", help="first frame time, e.g. 2024-03-01 (instead of --frame)")
    walk.add_argument("--end", help="last frame time (inclusive)")
    walk.add_argument("--days", type=int, help="the last N days of the data")
    walk.add_argument("--metric", help="the metric to maximise (default: sharpe_ratio)")
    add_profile_option(walk)
    walk.add_argument("--serial", action="store_true", help="run in this process, one by one")
    walk.add_argument("--json", action="store_true", help="print one JSON object for machines")
    walk.add_argument(
        "--dump", metavar="DIR", help="also write the reports to DIR/<symbol>/<walker>.md"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `desk` command; return its exit status.

    Run as the process's command (no `argv`), it freezes the heap when the command is done
    (`gc.freeze`): the interpreter then exits without traversing and freeing every object the
    command made, which takes ~50 ms after a year of trades. Called with `argv` (tests, other
    programs), it leaves the caller's heap alone.
    """
    status = _command(_parser().parse_args(argv))
    if argv is None:
        gc.freeze()
    return status


def _command(args: argparse.Namespace) -> int:
    """Run the verb of `args`, or the desk without one; return the exit status."""
    if args.verb == "backtest":
        return backtest_command(args, sys.stdout, sys.stderr)
    if args.verb == "optimize":
        return optimize_command(args, sys.stdout, sys.stderr)
    if args.verb == "walker":
        return walker_command(args, sys.stdout, sys.stderr)
    if args.verb == "live":
        from tui.live_command import live_command

        return live_command(args, sys.stdout, sys.stderr)
    if args.verb == "data":
        from tui.data_command import data_command

        return data_command(args, sys.stdout, sys.stderr)
    from engine.core.errors import EngineError
    from tui.app import run_desk

    warnings: list[str] = []
    if args.candles:
        try:  # the files join the desk as the exchange `csv`, next to the demo market
            warnings = register_data(None, args.candles, None)[2]
        except (EngineError, OSError) as exc:
            sys.stderr.write(f"error: {exc}\n")
            return EXIT_FAILED
    run_desk(module=args.module, notices=warnings)
    return EXIT_OK


def _parse_time(text: str, option: str) -> datetime:
    from engine.core.errors import ConfigError

    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{option} {text!r} is not a date; use e.g. 2024-03-01 or 2024-03-01T12:00 (UTC)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _prepare(args: argparse.Namespace) -> tuple[str, str, list[str]]:
    """Register what the run needs; return (exchange, frame, warnings)."""
    from engine.core.loader import load_module
    from engine.strategies import register_builtin_strategies

    register_builtin_strategies()
    if args.bt_module:
        load_module(args.bt_module)
    exchange, available, warnings = register_data(args.exchange, args.candles, args.symbol)
    args.symbol = canonical_symbol(exchange, args.symbol or available[0])
    frame, fitted = fit_frame(args, exchange, [args.symbol])
    return exchange, frame, warnings + fitted


def register_data(
    exchange: str | None, candles: Sequence[str] | None, symbol: str | None
) -> tuple[str, list[str], list[str]]:
    """Register the candles a headless run reads; return (exchange, its symbols, warnings).

    `--candles` files become the exchange `csv` (or `--exchange`); a ccxt exchange id with
    candles in the local cache is served from the cache, offline. A single file with
    `--symbol` serves that symbol; otherwise each file's symbol comes from its name. The
    symbols come first file first (the default symbol of a run).

    Raises:
        ConfigError: unknown exchange or symbol (with the command that downloads it).
        DataError: a candle file is missing or malformed.
    """
    import engine
    from engine.core.registration import exchanges
    from engine.data import sources
    from engine.data.csv_import import load_candles

    warnings: list[str] = []
    if candles:
        if len(candles) == 1 and symbol and "=" not in candles[0]:
            files = [(symbol, candles[0])]
        else:
            files = [sources.parse_candle_arg(text) for text in candles]
        loaded = {}
        for name, path in files:
            found = load_candles(path)
            loaded[name] = found.candles
            warnings.extend(found.warnings)
        exchange = exchange or "csv"
        sources.register_source(sources.FileSource(exchange, tuple(files)), loaded)
        return exchange, [name for name, _ in files], warnings
    exchange = exchange or "demo"
    if exchange != "demo":
        sources.register_cache(exchange)
    if not exchanges.has(exchange):
        wanted = symbol or "BTC/USDT"
        raise engine.ConfigError(
            f"exchange {exchange} is not registered and the local cache has no candles of it; "
            f"{sources.download_hint(exchange, wanted)}, or register it in --module"
        )
    store = engine.exchange_store(exchange)
    return exchange, (store.symbols() if store is not None else None) or ["BTCUSDT"], warnings


def canonical_symbol(exchange: str, symbol: str) -> str:
    """Return the exchange's spelling of `symbol` (`BTCUSDT` finds a cached `BTC/USDT`).

    Raises:
        ConfigError: the exchange has no such symbol; for the ccxt cache the message names
            the command that downloads it.
    """
    import engine
    from engine.data import sources

    store = engine.exchange_store(exchange)
    if store is None or symbol in store.symbols():
        return symbol
    plain = {s.replace("/", "").upper(): s for s in store.symbols()}
    found = plain.get(symbol.replace("/", "").upper())
    if found is not None:
        return found
    cached = any(
        isinstance(s, sources.CacheSource) and s.exchange_name == exchange
        for s in sources.registered_sources()
    )
    tail = f"; {sources.download_hint(exchange, symbol)}" if cached else ""
    raise engine.ConfigError(
        f"exchange {exchange} has no symbol {symbol!r}; it has "
        f"{', '.join(store.symbols()) or 'no symbols'}{tail}"
    )


def fit_frame(
    args: argparse.Namespace, exchange: str, symbols: Sequence[str]
) -> tuple[str, list[str]]:
    """Return the frame of a run over `symbols` and warnings, fitted to their data.

    A registered frame or `--start/--end/--days` range outside the data is refused; one that
    overlaps it in part is trimmed (a `cli` frame) with a warning. With no frame given, the
    demo market runs its last 30 days and other data its whole range.

    Raises:
        ConfigError: both a frame and a range, a bad date, or a range outside the data.
    """
    import engine
    from engine.core.registration import frames
    from engine.data.coverage import data_span, fit_range, frame_span
    from engine.data.store import to_ms

    custom_range = args.start or args.end or args.days
    if args.frame and custom_range:
        raise engine.ConfigError("give either --frame or --start/--end/--days, not both")
    if not args.frame and not custom_range and exchange == "demo":
        args.frame = "demo-30d"
    spans = [s for s in (data_span(exchange, symbol) for symbol in symbols) if s is not None]
    if args.frame:
        window = frame_span(args.frame)
        if window is None:
            return args.frame, []  # the engine names the unknown frame
        start, end = window
    elif not spans:
        raise engine.ConfigError(
            f"exchange {exchange} is user code and cannot say what it holds: "
            "give --frame, or --start and --end"
        )
    else:
        first = max(s.first_ms for s in spans)
        last = min(s.last_ms for s in spans)
        end = to_ms(_parse_time(args.end, "--end")) if args.end else last
        start = to_ms(_parse_time(args.start, "--start")) if args.start else first
        if args.days:
            start = end - args.days * 86_400_000 + 60_000
    if end < start:
        raise engine.ConfigError("the range ends before it starts; check --start and --end")
    warnings: list[str] = []
    for symbol in symbols:
        fitted = fit_range(exchange, symbol, start, end)
        start, end = fitted.start_ms, fitted.end_ms
        warnings.extend(fitted.warnings)
    if args.frame and not warnings:
        return args.frame, []
    frames.remove("cli")
    engine.add_frame(
        frame_name="cli",
        interval="1m",
        start_date=datetime.fromtimestamp(start / 1000, tz=UTC),
        end_date=datetime.fromtimestamp(end / 1000, tz=UTC),
        note="the range given on the command line, inside the data",
    )
    return "cli", warnings


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


def _errors_json(errors: Sequence[BaseException]) -> dict[str, Any]:
    """The `errors` object of `--json`: how many, the first one, the first few."""
    return {
        "count": len(errors),
        "first": str(errors[0]) if errors else None,
        "messages": [str(e) for e in errors[:ERRORS_IN_JSON]],
    }


def _write_errors(errors: Sequence[BaseException], err: TextIO) -> None:
    """Print the first engine errors on stderr, and how many more there were."""
    for problem in errors[:MAX_SHOWN_ERRORS]:
        err.write(f"strategy error: {problem}\n")
    if len(errors) > MAX_SHOWN_ERRORS:
        err.write(f"… and {len(errors) - MAX_SHOWN_ERRORS} more strategy errors\n")


def _errors_text(errors: Sequence[BaseException]) -> str:
    """`none`, or how many engine errors there were and the first one."""
    return f"{len(errors)} · first: {errors[0]}" if errors else "none"


def _summary(
    stats: Any,
    account: Any,
    strategy: str,
    symbol: str,
    profile: str,
    frame: str,
    errors: Sequence[BaseException] = (),
) -> str:
    from tui.formatting import SUM_OF_TRADES, format_duration, format_money, format_percent

    def trade(money: float | None, percent: float | None) -> str:
        return f"{format_money(money, signed=True)} ({format_percent(percent)})"

    money = [
        ("Final equity", format_money(account.final_equity)),
        ("Return", format_percent(account.return_percent)),
        ("CAGR", format_percent(account.cagr_percent)),
        ("Max drawdown (of peak)", format_percent(account.max_drawdown_percent, signed=False)),
        ("Drawdown duration", format_duration(account.max_drawdown_duration_ms)),
        ("Exposure", format_percent(account.exposure_percent, signed=False)),
        ("Fees paid", format_money(account.fees_paid)),
        ("Expectancy/trade", format_money(account.expectancy, signed=True)),
        ("Best trade", trade(account.best_trade_money, account.best_trade_percent)),
        ("Worst trade", trade(account.worst_trade_money, account.worst_trade_percent)),
        ("Longest losing streak", str(account.longest_losing_streak)),
    ]
    kit = [
        ("Closed signals", str(stats.total_signals)),
        ("Win rate", _number(stats.win_rate, 2, " %")),
        (f"Total PnL {SUM_OF_TRADES}", _number(stats.total_pnl, 2, " %")),
        ("Average PnL", _number(stats.avg_pnl, 3, " %")),
        ("Sharpe (per trade)", _number(stats.sharpe_ratio, 3)),
        ("Sortino", _number(stats.sortino_ratio, 3)),
        ("Profit factor", _number(stats.profit_factor, 3)),
        (f"Max drawdown {SUM_OF_TRADES}", _number(stats.max_drawdown, 2, " %")),
        (f"Yearly return {SUM_OF_TRADES}", _number(stats.expected_yearly_returns, 2, " %")),
        ("Ambiguous closes", str(stats.ambiguous_closes)),
        ("Engine errors", str(len(errors))),
    ]
    rows = money + kit
    width = max(len(label) for label, _ in rows)
    values = max(12, *(len(value) for _, value in rows))

    def table(part: list[tuple[str, str]]) -> list[str]:
        return [f"  {label:<{width}}  {value:>{values}}" for label, value in part]

    head = f"{strategy} on {symbol} · frame {frame} · profile {profile}"
    lines = [
        head,
        f"Account: {format_money(account.balance)} start, fees and slippage included",
        *table(money),
        "backtest-kit figures (percent per trade; sums do not compound)",
        *table(kit),
    ]
    if errors:
        lines.append(f"  First error: {errors[0]}")
    return "\n".join(lines)


def _plot(account: Any, color: bool) -> str:
    import plotext as plt

    times = [when / 1000 for when, _ in account.equity_curve]
    equity = [value for _, value in account.equity_curve]
    plt.clear_figure()
    plt.theme("clear")
    plt.plotsize(80, 20)
    plt.date_form("Y-m-d H:M")
    plt.plot([plt.datetime_to_string(datetime.fromtimestamp(t, tz=UTC)) for t in times], equity)
    plt.title(f"Equity from {account.balance:,.0f} (quote currency)")
    chart = str(plt.build())
    return chart if color else re.sub(r"\x1b\[[0-9;]*m", "", chart)


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {k: _json_value(v) for k, v in value._asdict().items()}
    return value


def _write_json(out: TextIO, payload: dict[str, Any]) -> None:
    """Write `payload` as one line of JSON.

    orjson (20x the speed of `json` on 10,000 trades) writes named tuples as objects, through
    `_named_tuple`, and NaN and infinities as null, as `_json_value` does. Its UTF-8 bytes go
    straight to `out`'s binary buffer when it has one (stdout does), not decoded to be
    encoded again.
    """
    import orjson

    data = orjson.dumps(payload, default=_named_tuple, option=orjson.OPT_SERIALIZE_NUMPY)
    buffer = getattr(out, "buffer", None)
    if buffer is None:
        out.write(data.decode() + "\n")
        return
    out.flush()  # what was written as text first
    buffer.write(data)
    buffer.write(b"\n")


def _named_tuple(value: Any) -> dict[str, Any]:
    """Return a named tuple as a dict of its fields, for orjson (which calls it on them)."""
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        fields: dict[str, Any] = value._asdict()
        return fields
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _account_json(account: Any, trades: bool = True) -> dict[str, Any]:
    """The `account` object of `--json`: the figures in money, then every trade's money.

    With `trades` False, the figures only.
    """
    figures = {k: _json_value(v) for k, v in account.figures().items()}
    if not trades:
        return {**figures, "start_ms": account.start_ms, "end_ms": account.end_ms}
    rows = [
        {
            "signal_id": t.signal_id,
            "close_timestamp": t.result.close_timestamp,
            "position_size": t.position_size,
            "fee": t.fee,
            "pnl_money": t.pnl_money,
            "equity_after": t.equity_after,
        }
        for t in account.trades
    ]
    return {**figures, "start_ms": account.start_ms, "end_ms": account.end_ms, "trades": rows}


def backtest_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run `desk backtest`; print a summary and the report, or JSON.

    Returns `EXIT_ERRORS` when the run completed but the engine reported errors.
    """
    import engine
    from engine.core.errors import EngineError

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
    try:
        account = engine.Backtest.get_account(args.symbol, args.strategy, balance=args.balance)
    except EngineError as exc:  # the strategy's sizing cannot size an account
        err.write(f"error: {exc}\n")
        return EXIT_FAILED
    if args.dump:
        engine.Backtest.dump(args.symbol, args.strategy, Path(args.dump))
    if args.json:
        payload = {
            "strategy": args.strategy,
            "symbol": args.symbol,
            "exchange": exchange,
            "frame": frame,
            "profile": args.profile,
            "statistics": {k: getattr(stats, k) for k in stats.__slots__ if k != "signal_list"},
            "account": _account_json(account, trades=not args.summary),
        }
        if not args.summary:
            payload["signals"] = stats.signal_list  # orjson writes each one as an object
        payload |= {"warnings": warnings, "errors": _errors_json(errors)}
        _write_json(out, payload)
        return EXIT_ERRORS if errors else EXIT_OK
    _write_errors(errors, err)
    out.write(
        _summary(stats, account, args.strategy, args.symbol, args.profile, frame, errors) + "\n"
    )
    if args.plot and stats.signal_list:
        out.write(_plot(account, color=out.isatty()) + "\n")
    if not (args.no_report or args.summary):
        out.write("\n" + engine.Backtest.get_report(args.symbol, args.strategy))
    return EXIT_ERRORS if errors else EXIT_OK


def optimize_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run `desk optimize`; print the generated module, or a summary with --dump, or JSON."""
    import engine
    from engine.core.errors import EngineError
    from engine.core.loader import load_module

    def progress(event: Any) -> None:
        err.write(f"\r{event.processed_sources}/{event.total_sources} sources")
        err.flush()

    show = not args.json and err.isatty()
    unsubscribe = engine.listen_optimizer_progress(progress) if show else None
    options = {"optimizer_name": args.name, "prefix": args.prefix, "exchange_name": args.exchange}
    try:
        if args.opt_module:
            load_module(args.opt_module)
        strategies = engine.Optimizer.get_data(args.symbol, optimizer_name=args.name)
        file = (
            engine.Optimizer.dump(args.symbol, path=args.dump, strategies=strategies, **options)
            if args.dump
            else None
        )
        code = (
            file.read_text(encoding="utf-8")
            if file is not None
            else engine.Optimizer.get_code(args.symbol, strategies=strategies, **options)
        )
    except KeyboardInterrupt:
        err.write("\nstopped by Ctrl+C\n")
        return EXIT_INTERRUPTED
    except (EngineError, OSError) as exc:
        err.write(("\n" if show else "") + f"error: {exc}\n")
        return EXIT_FAILED
    finally:
        if unsubscribe is not None:
            unsubscribe()
    if show:
        err.write("\n")
    if args.json:
        payload = {
            "optimizer": args.name,
            "symbol": args.symbol,
            "strategies": [
                {
                    "name": s.name,
                    "strategy": s.strategy,
                    "messages": [m.as_dict() for m in s.messages],
                }
                for s in strategies
            ],
            "file": None if file is None else str(file),
            "code": code,
        }
        _write_json(out, payload)
    elif file is None:
        out.write(code)
    else:
        out.write(f"wrote {file}\n")
        for i, s in enumerate(strategies, 1):
            first = s.strategy.strip().splitlines()[0] if s.strategy.strip() else ""
            out.write(f"  {i}. {s.name}: {first[:90]}\n")
    return EXIT_OK


CLI_WALKER = "desk"


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _walker_setup(args: argparse.Namespace) -> tuple[str, list[str], list[str]]:
    """Register what `desk walker` needs; return (walker name, symbols, warnings)."""
    import engine
    from engine.core.errors import ConfigError
    from engine.core.loader import load_module
    from engine.sim.walker import walkers
    from engine.strategies import register_builtin_strategies

    register_builtin_strategies()
    if args.walker_module:
        load_module(args.walker_module)
    if args.walker:
        options = ("strategies", "exchange", "frame", "metric", "candles", "start", "end", "days")
        given = [f"--{k}" for k in options if getattr(args, k)]
        if given:
            raise ConfigError(f"--walker takes its settings from the walker; drop {given[0]}")
        return str(args.walker), _csv(args.symbols or "BTCUSDT"), []
    exchange, available, warnings = register_data(args.exchange, args.candles, None)
    default = available if args.candles else available[:1]
    wanted = _csv(args.symbols) if args.symbols else default
    symbols = [canonical_symbol(exchange, symbol) for symbol in wanted]
    frame, fitted = fit_frame(args, exchange, symbols)
    walkers.remove(CLI_WALKER)
    engine.add_walker(
        walker_name=CLI_WALKER,
        exchange_name=exchange,
        frame_name=frame,
        strategies=_csv(args.strategies or "bracket,limit,sma_rsi"),
        metric=args.metric,
    )
    return CLI_WALKER, symbols, warnings + fitted


def _ranking_text(results: Any, profile: str) -> str:
    metric = results.metric
    width = max(len("strategy"), *(len(r.strategy_name) for r in results.ranking))
    mwidth = max(len(metric), 8)
    lines = [
        f"{results.walker_name} on {results.symbol} · frame {results.frame_name} · "
        f"metric {metric} · profile {profile}",
        f"  {'rank':>4}  {'strategy':<{width}}  {metric:>{mwidth}}  {'trades':>6}  "
        f"{'win rate':>9}  {'total PnL':>10}  {'Sharpe':>7}",
    ]
    for r in results.ranking:
        stats = r.stats
        lines.append(
            f"  {r.rank:>4}  {r.strategy_name:<{width}}  {_number(r.metric_value, 3):>{mwidth}}  "
            f"{stats.total_signals:>6}  {_number(stats.win_rate, 2, ' %'):>9}  "
            f"{_number(stats.total_pnl, 2, ' %'):>10}  {_number(stats.sharpe_ratio, 3):>7}"
        )
    lines.append(f"  best: {results.best_strategy or 'none (no trades)'}")
    return "\n".join(lines)


def _ranking_json(results: Any) -> dict[str, Any]:
    return {
        "symbol": results.symbol,
        "best_strategy": results.best_strategy,
        "best_metric": _json_value(results.best_metric),
        "ranking": [
            {
                "rank": r.rank,
                "strategy": r.strategy_name,
                "metric": _json_value(r.metric_value),
                "trades": r.stats.total_signals,
                "win_rate": _json_value(r.stats.win_rate),
                "total_pnl": _json_value(r.stats.total_pnl),
                "sharpe_ratio": _json_value(r.stats.sharpe_ratio),
            }
            for r in results.ranking
        ],
    }


def walker_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run `desk walker`; print a ranking per symbol, or JSON.

    Returns `EXIT_ERRORS` when the backtests completed but the engine reported errors.
    """
    import time

    import engine
    from engine.core.errors import EngineError

    errors: list[BaseException] = []
    unsubscribe = engine.listen_error(errors.append)
    show = not args.json and err.isatty()
    cancel = threading.Event()
    symbols: list[str] = []
    started = time.perf_counter()
    done = 0
    try:
        name, symbols, warnings = _walker_setup(args)
        if not args.json:
            for warning in warnings:
                err.write(f"warning: {warning}\n")
        rows = engine.Walker.run_symbols(
            symbols,
            walker_name=name,
            profile=args.profile,
            executor=engine.SerialExecutor() if args.serial else None,
            cancel=cancel,
        )
        for row in rows:
            done += 1
            if show:
                err.write(f"\r{done} backtests done ({row.strategy_name} on {row.symbol})   ")
                err.flush()
        results = [engine.Walker.get_data(symbol, name) for symbol in symbols]
    except KeyboardInterrupt:
        cancel.set()
        err.write(f"\nstopped by Ctrl+C after {done} backtests\n")
        return EXIT_INTERRUPTED
    except (EngineError, OSError) as exc:
        err.write(("\n" if show and done else "") + f"error: {exc}\n")
        return EXIT_FAILED
    finally:
        unsubscribe()
    seconds = time.perf_counter() - started
    if show:
        err.write("\n")
    if args.dump:
        for symbol in symbols:
            engine.Walker.dump(symbol, name, Path(args.dump) / symbol)
    if args.json:
        payload = {
            "walker": name,
            "exchange": results[0].exchange_name,
            "frame": results[0].frame_name,
            "metric": results[0].metric,
            "profile": args.profile,
            "serial": args.serial,
            "seconds": seconds,
            "symbols": [_ranking_json(r) for r in results],
            "errors": _errors_json(errors),
        }
        _write_json(out, payload)
        return EXIT_ERRORS if errors else EXIT_OK
    _write_errors(errors, err)
    out.write("\n\n".join(_ranking_text(r, args.profile) for r in results) + "\n")
    how = "one by one in this process" if args.serial else "in parallel"
    out.write(f"\n{done} backtests {how} in {seconds:.2f} s\n")
    out.write(f"engine errors: {_errors_text(errors)}\n")
    return EXIT_ERRORS if errors else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
