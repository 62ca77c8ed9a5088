"""Crash-safe state: SQLite (WAL) for intents, orders, fills, positions and a hash-chained audit trail."""

from optbot.persistence.db import open_database, state_db_path
from optbot.persistence.records import (
    AuditArchiveRecord,
    AuditVerification,
    FillRecord,
    IntentRecord,
    OrderEventRecord,
    OrderRecord,
    PositionRecord,
    ReconciliationRecord,
)
from optbot.persistence.retention import (
    RetentionError,
    RetentionResult,
    apply_audit_retention,
    verify_audit_trail,
)
from optbot.persistence.store import Store

__all__ = [
    "AuditArchiveRecord",
    "AuditVerification",
    "FillRecord",
    "IntentRecord",
    "OrderEventRecord",
    "OrderRecord",
    "PositionRecord",
    "ReconciliationRecord",
    "RetentionError",
    "RetentionResult",
    "Store",
    "apply_audit_retention",
    "open_database",
    "state_db_path",
    "verify_audit_trail",
]
