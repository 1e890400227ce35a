"""backtest-desk engine: a faithful, fast Python port of backtest-kit 1.4.10.

The public API is the snake_case form of upstream's (SPEC §B). The engine is headless and
synchronous: runs are generators, `.background()` runs one in a thread.
"""

from engine.api import (
    format_price,
    format_quantity,
    get_average_price,
    get_candles,
    get_date,
    get_mode,
)
from engine.backtest import Backtest
from engine.builtins import exchange_store, register_demo
from engine.config import get_config, get_profile, set_config, use_profile
from engine.data.store import CandleArrays, CandleStore
from engine.errors import (
    ConfigError,
    DataError,
    EngineError,
    SignalValidationError,
    StrategyError,
    TemporaryError,
)
from engine.events import (
    listen_backtest_progress,
    listen_done_backtest,
    listen_done_backtest_once,
    listen_error,
    listen_exit,
    listen_partial_loss,
    listen_partial_loss_once,
    listen_partial_profit,
    listen_partial_profit_once,
    listen_performance,
    listen_signal,
    listen_signal_backtest,
    listen_signal_backtest_once,
    listen_signal_once,
    listen_validation,
)
from engine.logger import set_logger
from engine.models import CancelledResult, Candle, ClosedResult, PnL, SignalRow, TickResult
from engine.registration import (
    add_exchange,
    add_frame,
    add_risk,
    add_strategy,
    list_exchanges,
    list_frames,
    list_risks,
    list_strategies,
)
from engine.schemas import SignalDto

register_demo()

__all__ = [
    "Backtest",
    "CancelledResult",
    "Candle",
    "CandleArrays",
    "CandleStore",
    "ClosedResult",
    "ConfigError",
    "DataError",
    "EngineError",
    "PnL",
    "SignalDto",
    "SignalRow",
    "SignalValidationError",
    "StrategyError",
    "TemporaryError",
    "TickResult",
    "add_exchange",
    "add_frame",
    "add_risk",
    "add_strategy",
    "exchange_store",
    "format_price",
    "format_quantity",
    "get_average_price",
    "get_candles",
    "get_config",
    "get_date",
    "get_mode",
    "get_profile",
    "list_exchanges",
    "list_frames",
    "list_risks",
    "list_strategies",
    "listen_backtest_progress",
    "listen_done_backtest",
    "listen_done_backtest_once",
    "listen_error",
    "listen_exit",
    "listen_partial_loss",
    "listen_partial_loss_once",
    "listen_partial_profit",
    "listen_partial_profit_once",
    "listen_performance",
    "listen_signal",
    "listen_signal_backtest",
    "listen_signal_backtest_once",
    "listen_signal_once",
    "listen_validation",
    "set_config",
    "set_logger",
    "use_profile",
]
