"""Live state storage: `PersistBase` and its adapters (docs/architecture.md#persistence)."""

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
from engine.persist.base import PersistBase, StateError, StateLockedError, StateWriteError
from engine.persist.memory import MemoryPersist
from engine.persist.tinydb_store import TinyDBPersist

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
