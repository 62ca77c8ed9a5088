"""Versioned schema. Append new migrations; never edit a released one (user_version counts them)."""

from __future__ import annotations

_V1 = """
CREATE TABLE intents (
    intent_id TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    strategy TEXT NOT NULL,
    exchange TEXT NOT NULL,
    token TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    purpose TEXT NOT NULL,
    order_type TEXT NOT NULL,
    product TEXT NOT NULL,
    limit_price REAL,
    trigger_price REAL,
    underlying TEXT NOT NULL DEFAULT '',
    underlying_reference_price REAL,
    trace_id TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    created_utc TEXT NOT NULL
);
CREATE INDEX intents_hash ON intents(content_hash, created_utc);
CREATE TABLE orders (
    ordertag TEXT PRIMARY KEY,
    intent_id TEXT NOT NULL REFERENCES intents(intent_id),
    child_index INTEGER NOT NULL,
    exchange TEXT NOT NULL,
    token TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    order_type TEXT NOT NULL,
    product TEXT NOT NULL,
    variety TEXT NOT NULL,
    price REAL NOT NULL,
    trigger_price REAL NOT NULL,
    purpose TEXT NOT NULL,
    status TEXT NOT NULL,
    broker_order_id TEXT NOT NULL DEFAULT '',
    unique_order_id TEXT NOT NULL DEFAULT '',
    broker_status TEXT NOT NULL DEFAULT '',
    reported_filled_quantity INTEGER NOT NULL DEFAULT 0,
    filled_quantity INTEGER NOT NULL DEFAULT 0,
    average_price REAL NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    underlying TEXT NOT NULL DEFAULT '',
    reference_price REAL,
    created_utc TEXT NOT NULL,
    submitted_utc TEXT,
    updated_utc TEXT NOT NULL,
    UNIQUE (intent_id, child_index)
);
CREATE INDEX orders_status ON orders(status);
CREATE INDEX orders_broker_id ON orders(broker_order_id);
CREATE TABLE order_events (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT,
    ordertag TEXT NOT NULL REFERENCES orders(ordertag),
    ts_utc TEXT NOT NULL,
    source TEXT NOT NULL,
    previous_status TEXT NOT NULL,
    new_status TEXT NOT NULL,
    accepted INTEGER NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX order_events_tag ON order_events(ordertag);
CREATE TABLE fills (
    fill_id TEXT NOT NULL,
    broker_order_id TEXT NOT NULL,
    ordertag TEXT REFERENCES orders(ordertag),
    intent_id TEXT NOT NULL DEFAULT '',
    exchange TEXT NOT NULL,
    token TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    product TEXT NOT NULL DEFAULT '',
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    price REAL NOT NULL CHECK (price >= 0),
    charges REAL NOT NULL DEFAULT 0,
    trade_date TEXT NOT NULL,
    ts_utc TEXT NOT NULL,
    ts_exchange TEXT,
    PRIMARY KEY (broker_order_id, fill_id)
);
CREATE INDEX fills_date ON fills(trade_date);
CREATE TABLE positions (
    exchange TEXT NOT NULL,
    token TEXT NOT NULL,
    symbol TEXT NOT NULL,
    net_quantity INTEGER NOT NULL,
    average_price REAL NOT NULL,
    realised_pnl REAL NOT NULL,
    charges REAL NOT NULL,
    buy_quantity INTEGER NOT NULL,
    sell_quantity INTEGER NOT NULL,
    buy_value REAL NOT NULL,
    sell_value REAL NOT NULL,
    last_price REAL,
    updated_utc TEXT NOT NULL,
    PRIMARY KEY (exchange, token)
);
CREATE TABLE funds_snapshots (
    snapshot_id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_utc TEXT NOT NULL,
    source TEXT NOT NULL,
    net REAL NOT NULL,
    available_cash REAL NOT NULL,
    utilised_margin REAL NOT NULL,
    realised_m2m REAL NOT NULL,
    unrealised_m2m REAL NOT NULL
);
CREATE TABLE risk_decisions (
    decision_id INTEGER PRIMARY KEY AUTOINCREMENT,
    intent_id TEXT NOT NULL,
    ts_utc TEXT NOT NULL,
    approved INTEGER NOT NULL,
    approved_quantity INTEGER NOT NULL,
    risk_state TEXT NOT NULL,
    reasons TEXT NOT NULL,
    trace_id TEXT NOT NULL DEFAULT ''
);
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    ts_utc TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    payload TEXT NOT NULL,
    previous_hash TEXT NOT NULL,
    row_hash TEXT NOT NULL
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END;
CREATE TABLE reconciliations (
    reconciliation_id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_utc TEXT NOT NULL,
    kind TEXT NOT NULL,
    clean INTEGER NOT NULL,
    diff TEXT NOT NULL,
    acknowledged_utc TEXT,
    acknowledged_by TEXT NOT NULL DEFAULT ''
);
CREATE TABLE broker_anomalies (
    anomaly_id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_utc TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
)
"""

#: v2: the market baseline at placement (VIX level; the underlying reference price was already kept)
#: so the VIX-jump auto-cancel survives a restart.
_V2_ORDER_VIX_BASELINE = """
ALTER TABLE orders ADD COLUMN vix_baseline REAL
"""

#: v3: where a fill came from: "broker" (trade book / order socket) or "expiry" (exercise/expiry
#: settlement booked by optbot.execution.expiry, which no broker trade book lists).
_V3_FILL_SOURCE = """
ALTER TABLE fills ADD COLUMN source TEXT NOT NULL DEFAULT 'broker'
"""

#: v4: audit retention. Each archive of pruned audit rows is recorded (append-only) with its chain
#: anchor; only rows covered by a recorded archive may ever be deleted from the audit table.
_V4_AUDIT_ARCHIVES = """
CREATE TABLE audit_archives (
    archive_id INTEGER PRIMARY KEY AUTOINCREMENT,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    start_previous_hash TEXT NOT NULL,
    end_hash TEXT NOT NULL,
    rows INTEGER NOT NULL,
    file_name TEXT NOT NULL UNIQUE,
    file_sha256 TEXT NOT NULL,
    cutoff_utc TEXT NOT NULL,
    created_utc TEXT NOT NULL,
    CHECK (last_seq >= first_seq AND rows = last_seq - first_seq + 1)
);
CREATE TRIGGER audit_archives_no_update BEFORE UPDATE ON audit_archives
BEGIN SELECT RAISE(ABORT, 'audit archive records are append-only'); END;
CREATE TRIGGER audit_archives_no_delete BEFORE DELETE ON audit_archives
BEGIN SELECT RAISE(ABORT, 'audit archive records are append-only'); END;
DROP TRIGGER audit_no_delete;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
WHEN OLD.seq > (SELECT COALESCE(MAX(last_seq), 0) FROM audit_archives)
BEGIN SELECT RAISE(ABORT, 'audit rows are append-only (only archived rows may be pruned)'); END
"""

#: v5: the newest entry intent of a contract (`Store.position_owner`: whose position it is) found by
#: index instead of a scan of every intent ever stored (risk asks for each open position's owner;
#: a backtest's year scanned ~1,300 rows for each of ~300 contracts).
_V5_INTENTS_BY_CONTRACT = """
CREATE INDEX intents_contract ON intents(token, exchange, purpose, created_utc)
"""

MIGRATIONS: tuple[str, ...] = (
    _V1,
    _V2_ORDER_VIX_BASELINE,
    _V3_FILL_SOURCE,
    _V4_AUDIT_ARCHIVES,
    _V5_INTENTS_BY_CONTRACT,
)
