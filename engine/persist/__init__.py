"""Live state storage: `PersistBase` and its adapters (docs/architecture.md#persistence).

The adapters and TinyDB load on first use (PEP 562), so a backtest, which writes no state,
does not import them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.core.lazy import lazy_names
from engine.persist.base import PersistBase, StateError, StateLockedError, StateWriteError

if TYPE_CHECKING:
    from engine.persist.adapters import (
        PersistAdapter,
        PersistHistoryAdapter,
        PersistJournalAdapter,
        PersistPartialAdapter,
        PersistRiskAdapter,
        PersistScheduleAdapter,
        PersistSignalAdapter,
        get_state_dir,
        set_state_dir,
        use_persist_history_adapter,
        use_persist_journal_adapter,
        use_persist_partial_adapter,
        use_persist_risk_adapter,
        use_persist_schedule_adapter,
        use_persist_signal_adapter,
    )
    from engine.persist.memory import MemoryPersist
    from engine.persist.tinydb_store import TinyDBPersist

_ADAPTERS = (
    "PersistAdapter",
    "PersistHistoryAdapter",
    "PersistJournalAdapter",
    "PersistPartialAdapter",
    "PersistRiskAdapter",
    "PersistScheduleAdapter",
    "PersistSignalAdapter",
    "get_state_dir",
    "set_state_dir",
    "use_persist_history_adapter",
    "use_persist_journal_adapter",
    "use_persist_partial_adapter",
    "use_persist_risk_adapter",
    "use_persist_schedule_adapter",
    "use_persist_signal_adapter",
)
_LAZY = {
    **dict.fromkeys(_ADAPTERS, "engine.persist.adapters"),
    "MemoryPersist": "engine.persist.memory",
    "TinyDBPersist": "engine.persist.tinydb_store",
}
"""Public names whose modules load on first use."""

__getattr__ = lazy_names(__name__, _LAZY, globals())


__all__ = [
    "MemoryPersist",
    "PersistAdapter",
    "PersistBase",
    "PersistHistoryAdapter",
    "PersistJournalAdapter",
    "PersistPartialAdapter",
    "PersistRiskAdapter",
    "PersistScheduleAdapter",
    "PersistSignalAdapter",
    "StateError",
    "StateLockedError",
    "StateWriteError",
    "TinyDBPersist",
    "get_state_dir",
    "set_state_dir",
    "use_persist_history_adapter",
    "use_persist_journal_adapter",
    "use_persist_partial_adapter",
    "use_persist_risk_adapter",
    "use_persist_schedule_adapter",
    "use_persist_signal_adapter",
]
