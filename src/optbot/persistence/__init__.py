"""Crash-safe state: SQLite (WAL) for intents, orders, fills, positions and a hash-chained audit trail."""

from optbot.persistence.db import open_database, state_db_path
from optbot.persistence.records import (
    AuditVerification,
    FillRecord,
    IntentRecord,
    OrderEventRecord,
    OrderRecord,
    PositionRecord,
    ReconciliationRecord,
)
from optbot.persistence.store import Store

__all__ = [
    "AuditVerification",
    "FillRecord",
    "IntentRecord",
    "OrderEventRecord",
    "OrderRecord",
    "PositionRecord",
    "ReconciliationRecord",
    "Store",
    "open_database",
    "state_db_path",
]
