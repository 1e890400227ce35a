"""`desk live`: paper trading headless, with crash recovery and a graceful Ctrl+C."""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from tui.cli import add_profile_option

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130


def add_parser(verbs: Any) -> None:
    """Declare `desk live` and its options."""
    live = verbs.add_parser(
        "live",
        help="run a strategy live (paper trading) until Ctrl+C",
        description="Run a strategy live, headless. Paper trading: the desk tracks and saves "
        "signals; place real orders in your strategy's callbacks. Ctrl+C (or SIGTERM) stops "
        "taking signals and waits for the open position to close; a second Ctrl+C stops at "
        "once, keeping the state for the next start.",
    )
    live.add_argument("--module", dest="live_module", help="a Python file that calls add_*")
    live.add_argument("--strategy", default="bracket", help="strategy name (default: bracket)")
    live.add_argument("--symbol", default="BTCUSDT", help="symbol (default: BTCUSDT)")
    live.add_argument(
        "--exchange",
        default="demo",
        help="a registered exchange, or a ccxt id such as binance (default: demo)",
    )
    live.add_argument("--state-dir", default="./dump", help="state directory (default: ./dump)")
    live.add_argument(
        "--speed", type=float, help="demo market only: run the clock N times faster than real"
    )
    live.add_argument("--env-file", help="a .env file with <EXCHANGE>_API_KEY / _API_SECRET")
    live.add_argument("--api-url", help="send the exchange's API calls to this base URL")
    live.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="time budget of the strategy code of one tick (get_signal, callbacks, "
        "get_candles): past it the call is reported, and Ctrl+C or SIGTERM end the run even "
        "if it never returns "
        "(default: CC_STRATEGY_TIMEOUT_SECONDS, 30; 0: no budget)",
    )
    add_profile_option(live)
    live.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per line (what the strategy prints goes to stderr)",
    )
    live.add_argument("--no-report", action="store_true", help="do not print the report at the end")
    live.add_argument("--dump", metavar="DIR", help="also write the report to DIR/<strategy>.md")


def _exchange(args: argparse.Namespace) -> str:
    """Register a ccxt exchange named on the command line if it is not registered yet."""
    from engine.core.registration import exchanges
    from engine.core.secrets import exchange_credentials
    from engine.data.ccxt_exchange import ccxt_exchange

    if exchanges.has(args.exchange):
        return str(args.exchange)
    credentials = exchange_credentials(args.exchange, args.env_file)
    ccxt_exchange(args.exchange, credentials=credentials, api_url=args.api_url)
    return str(args.exchange)


def _clock_factory(args: argparse.Namespace, exchange: str) -> Callable[[], Any] | None:
    """Check `--speed` now; return what builds the fast clock once the session's lock is held.

    The fast clock writes its anchor to `<state-dir>/data/clock.json`: only the process
    that owns the session may do that, so a refused start never moves a running clock.
    """
    from engine.core.errors import ConfigError
    from engine.data.demo_live import resume_scaled_clock
    from engine.persist import TinyDBPersist
    from engine.sim.live_schema import finite_speed

    if args.speed is None:
        return None
    speed = finite_speed(args.speed)
    if exchange != "demo":
        raise ConfigError("--speed only works on the demo market: a real one has no future")

    def build() -> Any:
        store = TinyDBPersist("clock", Path(args.state_dir) / "data")
        store.wait_for_init()
        return resume_scaled_clock(speed, store, f"{args.symbol}_{args.strategy}")

    return build


def _set_timeout(seconds: float | None) -> None:
    from engine.core.config import set_config
    from engine.core.errors import ConfigError

    if seconds is None:
        return
    if not math.isfinite(seconds) or seconds < 0:
        raise ConfigError(
            f"--timeout must be a number of seconds >= 0 (0 turns the budget off), was {seconds:g}"
        )
    set_config(CC_STRATEGY_TIMEOUT_SECONDS=seconds)


def _exit_now(out: TextIO, err: TextIO, code: int) -> None:
    """End the process at once: a hung strategy thread cannot be stopped or joined.

    The state is already on disk (every change is written when it happens).
    """
    for stream in (out, err):
        stream.flush()
    os._exit(code)


def _row(value: Any) -> Any:
    if value is None:
        return None
    if hasattr(value, "_asdict"):
        return {k: _row(v) for k, v in value._asdict().items()}
    return value


class _Stopper:
    """First Ctrl+C or SIGTERM: graceful stop; second Ctrl+C: stop now."""

    def __init__(self, err: TextIO) -> None:
        self.stop, self.cancel, self.err = threading.Event(), threading.Event(), err

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.stop.is_set() and signum == signal.SIGINT:
            self.cancel.set()
            self.err.write("stopping now; the state is kept for the next start\n")
        elif not self.stop.is_set():
            self.stop.set()
            self.err.write(
                "stopping: no new signals; watching the open position until it closes "
                "(Ctrl+C again to stop now, keeping the state)\n"
            )
        self.err.flush()


def live_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run `desk live`; print each signal as it opens, closes or is cancelled."""
    import engine
    from engine.core.errors import EngineError
    from engine.core.loader import load_module
    from engine.persist import StateError
    from engine.sim.live import Live, LiveStart
    from engine.sim.watchdog import StrategyHungError
    from engine.strategies import register_builtin_strategies

    def say(payload: dict[str, Any], text: str) -> None:
        out.write((json.dumps(payload) if args.json else text) + "\n")
        out.flush()

    def started(start: LiveStart) -> None:
        pending, scheduled = start.recovered.pending, start.recovered.scheduled
        say(
            {
                "event": "started",
                "strategy": start.strategy_name,
                "symbol": start.symbol,
                "exchange": start.exchange_name,
                "state_dir": str(start.state_dir),
                "now_ms": start.now_ms,
                "pending": _row(pending),
                "scheduled": _row(scheduled),
                "notes": list(start.recovered.notes),
            },
            f"live {start.strategy_name} on {start.symbol} ({start.exchange_name}), state in "
            f"{start.state_dir}"
            + (f"; resumed open signal {pending.id}" if pending else "")
            + (f"; resumed scheduled signal {scheduled.id}" if scheduled else "")
            + "".join(f"\n  note: {note}" for note in start.recovered.notes),
        )

    stopper = _Stopper(err)
    previous = {s: signal.signal(s, stopper) for s in (signal.SIGINT, signal.SIGTERM)}
    off = engine.listen_error(lambda exc: err.write(f"strategy error: {exc}\n"))
    user_stdout = sys.stdout
    if args.json:  # stdout carries JSON only: what user code prints goes to stderr
        sys.stdout = err
    try:
        _set_timeout(args.timeout)
        register_builtin_strategies()
        if args.live_module:
            load_module(args.live_module)
        exchange = _exchange(args)
        results = Live.run(
            args.symbol,
            strategy_name=args.strategy,
            exchange_name=exchange,
            profile=args.profile,
            clock_factory=_clock_factory(args, exchange),
            state_dir=args.state_dir,
            stop=stopper.stop,
            cancel=stopper.cancel,
            on_start=started,
        )
        for result in results:
            s = result.signal
            text = f"{str(result.action).upper():9} {s.position.upper():5} {s.symbol} {s.id}"
            if result.action == "closed":
                text += f" {result.close_reason} pnl {result.pnl.pnl_percentage:+.2f}%"
            say({"event": str(result.action), "result": _row(result)}, text)
    except (EngineError, OSError) as exc:
        kind = "state error" if isinstance(exc, StateError) else "error"
        err.write(f"{kind}: {exc}\n")
        if args.json:
            say({"event": "error", "kind": kind, "message": str(exc)}, "")
        if isinstance(exc, StrategyHungError) and exc.thread.is_alive():
            _exit_now(out, err, EXIT_FAILED)
        return EXIT_FAILED
    finally:
        sys.stdout = user_stdout
        off()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if args.dump:
        Live.dump(args.symbol, args.strategy, Path(args.dump))
    say({"event": "stopped", "cancelled": stopper.cancel.is_set()}, "stopped")
    if not args.json and not args.no_report:
        out.write("\n" + Live.get_report(args.symbol, args.strategy))
    return EXIT_INTERRUPTED if stopper.cancel.is_set() else EXIT_OK
