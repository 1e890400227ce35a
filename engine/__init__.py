"""backtest-desk engine: a faithful, fast Python port of backtest-kit 1.4.10.

The public API is the snake_case form of upstream's (docs/semantics.md#api). The engine is
headless and synchronous: runs are generators, `.background()` runs one in a thread.

`Live`, the optimizer, the walker, `SerialExecutor`, the sizings, `SignalDto` (pydantic),
`ccxt_exchange` and the state adapters (TinyDB) load on first use, so that a headless
`desk backtest` does not pay for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.analytics.account import Account, AccountTrade, EquityFraction, FixedAmount
from engine.analytics.heat import Heat
from engine.analytics.partial_store import Partial
from engine.analytics.performance import Performance
from engine.analytics.schedule import Schedule
from engine.core.config import get_config, get_profile, set_config, use_profile
from engine.core.constant import Constant
from engine.core.errors import (
    ConfigError,
    DataError,
    EngineError,
    SignalValidationError,
    StrategyError,
    TemporaryError,
)
from engine.core.events import (
    listen_backtest_progress,
    listen_done_backtest,
    listen_done_backtest_once,
    listen_done_live,
    listen_done_live_once,
    listen_done_walker,
    listen_done_walker_once,
    listen_error,
    listen_exit,
    listen_optimizer_progress,
    listen_partial_loss,
    listen_partial_loss_once,
    listen_partial_profit,
    listen_partial_profit_once,
    listen_performance,
    listen_signal,
    listen_signal_backtest,
    listen_signal_backtest_once,
    listen_signal_live,
    listen_signal_live_once,
    listen_signal_once,
    listen_validation,
    listen_walker,
    listen_walker_complete,
    listen_walker_once,
    listen_walker_progress,
)
from engine.core.lazy import lazy_names
from engine.core.logger import set_logger
from engine.core.models import CancelledResult, Candle, ClosedResult, PnL, SignalRow, TickResult
from engine.core.registration import (
    add_exchange,
    add_frame,
    add_risk,
    add_strategy,
    list_exchanges,
    list_frames,
    list_risks,
    list_strategies,
)
from engine.data.store import CandleArrays, CandleStore
from engine.persist import PersistBase, StateError, StateLockedError, StateWriteError
from engine.sim.api import (
    format_price,
    format_quantity,
    get_average_price,
    get_candles,
    get_date,
    get_mode,
)
from engine.sim.backtest import Backtest
from engine.sim.builtins import exchange_store, register_demo
from engine.sim.indicators import indicator
from engine.sim.live_journal import Delivery, current_delivery
from engine.sim.strategy import seed_signal_ids

if TYPE_CHECKING:
    from engine.core.schemas import SignalDto
    from engine.data.ccxt_exchange import ccxt_exchange
    from engine.optimizer import Optimizer, add_optimizer, list_optimizers
    from engine.persist import (
        MemoryPersist,
        PersistPartialAdapter,
        PersistRiskAdapter,
        PersistScheduleAdapter,
        PersistSignalAdapter,
        TinyDBPersist,
        get_state_dir,
        set_state_dir,
        use_persist_history_adapter,
        use_persist_journal_adapter,
        use_persist_partial_adapter,
        use_persist_risk_adapter,
        use_persist_schedule_adapter,
        use_persist_signal_adapter,
    )
    from engine.sim.live import Live
    from engine.sim.parallel import SerialExecutor
    from engine.sim.sizing import PositionSize, add_sizing, list_sizings
    from engine.sim.walker import Walker, add_walker, list_walkers

_LAZY = {
    "SignalDto": "engine.core.schemas",
    "ccxt_exchange": "engine.data.ccxt_exchange",
    "PositionSize": "engine.sim.sizing",
    "add_sizing": "engine.sim.sizing",
    "list_sizings": "engine.sim.sizing",
    "MemoryPersist": "engine.persist",
    "PersistPartialAdapter": "engine.persist",
    "PersistRiskAdapter": "engine.persist",
    "PersistScheduleAdapter": "engine.persist",
    "PersistSignalAdapter": "engine.persist",
    "TinyDBPersist": "engine.persist",
    "get_state_dir": "engine.persist",
    "set_state_dir": "engine.persist",
    "use_persist_history_adapter": "engine.persist",
    "use_persist_journal_adapter": "engine.persist",
    "use_persist_partial_adapter": "engine.persist",
    "use_persist_risk_adapter": "engine.persist",
    "use_persist_schedule_adapter": "engine.persist",
    "use_persist_signal_adapter": "engine.persist",
    "Live": "engine.sim.live",
    "Optimizer": "engine.optimizer",
    "add_optimizer": "engine.optimizer",
    "list_optimizers": "engine.optimizer",
    "SerialExecutor": "engine.sim.parallel",
    "Walker": "engine.sim.walker",
    "add_walker": "engine.sim.walker",
    "list_walkers": "engine.sim.walker",
}
"""Public names whose modules load on first use."""

__getattr__ = lazy_names(__name__, _LAZY, globals())


register_demo()

__all__ = [
    "Account",
    "AccountTrade",
    "Backtest",
    "CancelledResult",
    "Candle",
    "CandleArrays",
    "CandleStore",
    "ClosedResult",
    "ConfigError",
    "Constant",
    "DataError",
    "Delivery",
    "EngineError",
    "EquityFraction",
    "FixedAmount",
    "Heat",
    "Live",
    "MemoryPersist",
    "Optimizer",
    "Partial",
    "Performance",
    "PersistBase",
    "PersistPartialAdapter",
    "PersistRiskAdapter",
    "PersistScheduleAdapter",
    "PersistSignalAdapter",
    "PnL",
    "PositionSize",
    "Schedule",
    "SerialExecutor",
    "SignalDto",
    "SignalRow",
    "SignalValidationError",
    "StateError",
    "StateLockedError",
    "StateWriteError",
    "StrategyError",
    "TemporaryError",
    "TickResult",
    "TinyDBPersist",
    "Walker",
    "add_exchange",
    "add_frame",
    "add_optimizer",
    "add_risk",
    "add_sizing",
    "add_strategy",
    "add_walker",
    "ccxt_exchange",
    "current_delivery",
    "exchange_store",
    "format_price",
    "format_quantity",
    "get_average_price",
    "get_candles",
    "get_config",
    "get_date",
    "get_mode",
    "get_profile",
    "get_state_dir",
    "indicator",
    "list_exchanges",
    "list_frames",
    "list_optimizers",
    "list_risks",
    "list_sizings",
    "list_strategies",
    "list_walkers",
    "listen_backtest_progress",
    "listen_done_backtest",
    "listen_done_backtest_once",
    "listen_done_live",
    "listen_done_live_once",
    "listen_done_walker",
    "listen_done_walker_once",
    "listen_error",
    "listen_exit",
    "listen_optimizer_progress",
    "listen_partial_loss",
    "listen_partial_loss_once",
    "listen_partial_profit",
    "listen_partial_profit_once",
    "listen_performance",
    "listen_signal",
    "listen_signal_backtest",
    "listen_signal_backtest_once",
    "listen_signal_live",
    "listen_signal_live_once",
    "listen_signal_once",
    "listen_validation",
    "listen_walker",
    "listen_walker_complete",
    "listen_walker_once",
    "listen_walker_progress",
    "seed_signal_ids",
    "set_config",
    "set_logger",
    "set_state_dir",
    "use_persist_history_adapter",
    "use_persist_journal_adapter",
    "use_persist_partial_adapter",
    "use_persist_risk_adapter",
    "use_persist_schedule_adapter",
    "use_persist_signal_adapter",
    "use_profile",
]
