"""The state store: every write about an order happens in a transaction together with its audit row.

Callers never hold order state only in memory: the order manager writes PENDING_SUBMIT before the
broker is called and reads everything back from here after a restart.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, TypeVar

from optbot.config.sections.persistence import PersistenceSettings
from optbot.core.clock import Clock
from optbot.core.enums import (
    Exchange,
    IntentPurpose,
    OrderStatus,
    OrderType,
    ProductType,
    Side,
    Variety,
)
from optbot.core.events import RiskDecision
from optbot.core.funds import Funds
from optbot.core.timeutil import to_utc
from optbot.persistence.checkpoint import WalCheckpointer, configure_wal
from optbot.persistence.db import SYNCHRONOUS, open_database
from optbot.persistence.order_cache import (
    OrderCache,
    as_stored,
    inserted_order,
    intent_as_stored,
    stored_order,
)
from optbot.persistence.position_cache import PositionCache
from optbot.persistence.position_cache import as_stored as position_as_stored
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

GENESIS_HASH = "0" * 64
_IN_FLIGHT = tuple(status.value for status in OrderStatus if not status.is_terminal)
_IN_CHUNK = 500  # values per `IN (...)` (SQLite's bound-parameter limit is 999 on old builds)


class _Clearable(Protocol):
    def clear(self) -> None: ...


_Cache = TypeVar("_Cache", bound=_Clearable)
_INTENTS_KEPT = 4096  # intent rows remembered at most (then forgotten at once and read again)


#: The last instant `_ts` wrote and its text: an order's journal writes one clock reading many times
#: (intent, orders, events, audit rows). Equal instants have the same UTC text whatever their zone.
_last_ts: tuple[datetime, str] | None = None


def _ts(moment: datetime) -> str:
    global _last_ts
    last = _last_ts
    if last is not None and last[0] == moment:
        return last[1]
    text = to_utc(moment).isoformat()
    _last_ts = (moment, text)
    return text


def _opt_ts(moment: datetime | None) -> str | None:
    return None if moment is None else _ts(moment)


def _parse_ts(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


#: Built once: `json.dumps` with these arguments builds the same encoder for every call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def canonical_json(payload: Mapping[str, Any]) -> str:
    """Sorted keys, no spaces, anything unknown as its str (the audit payload as it is hashed)."""
    return _CANONICAL.encode(payload)


def audit_row_hash(previous_hash: str, seq: int, ts_utc: str, kind: str, subject: str, payload: str) -> str:
    material = "\x1f".join((previous_hash, str(seq), ts_utc, kind, subject, payload))
    return hashlib.sha256(material.encode()).hexdigest()


class _Transaction:
    """`Store.transaction`'s block: BEGIN IMMEDIATE on entering the outermost one, COMMIT on leaving
    it, ROLLBACK when its body raises. A class rather than a generator-based context manager: every
    write about an order opens one (an order's round trip a dozen), and a generator costs more to
    enter and leave than the block's own bookkeeping."""

    __slots__ = ("_relaxed", "_store")

    def __init__(self, store: Store, relaxed: bool) -> None:
        self._store = store
        #: committed without an fsync of its own (see `Store.transaction`)
        self._relaxed = relaxed

    def __enter__(self) -> sqlite3.Connection:
        store = self._store
        connection = store._connection
        if self._relaxed:
            connection.execute("PRAGMA synchronous=NORMAL")
        if store._depth == 0:
            try:
                connection.execute("BEGIN IMMEDIATE")
            except BaseException:
                self._restore_synchronous()
                raise
        store._depth += 1
        return connection

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        store = self._store
        try:
            store._depth -= 1
            if store._depth == 0:
                if kind is not None:
                    store._rolled_back()
                else:
                    store._transaction_version = None
                    store._connection.execute("COMMIT")
        finally:
            self._restore_synchronous()

    def _restore_synchronous(self) -> None:
        if self._relaxed:
            self._store._connection.execute(f"PRAGMA synchronous={SYNCHRONOUS}")


class Store:
    """Typed access to the state database. Not thread-safe; one per process, used from the loop."""

    def __init__(
        self, connection: sqlite3.Connection, clock: Clock, checkpointer: WalCheckpointer | None = None
    ) -> None:
        self._connection = connection
        self._clock = clock
        #: checkpoints this database's WAL from a thread (a session's store; see `open`)
        self.checkpointer = checkpointer
        self._depth = 0
        #: data_version read inside the open transaction (see `_data_version`), None outside one.
        self._transaction_version: int | None = None
        #: Position rows written through this store (rolled-back writes count too): readers that cache
        #: positions re-read them when it moves, not on every unrelated write.
        self.position_writes = 0
        #: The same for order rows (what a reconciliation's snapshot keys on).
        self.order_writes = 0
        #: The same for fill rows: `fills_signature` is answered from `_fills_signature` while it and
        #: SQLite's data_version stay put (a portfolio asks on every risk evaluation).
        self.fill_writes = 0
        self._fills_signature: tuple[tuple[int, int], tuple[int, int | None]] | None = None
        #: `position_owner` answers by contract, kept while SQLite's data_version stays put (risk asks
        #: for every open position on every evaluation); an entry intent written through this store
        #: drops its contract's answer, a rolled-back transaction all of them.
        self._owners: dict[tuple[Exchange, str], str] = {}
        self._owners_version: int | None = None
        #: (data_version, (seq, hash)) of the newest audit row this store wrote or read: the next row
        #: chains onto it without a query while no other connection has committed.
        self._audit_tip: tuple[int, tuple[int, str]] | None = None
        #: Order rows as this store last wrote or read them, and the in-flight / awaiting-fill sets:
        #: valid while SQLite's data_version stays put (no other connection committed), cleared on a
        #: rollback. The order manager re-reads each order on every report; it is the only writer.
        self._order_cache = OrderCache()
        #: Intent rows (insert-only) this store wrote or read, on the same terms; at most
        #: `_INTENTS_KEPT` (a fill asks for its intent's owner and trace).
        self._intents: dict[str, IntentRecord] = {}
        #: Position rows likewise (the whole table once read): risk and the portfolio read positions
        #: on every evaluation and fill; only `save_position` writes them.
        self._position_cache = PositionCache()
        #: SQLite's data_version each cache above was filled at (see `_fresh`).
        self._cache_versions: dict[str, int] = {}
        #: An in-memory (or temporary) database has no other connection, so nothing but this store
        #: can change it: no need to ask SQLite for its data_version (a backtest asks every bar).
        main = connection.execute("PRAGMA database_list").fetchone()
        self._private = main is not None and not main["file"]
        #: A private database's intent ids with their content hashes, and its fill keys: each loaded
        #: whole on first use and kept by this store's inserts (the only writer of a private database);
        #: None until loaded and after a rollback. A new intent's "already known?", its duplicate check
        #: and a new fill's "already recorded?" are then answered without a query (a backtest asks
        #: them for every intent and fill).
        self._known_intents: tuple[set[str], set[str]] | None = None
        self._known_fills: set[tuple[str, str]] | None = None

    @classmethod
    def open(cls, path: Path | str, clock: Clock, wal: PersistenceSettings | None = None) -> Store:
        """With `wal` (a live or paper session's store), the WAL is checkpointed from a thread of its
        own instead of inside the commit that crosses SQLite's threshold (see `WalCheckpointer`)."""
        connection = open_database(path)
        if wal is None or str(path) == ":memory:":
            return cls(connection, clock)
        configure_wal(connection, wal)
        return cls(connection, clock, WalCheckpointer(Path(path), wal).start())

    def close(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
            self.checkpointer = None
        self._connection.close()

    @property
    def connection(self) -> sqlite3.Connection:
        return self._connection

    def _data_version(self) -> int:
        """SQLite's data_version: moves when another connection commits (0 for a private database).

        Asked once per transaction: no other connection can commit while this one holds the write lock
        (BEGIN IMMEDIATE), so the answer cannot move before COMMIT or ROLLBACK."""
        if self._private:
            return 0
        if self._depth and self._transaction_version is not None:
            return self._transaction_version
        version = int(self._connection.execute("PRAGMA data_version").fetchone()[0])
        if self._depth:
            self._transaction_version = version
        return version

    def positions_version(self) -> tuple[int, int]:
        """Changes when a position row is written through this store or another connection commits:
        the key of a positions cache (narrower than change_version, which moves on any write)."""
        return (self.position_writes, self._data_version())

    def fills_signature(self) -> tuple[int, int | None]:
        """(number of fills, newest fill's rowid): changes whenever a fill is added or removed, so a
        reader can tell "new fills only" (count grew, rowid grew) from a rewritten table."""
        version = (self.fill_writes, self._data_version())
        held = self._fills_signature
        if held is not None and held[0] == version and not self._depth:
            return held[1]
        row = self._connection.execute("SELECT COUNT(*), MAX(rowid) FROM fills").fetchone()
        signature = (int(row[0]), None if row[1] is None else int(row[1]))
        if not self._depth:
            self._fills_signature = (version, signature)
        return signature

    @property
    def in_transaction(self) -> bool:
        """Whether a `transaction` block is open: what is written now may still be rolled back."""
        return self._depth > 0

    def transaction(self, *, durable: bool = True) -> _Transaction:
        """BEGIN IMMEDIATE … COMMIT; nested use joins the outer transaction.

        `durable=False` (honoured by an outermost transaction only) commits without an fsync of its
        own: a kill -9 cannot lose it (the write is in the OS's cache), a power cut can, until the
        next durable commit fsyncs the log and with it every frame written before. Only for a
        write that the broker can re-supply after a restart (see `OrderManager._send`)."""
        return _Transaction(self, not durable and self._depth == 0 and not self._private)

    def _rolled_back(self) -> None:
        """ROLLBACK of the outermost transaction: whatever was read or cached inside it is void."""
        self._transaction_version = None
        self._connection.execute("ROLLBACK")
        self.position_writes += 1
        self.order_writes += 1
        self.fill_writes += 1
        self._owners.clear()
        self._audit_tip = None
        self._order_cache.clear()
        self._position_cache.clear()
        self._intents.clear()
        self._known_intents = None
        self._known_fills = None

    # ----------------------------------------------------------------- audit
    def audit(self, kind: str, subject: str, payload: Mapping[str, Any]) -> int:
        """Append one hash-chained audit row (inside the caller's transaction if there is one: most
        rows are written inside one, and join it without a nested block of their own)."""
        if self._depth:
            return self._append_audit(kind, subject, payload)
        with self.transaction():
            return self._append_audit(kind, subject, payload)

    def _append_audit(self, kind: str, subject: str, payload: Mapping[str, Any]) -> int:
        last_seq, previous_hash = self._audit_chain_tip()
        seq = last_seq + 1
        ts_utc = _ts(self._clock.now_utc())
        body = canonical_json(payload)
        row_hash = audit_row_hash(previous_hash, seq, ts_utc, kind, subject, body)
        self._connection.execute(
            "INSERT INTO audit(seq, ts_utc, kind, subject, payload, previous_hash, row_hash)"
            " VALUES (?,?,?,?,?,?,?)",
            (seq, ts_utc, kind, subject, body, previous_hash, row_hash),
        )
        self._audit_tip = (self._data_version(), (seq, row_hash))
        return seq

    def _audit_chain_tip(self) -> tuple[int, str]:
        """(seq, hash) of the newest audit row, else of the newest archive's anchor, else genesis."""
        held = self._audit_tip
        if held is not None and held[0] == self._data_version():
            return held[1]
        return self._read_audit_chain_tip()

    def _read_audit_chain_tip(self) -> tuple[int, str]:
        last = self._connection.execute(
            "SELECT seq, row_hash FROM audit ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        if last is not None:
            return int(last["seq"]), str(last["row_hash"])
        anchor = self.audit_anchor()
        if anchor is not None:
            return anchor.last_seq, anchor.end_hash
        return 0, GENESIS_HASH

    def audit_anchor(self) -> AuditArchiveRecord | None:
        """The newest archive: the live chain continues from its last seq and end hash."""
        row = self._connection.execute(
            "SELECT * FROM audit_archives ORDER BY last_seq DESC LIMIT 1"
        ).fetchone()
        return None if row is None else _archive_from_row(row)

    def audit_archives(self) -> list[AuditArchiveRecord]:
        rows = self._connection.execute("SELECT * FROM audit_archives ORDER BY first_seq").fetchall()
        return [_archive_from_row(row) for row in rows]

    def audit_rows_through(self, last_seq: int) -> Iterator[sqlite3.Row]:
        """Live audit rows with seq <= last_seq, oldest first (raw, as hashed)."""
        yield from self._connection.execute(
            "SELECT seq, ts_utc, kind, subject, payload, previous_hash, row_hash FROM audit"
            " WHERE seq <= ? ORDER BY seq",
            (last_seq,),
        )

    def audit_link(self, seq: int) -> tuple[str, str] | None:
        """(previous_hash, row_hash) of one live audit row; None if it is not live."""
        row = self._connection.execute(
            "SELECT previous_hash, row_hash FROM audit WHERE seq = ?", (seq,)
        ).fetchone()
        return None if row is None else (str(row["previous_hash"]), str(row["row_hash"]))

    def audit_times(self) -> Iterator[tuple[int, datetime]]:
        """(seq, ts) of every live audit row, oldest first."""
        for row in self._connection.execute("SELECT seq, ts_utc FROM audit ORDER BY seq"):
            yield int(row["seq"]), datetime.fromisoformat(row["ts_utc"])

    def record_audit_archive(self, archive: AuditArchiveRecord) -> None:
        """Record an archive, delete the rows it holds and audit the pruning, in one transaction.

        Refused (nothing changes) unless the archive starts exactly where the live chain starts.
        """
        with self.transaction() as connection:
            first = connection.execute("SELECT seq, previous_hash FROM audit ORDER BY seq LIMIT 1").fetchone()
            if first is None or int(first["seq"]) != archive.first_seq:
                raise ValueError(
                    f"audit archive starts at seq {archive.first_seq} but the live chain starts at"
                    f" {None if first is None else int(first['seq'])}: not pruned"
                )
            if str(first["previous_hash"]) != archive.start_previous_hash:
                raise ValueError("audit archive's start anchor does not match the live chain: not pruned")
            connection.execute(
                "INSERT INTO audit_archives(first_seq, last_seq, start_previous_hash, end_hash, rows,"
                " file_name, file_sha256, cutoff_utc, created_utc) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    archive.first_seq,
                    archive.last_seq,
                    archive.start_previous_hash,
                    archive.end_hash,
                    archive.rows,
                    archive.file_name,
                    archive.file_sha256,
                    _ts(archive.cutoff_utc),
                    _ts(archive.created_utc),
                ),
            )
            deleted = connection.execute("DELETE FROM audit WHERE seq <= ?", (archive.last_seq,)).rowcount
            if deleted != archive.rows:
                raise ValueError(
                    f"audit archive holds {archive.rows} rows but {deleted} were live: not pruned"
                )
            self.audit(
                "audit_archive",
                archive.file_name,
                {
                    "first_seq": archive.first_seq,
                    "last_seq": archive.last_seq,
                    "rows": archive.rows,
                    "end_hash": archive.end_hash,
                    "file_sha256": archive.file_sha256,
                    "cutoff_utc": _ts(archive.cutoff_utc),
                },
            )

    def verify_chain(self) -> AuditVerification:
        """Recompute every live audit hash from the archive anchor (or genesis).

        Reports the first row that was altered, removed or reordered. Archive files are checked by
        `optbot.persistence.retention.verify_audit_trail`.
        """
        anchor = self.audit_anchor()
        previous_hash = GENESIS_HASH if anchor is None else anchor.end_hash
        expected_seq = 1 if anchor is None else anchor.last_seq + 1
        rows = 0
        cursor = self._connection.execute(
            "SELECT seq, ts_utc, kind, subject, payload, previous_hash, row_hash FROM audit ORDER BY seq"
        )
        for row in cursor:
            rows += 1
            seq = int(row["seq"])
            if seq != expected_seq:
                problem = f"sequence gap: expected {expected_seq}, found {seq}"
                return AuditVerification(False, rows, seq, problem)
            if row["previous_hash"] != previous_hash:
                return AuditVerification(False, rows, seq, "previous_hash does not match the preceding row")
            recomputed = audit_row_hash(
                previous_hash, seq, row["ts_utc"], row["kind"], row["subject"], row["payload"]
            )
            if recomputed != row["row_hash"]:
                return AuditVerification(False, rows, seq, "row content does not match its hash")
            previous_hash = str(row["row_hash"])
            expected_seq += 1
        return AuditVerification(True, rows)

    def audit_rows(self, subject: str | None = None) -> list[dict[str, Any]]:
        query = "SELECT seq, ts_utc, kind, subject, payload FROM audit"
        params: tuple[Any, ...] = ()
        if subject is not None:
            query += " WHERE subject = ?"
            params = (subject,)
        return [
            {**dict(row), "payload": json.loads(row["payload"])}
            for row in self._connection.execute(query + " ORDER BY seq", params)
        ]

    # --------------------------------------------------------------- intents
    def _fresh(self, name: str, cache: _Cache) -> _Cache:
        """`cache`, emptied first if another connection committed since it was filled (each row cache
        of this store is valid for one data_version; a rollback empties them all)."""
        version = self._data_version()
        if self._cache_versions.get(name) != version:
            cache.clear()
            self._cache_versions[name] = version
        return cache

    def _intent_cache(self) -> dict[str, IntentRecord]:
        if len(self._intents) >= _INTENTS_KEPT:
            self._intents.clear()
        return self._fresh("intents", self._intents)

    def _private_intents(self) -> tuple[set[str], set[str]] | None:
        """(intent ids, content hashes) of every intent of a private database; None for a shared one."""
        if not self._private:
            return None
        if self._known_intents is None:
            ids: set[str] = set()
            hashes: set[str] = set()
            for row in self._connection.execute("SELECT intent_id, content_hash FROM intents"):
                ids.add(str(row[0]))
                hashes.add(str(row[1]))
            self._known_intents = (ids, hashes)
        return self._known_intents

    def _private_fills(self) -> set[tuple[str, str]] | None:
        """(broker order id, fill id) of every fill of a private database; None for a shared one."""
        if not self._private:
            return None
        if self._known_fills is None:
            rows = self._connection.execute("SELECT broker_order_id, fill_id FROM fills")
            self._known_fills = {(str(row[0]), str(row[1])) for row in rows}
        return self._known_fills

    def find_intent(self, intent_id: str) -> IntentRecord | None:
        # a new intent's id is not held: its lookup (before the journal, on the way to the wire) goes
        # straight to SQLite (a private database's ids are all known); a row read fresh may join the
        # cache whatever its version (a stale cache is cleared at the next check)
        if intent_id in self._intents:
            held = self._intent_cache().get(intent_id)
            if held is not None:
                return held
        known = self._private_intents()
        if known is not None and str(intent_id) not in known[0]:
            return None
        row = self._connection.execute("SELECT * FROM intents WHERE intent_id = ?", (intent_id,)).fetchone()
        if row is None:
            return None
        if len(self._intents) >= _INTENTS_KEPT:
            self._intents.clear()
        intent = self._intents[intent_id] = _intent_from_row(row)
        return intent

    def find_intent_by_hash(self, content_hash: str, since: datetime) -> IntentRecord | None:
        known = self._private_intents()
        if known is not None and str(content_hash) not in known[1]:
            return None
        row = self._connection.execute(
            "SELECT * FROM intents WHERE content_hash = ? AND created_utc >= ? AND status = 'ACCEPTED'"
            " ORDER BY created_utc DESC LIMIT 1",
            (content_hash, _ts(since)),
        ).fetchone()
        return None if row is None else _intent_from_row(row)

    def insert_intent(
        self, intent: IntentRecord, orders: list[OrderRecord], decision: RiskDecision | None = None
    ) -> None:
        """Persist the intent and its child orders (PENDING_SUBMIT) atomically, before any send; with
        the risk `decision` behind it recorded in the same transaction (one commit, one fsync, before
        the order can leave)."""
        with self.transaction() as connection:
            if decision is not None:
                self.record_risk_decision(decision)
            if intent.purpose is IntentPurpose.ENTRY:
                self._owners.pop((intent.exchange, intent.token), None)
            connection.execute(
                "INSERT INTO intents(intent_id, content_hash, strategy, exchange, token, symbol, side,"
                " quantity,"
                " purpose, order_type, product, limit_price, trigger_price, underlying,"
                " underlying_reference_price, trace_id, status, reason, created_utc)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    intent.intent_id,
                    intent.content_hash,
                    intent.strategy,
                    intent.exchange.value,
                    intent.token,
                    intent.symbol,
                    intent.side.value,
                    intent.quantity,
                    intent.purpose.value,
                    intent.order_type.value,
                    intent.product.value,
                    intent.limit_price,
                    intent.trigger_price,
                    intent.underlying,
                    intent.underlying_reference_price,
                    intent.trace_id,
                    intent.status,
                    intent.reason,
                    _ts(intent.created_utc),
                ),
            )
            if self._known_intents is not None:
                self._known_intents[0].add(str(intent.intent_id))  # as the TEXT column holds it
                self._known_intents[1].add(str(intent.content_hash))
            self._intent_cache()[intent.intent_id] = intent_as_stored(intent)
            self.audit(
                "intent",
                intent.intent_id,
                {
                    "status": intent.status,
                    "reason": intent.reason,
                    "hash": intent.content_hash,
                    "side": intent.side.value,
                    "quantity": intent.quantity,
                    "token": intent.token,
                    "purpose": intent.purpose.value,
                    "trace_id": intent.trace_id,
                    "orders": [order.ordertag for order in orders],
                },
            )
            self._insert_orders(connection, orders)

    def add_orders(self, intent_id: str, orders: list[OrderRecord], reason: str) -> None:
        """Persist further child orders of a known intent (PENDING_SUBMIT) before they are sent, e.g.
        an exit sent again after its order ended unfilled."""
        with self.transaction() as connection:
            self._insert_orders(connection, orders)
            tags = [order.ordertag for order in orders]
            self.audit("intent_orders_added", intent_id, {"reason": reason, "orders": tags})

    def _insert_orders(self, connection: sqlite3.Connection, orders: list[OrderRecord]) -> None:
        self.order_writes += 1
        cache = self._orders()
        for order in orders:
            connection.execute(
                "INSERT INTO orders(ordertag, intent_id, child_index, exchange, token, symbol, side,"
                " quantity,"
                " order_type, product, variety, price, trigger_price, purpose, status, underlying,"
                " reference_price, vix_baseline, created_utc, updated_utc) VALUES"
                " (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    order.ordertag,
                    order.intent_id,
                    order.child_index,
                    order.exchange.value,
                    order.token,
                    order.symbol,
                    order.side.value,
                    order.quantity,
                    order.order_type.value,
                    order.product.value,
                    order.variety.value,
                    order.price,
                    order.trigger_price,
                    order.purpose.value,
                    order.status.value,
                    order.underlying,
                    order.reference_price,
                    order.vix_baseline,
                    _ts(order.created_utc),
                    _ts(order.updated_utc),
                ),
            )
            cache.put(inserted_order(order))

    # ---------------------------------------------------------------- orders
    def _orders(self) -> OrderCache:
        return self._fresh("orders", self._order_cache)

    def _read_order(self, ordertag: str, cache: OrderCache) -> OrderRecord | None:
        row = self._connection.execute("SELECT * FROM orders WHERE ordertag = ?", (ordertag,)).fetchone()
        if row is None:
            return None
        order = _order_from_row(row)
        cache.put(order)
        return order

    def get_order(self, ordertag: str) -> OrderRecord | None:
        cache = self._orders()
        order = cache.get(ordertag)
        return order if order is not None else self._read_order(ordertag, cache)

    def order_by_broker_id(self, broker_order_id: str) -> OrderRecord | None:
        if not broker_order_id:
            return None
        cache = self._orders()
        order = cache.by_broker_id(broker_order_id)
        if order is not None:
            return order
        row = self._connection.execute(
            "SELECT * FROM orders WHERE broker_order_id = ?", (broker_order_id,)
        ).fetchone()
        if row is None:
            return None
        order = _order_from_row(row)
        cache.put(order)
        return order

    def orders_for_intent(self, intent_id: str) -> list[OrderRecord]:
        rows = self._connection.execute(
            "SELECT * FROM orders WHERE intent_id = ? ORDER BY child_index", (intent_id,)
        ).fetchall()
        return [_order_from_row(row) for row in rows]

    def _in_flight_cache(self) -> OrderCache:
        """The order cache with its in-flight set loaded (one scan per data_version or rollback; the
        writes through this store keep it whole)."""
        cache = self._orders()
        if not cache.in_flight_known:
            marks = ",".join("?" for _ in _IN_FLIGHT)
            rows = self._connection.execute(
                f"SELECT * FROM orders WHERE status IN ({marks}) ORDER BY created_utc, ordertag", _IN_FLIGHT
            ).fetchall()
            cache.load_in_flight(_order_from_row(row) for row in rows)
        return cache

    def orders_in_flight(self) -> list[OrderRecord]:
        """Orders not final, in creation order (then ordertag)."""
        return list(self._in_flight_cache().in_flight())

    def has_orders_in_flight(self) -> bool:
        """Whether any order is in flight (a backtest asks every bar)."""
        return self._in_flight_cache().has_in_flight()

    def orders_rejected_unseen(self, since: datetime) -> list[OrderRecord]:
        """REJECTED orders the broker never reported (no broker order id) created at or after `since`:
        the ones a late broker report may still prove were placed."""
        rows = self._connection.execute(
            "SELECT * FROM orders WHERE status = 'REJECTED' AND broker_order_id = '' AND created_utc >= ?"
            " ORDER BY created_utc, ordertag",
            (_ts(since),),
        ).fetchall()
        return [_order_from_row(row) for row in rows]

    def orders_awaiting_fills(self) -> list[OrderRecord]:
        """Orders the broker reports (partly) filled whose fills are not all recorded yet (a scan of
        every order once, then kept whole by the writes through this store: fills are synced after
        every report)."""
        cache = self._orders()
        if not cache.awaiting_known:
            rows = self._connection.execute(
                "SELECT * FROM orders WHERE filled_quantity < reported_filled_quantity"
                " OR (status = 'FILLED' AND filled_quantity < quantity) ORDER BY created_utc, ordertag"
            ).fetchall()
            cache.load_awaiting(_order_from_row(row) for row in rows)
        return list(cache.awaiting())

    def count_events(self, ordertag: str, source: str) -> int:
        row = self._connection.execute(
            "SELECT COUNT(*) FROM order_events WHERE ordertag = ? AND source = ? AND accepted = 1",
            (ordertag, source),
        ).fetchone()
        return int(row[0])

    def orders_matching(self, ordertags: Iterable[str], broker_order_ids: Iterable[str]) -> list[OrderRecord]:
        """Orders with one of these tags or broker order ids (a day's broker book), in creation order:
        the end-of-day reconciliation reads these instead of every order ever stored."""
        found: dict[str, OrderRecord] = {}
        for column, values in (("ordertag", ordertags), ("broker_order_id", broker_order_ids)):
            wanted = sorted({value for value in values if value})
            for first in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[first : first + _IN_CHUNK]
                marks = ",".join("?" for _ in chunk)
                rows = self._connection.execute(
                    f"SELECT * FROM orders WHERE {column} IN ({marks})", chunk
                ).fetchall()
                for row in rows:
                    order = _order_from_row(row)
                    found[order.ordertag] = order
        return sorted(found.values(), key=lambda order: (order.created_utc, order.ordertag))

    def fills_of_broker_orders(self, broker_order_ids: Iterable[str]) -> list[FillRecord]:
        """Every fill of these broker orders, whatever its day (primary-key lookups)."""
        wanted = sorted({value for value in broker_order_ids if value})
        found: list[FillRecord] = []
        for first in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[first : first + _IN_CHUNK]
            marks = ",".join("?" for _ in chunk)
            rows = self._connection.execute(
                f"SELECT * FROM fills WHERE broker_order_id IN ({marks})"
                " ORDER BY ts_utc, broker_order_id, fill_id",
                chunk,
            ).fetchall()
            found.extend(_fill_from_row(row) for row in rows)
        return found

    def all_orders(self) -> list[OrderRecord]:
        rows = self._connection.execute("SELECT * FROM orders ORDER BY created_utc, ordertag").fetchall()
        return [_order_from_row(row) for row in rows]

    def save_order(self, order: OrderRecord, event: OrderEventRecord, *, durable: bool = True) -> None:
        """Write an order's new state together with the event that caused it and an audit row
        (`durable`: see `transaction`)."""
        self.order_writes += 1
        with self.transaction(durable=durable) as connection:
            cursor = connection.execute(
                "UPDATE orders SET status=?, broker_order_id=?, unique_order_id=?, broker_status=?,"
                " reported_filled_quantity=?, filled_quantity=?, average_price=?, message=?, price=?,"
                " trigger_price=?, order_type=?, submitted_utc=?, updated_utc=? WHERE ordertag=?",
                (
                    order.status.value,
                    order.broker_order_id,
                    order.unique_order_id,
                    order.broker_status,
                    order.reported_filled_quantity,
                    order.filled_quantity,
                    order.average_price,
                    order.message,
                    order.price,
                    order.trigger_price,
                    order.order_type.value,
                    _opt_ts(order.submitted_utc),
                    _ts(order.updated_utc),
                    order.ordertag,
                ),
            )
            self._order_updated(order.ordertag, cursor.rowcount, order)
            self._insert_event(event)

    def _order_updated(self, ordertag: str, rows: int, changing: OrderRecord) -> None:
        """Keep the cache equal to the row an UPDATE of the mutable columns just wrote: merged onto
        the cached row, else read back (once); an update that matched no row leaves nothing cached."""
        cache = self._orders()
        if rows != 1:
            cache.forget(ordertag)
            return
        previous = cache.get(ordertag)
        if previous is None:
            self._read_order(ordertag, cache)
        else:
            cache.put(stored_order(previous, changing))

    def _order_filled(self, rows: int, order: OrderRecord) -> None:
        """The cache after a fill's UPDATE of filled quantity, average price and update time."""
        previous = self._orders().get(order.ordertag) if rows == 1 else None
        if previous is None:
            self._order_updated(order.ordertag, rows, order)  # read back (or forgotten)
            return
        self._order_cache.put(
            as_stored(
                replace(
                    previous,
                    filled_quantity=order.filled_quantity,
                    average_price=order.average_price,
                    updated_utc=order.updated_utc,
                )
            )
        )

    def record_event(self, event: OrderEventRecord) -> None:
        """Record an event that did not change the order (e.g. a rejected illegal transition)."""
        with self.transaction():
            self._insert_event(event)

    def _insert_event(self, event: OrderEventRecord) -> None:
        self._connection.execute(
            "INSERT INTO order_events(ordertag, ts_utc, source, previous_status, new_status, accepted,"
            " detail)"
            " VALUES (?,?,?,?,?,?,?)",
            (
                event.ordertag,
                _ts(event.ts_utc),
                event.source,
                event.previous_status.value,
                event.new_status.value,
                int(event.accepted),
                event.detail,
            ),
        )
        self.audit(
            "order_event",
            event.ordertag,
            {
                "source": event.source,
                "from": event.previous_status.value,
                "to": event.new_status.value,
                "accepted": event.accepted,
                "detail": event.detail,
            },
        )

    def order_events(self, ordertag: str) -> list[OrderEventRecord]:
        rows = self._connection.execute(
            "SELECT * FROM order_events WHERE ordertag = ? ORDER BY event_id", (ordertag,)
        ).fetchall()
        return [
            OrderEventRecord(
                ordertag=row["ordertag"],
                ts_utc=datetime.fromisoformat(row["ts_utc"]),
                source=row["source"],
                previous_status=OrderStatus(row["previous_status"]),
                new_status=OrderStatus(row["new_status"]),
                accepted=bool(row["accepted"]),
                detail=row["detail"],
            )
            for row in rows
        ]

    # ----------------------------------------------------------------- fills
    def has_fill(self, broker_order_id: str, fill_id: str) -> bool:
        known = self._private_fills()
        if known is not None:
            return (str(broker_order_id), str(fill_id)) in known
        row = self._connection.execute(
            "SELECT 1 FROM fills WHERE broker_order_id = ? AND fill_id = ?", (broker_order_id, fill_id)
        ).fetchone()
        return row is not None

    def apply_fill(self, fill: FillRecord, order: OrderRecord | None, position: PositionRecord) -> bool:
        """Insert a fill, the order's new filled quantity and the new position in one transaction.

        Returns False (and changes nothing) if this fill id was already recorded.
        """
        with self.transaction() as connection:
            held, before = self._fills_signature, (self.fill_writes, self._data_version())
            # the fill's key decides "already recorded" (any other constraint still raises)
            cursor = connection.execute(
                "INSERT INTO fills(fill_id, broker_order_id, ordertag, intent_id, exchange, token,"
                " symbol, side,"
                " product, quantity, price, charges, trade_date, ts_utc, ts_exchange, source)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT(broker_order_id, fill_id) DO NOTHING",
                (
                    fill.fill_id,
                    fill.broker_order_id,
                    fill.ordertag,
                    fill.intent_id,
                    fill.exchange.value,
                    fill.token,
                    fill.symbol,
                    fill.side.value,
                    fill.product,
                    fill.quantity,
                    fill.price,
                    fill.charges,
                    fill.trade_date.isoformat(),
                    _ts(fill.ts_utc),
                    _opt_ts(fill.ts_exchange),
                    fill.source,
                ),
            )
            if cursor.rowcount != 1:
                return False
            if self._known_fills is not None:
                self._known_fills.add((str(fill.broker_order_id), str(fill.fill_id)))
            self.fill_writes += 1
            if held is not None and held[0] == before and cursor.lastrowid is not None:
                # one more row, and the newest (rowids only grow: fills are never deleted)
                self._fills_signature = ((self.fill_writes, before[1]), (held[1][0] + 1, cursor.lastrowid))
            if order is not None:
                self.order_writes += 1
                cursor = connection.execute(
                    "UPDATE orders SET filled_quantity=?, average_price=?, updated_utc=? WHERE ordertag=?",
                    (order.filled_quantity, order.average_price, _ts(order.updated_utc), order.ordertag),
                )
                self._order_filled(cursor.rowcount, order)
            self.save_position(position)
            self.audit(
                "fill",
                fill.ordertag or fill.broker_order_id,
                {
                    "fill_id": fill.fill_id,
                    "order_id": fill.broker_order_id,
                    "intent_id": fill.intent_id,
                    "token": fill.token,
                    "side": fill.side.value,
                    "quantity": fill.quantity,
                    "price": fill.price,
                    "charges": fill.charges,
                    "source": fill.source,
                },
            )
        return True

    def fills(
        self, start: date | None = None, end: date | None = None, ordertag: str | None = None
    ) -> list[FillRecord]:
        clauses: list[str] = []
        params: list[Any] = []
        if start is not None:
            clauses.append("trade_date >= ?")
            params.append(start.isoformat())
        if end is not None:
            clauses.append("trade_date <= ?")
            params.append(end.isoformat())
        if ordertag is not None:
            clauses.append("ordertag = ?")
            params.append(ordertag)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._connection.execute(
            f"SELECT * FROM fills{where} ORDER BY ts_utc, broker_order_id, fill_id", params
        ).fetchall()
        return [_fill_from_row(row) for row in rows]

    def fills_after(self, rowid: int) -> list[FillRecord]:
        """Fills stored after the one with this rowid (fills are never deleted, so a later insert has a
        higher one), in `fills()` order: what a reader holding every fill up to it has not seen."""
        rows = self._connection.execute(
            "SELECT * FROM fills WHERE rowid > ? ORDER BY ts_utc, broker_order_id, fill_id", (rowid,)
        ).fetchall()
        return [_fill_from_row(row) for row in rows]

    # ------------------------------------------------------------- positions
    def _positions_cache(self) -> PositionCache:
        return self._fresh("positions", self._position_cache)

    def _whole_positions_cache(self) -> PositionCache:
        cache = self._positions_cache()
        if not cache.complete:
            rows = self._connection.execute("SELECT * FROM positions ORDER BY exchange, token").fetchall()
            cache.load(_position_from_row(row) for row in rows)
        return cache

    def save_position(self, position: PositionRecord) -> None:
        self.position_writes += 1
        cache = self._positions_cache()
        with self.transaction() as connection:
            connection.execute(
                "INSERT INTO positions(exchange, token, symbol, net_quantity, average_price,"
                " realised_pnl, charges,"
                " buy_quantity, sell_quantity, buy_value, sell_value, last_price, updated_utc)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(exchange, token) DO UPDATE SET"
                " symbol=excluded.symbol, net_quantity=excluded.net_quantity,"
                " average_price=excluded.average_price, realised_pnl=excluded.realised_pnl,"
                " charges=excluded.charges, buy_quantity=excluded.buy_quantity,"
                " sell_quantity=excluded.sell_quantity, buy_value=excluded.buy_value,"
                " sell_value=excluded.sell_value, last_price=excluded.last_price,"
                " updated_utc=excluded.updated_utc",
                (
                    position.exchange.value,
                    position.token,
                    position.symbol,
                    position.net_quantity,
                    position.average_price,
                    position.realised_pnl,
                    position.charges,
                    position.buy_quantity,
                    position.sell_quantity,
                    position.buy_value,
                    position.sell_value,
                    position.last_price,
                    _ts(position.updated_utc),
                ),
            )
            cache.put(position_as_stored(position))

    def position_owner(self, exchange: Exchange, token: str) -> str:
        """The strategy whose entry intent last traded this contract ("" when none did): the risk
        engine counts one strategy's legs as one position. Remembered per contract until another
        connection commits; a cold lookup searches the intents_contract index (schema v5)."""
        version = self._data_version()
        if version != self._owners_version:
            self._owners.clear()
            self._owners_version = version
        key = (exchange, token)
        owner = self._owners.get(key)
        if owner is None:
            owner = self._owners[key] = self._position_owner(exchange, token)
        return owner

    def _position_owner(self, exchange: Exchange, token: str) -> str:
        row = self._connection.execute(
            "SELECT strategy FROM intents WHERE purpose = ? AND exchange = ? AND token = ?"
            " ORDER BY created_utc DESC, rowid DESC LIMIT 1",
            (IntentPurpose.ENTRY.value, exchange.value, token),
        ).fetchone()
        return str(row["strategy"]) if row is not None else ""

    def last_entry_intent(self, exchange: Exchange, token: str) -> IntentRecord | None:
        """The contract's last entry intent (the one `position_owner` names): what a strategy restarted
        with the position open rebuilds its exits from. Searches the intents_contract index."""
        row = self._connection.execute(
            "SELECT * FROM intents WHERE purpose = ? AND exchange = ? AND token = ?"
            " ORDER BY created_utc DESC, rowid DESC LIMIT 1",
            (IntentPurpose.ENTRY.value, exchange.value, token),
        ).fetchone()
        return None if row is None else _intent_from_row(row)

    def positions(self) -> list[PositionRecord]:
        """Every position row (flat ones too), ordered by exchange and token."""
        return list(self._whole_positions_cache().all())

    def open_positions(self) -> list[PositionRecord]:
        """The positions not flat, in `positions()` order: the rows of every contract ever traded stay
        in the table, and risk asks for the open ones on every evaluation."""
        return list(self._whole_positions_cache().open())

    def position(self, exchange: Exchange, token: str) -> PositionRecord | None:
        cache = self._positions_cache()
        key = (exchange, token)
        held = cache.get(key)
        if held is not None or cache.complete:
            return held
        row = self._connection.execute(
            "SELECT * FROM positions WHERE exchange = ? AND token = ?", (exchange.value, token)
        ).fetchone()
        if row is None:
            return None
        position = _position_from_row(row)
        cache.put(position)
        return position

    # ------------------------------------------------ funds, risk, anomalies
    def record_funds(self, funds: Funds, source: str) -> None:
        with self.transaction() as connection:
            connection.execute(
                "INSERT INTO funds_snapshots(ts_utc, source, net, available_cash, utilised_margin,"
                " realised_m2m,"
                " unrealised_m2m) VALUES (?,?,?,?,?,?,?)",
                (
                    _ts(self._clock.now_utc()),
                    source,
                    funds.net,
                    funds.available_cash,
                    funds.utilised_margin,
                    funds.realised_m2m,
                    funds.unrealised_m2m,
                ),
            )

    def latest_funds(self) -> Funds | None:
        row = self._connection.execute(
            "SELECT * FROM funds_snapshots ORDER BY snapshot_id DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        return Funds(
            net=row["net"],
            available_cash=row["available_cash"],
            utilised_margin=row["utilised_margin"],
            realised_m2m=row["realised_m2m"],
            unrealised_m2m=row["unrealised_m2m"],
        )

    def record_risk_decision(self, decision: RiskDecision) -> None:
        with self.transaction() as connection:
            connection.execute(
                "INSERT INTO risk_decisions(intent_id, ts_utc, approved, approved_quantity, risk_state,"
                " reasons,"
                " trace_id) VALUES (?,?,?,?,?,?,?)",
                (
                    decision.intent_id,
                    _ts(decision.ts_utc),
                    int(decision.approved),
                    decision.approved_quantity,
                    decision.risk_state.value,
                    json.dumps(list(decision.reasons)),
                    decision.trace_id,
                ),
            )
            self.audit(
                "risk_decision",
                decision.intent_id,
                {
                    "approved": decision.approved,
                    "approved_quantity": decision.approved_quantity,
                    "risk_state": decision.risk_state.value,
                    "reasons": list(decision.reasons),
                    "trace_id": decision.trace_id,
                },
            )

    def risk_decisions(self, intent_id: str) -> list[dict[str, Any]]:
        rows = self._connection.execute(
            "SELECT * FROM risk_decisions WHERE intent_id = ? ORDER BY decision_id", (intent_id,)
        ).fetchall()
        return [dict(row) for row in rows]

    def record_anomaly(self, kind: str, detail: Mapping[str, Any]) -> None:
        """Malformed or unexpected broker data: kept and audited, never applied silently."""
        with self.transaction() as connection:
            body = canonical_json(detail)
            connection.execute(
                "INSERT INTO broker_anomalies(ts_utc, kind, detail) VALUES (?,?,?)",
                (_ts(self._clock.now_utc()), kind, body),
            )
            self.audit("anomaly", kind, detail)

    def anomalies(self) -> list[dict[str, Any]]:
        rows = self._connection.execute("SELECT * FROM broker_anomalies ORDER BY anomaly_id").fetchall()
        return [{**dict(row), "detail": json.loads(row["detail"])} for row in rows]

    # -------------------------------------------------------- reconciliation
    def record_reconciliation(self, kind: str, clean: bool, diff: list[str]) -> int:
        with self.transaction() as connection:
            cursor = connection.execute(
                "INSERT INTO reconciliations(ts_utc, kind, clean, diff) VALUES (?,?,?,?)",
                (_ts(self._clock.now_utc()), kind, int(clean), json.dumps(diff)),
            )
            reconciliation_id = int(cursor.lastrowid or 0)
            self.audit("reconciliation", kind, {"id": reconciliation_id, "clean": clean, "diff": diff})
        return reconciliation_id

    def unacknowledged_mismatches(self) -> list[ReconciliationRecord]:
        rows = self._connection.execute(
            "SELECT * FROM reconciliations WHERE clean = 0 AND acknowledged_utc IS NULL ORDER BY"
            " reconciliation_id"
        ).fetchall()
        return [_reconciliation_from_row(row) for row in rows]

    def latest_reconciliation(self) -> ReconciliationRecord | None:
        row = self._connection.execute(
            "SELECT * FROM reconciliations ORDER BY reconciliation_id DESC LIMIT 1"
        ).fetchone()
        return None if row is None else _reconciliation_from_row(row)

    def acknowledge_mismatches(self, operator: str) -> int:
        with self.transaction() as connection:
            pending = self.unacknowledged_mismatches()
            for record in pending:
                connection.execute(
                    "UPDATE reconciliations SET acknowledged_utc = ?, acknowledged_by = ? WHERE"
                    " reconciliation_id = ?",
                    (_ts(self._clock.now_utc()), operator, record.reconciliation_id),
                )
                self.audit("reconciliation_ack", str(record.reconciliation_id), {"by": operator})
        return len(pending)


def fill_table_key(fill: FillRecord) -> tuple[str, str, str]:
    """Where a fill sorts in `Store.fills()` (ORDER BY ts_utc, broker_order_id, fill_id): the stored
    UTC text of its time, then its ids (SQLite compares TEXT bytewise; UTF-8 keeps code point order)."""
    return _ts(fill.ts_utc), fill.broker_order_id, fill.fill_id


def _intent_from_row(row: sqlite3.Row) -> IntentRecord:
    return IntentRecord(
        intent_id=row["intent_id"],
        content_hash=row["content_hash"],
        strategy=row["strategy"],
        exchange=Exchange(row["exchange"]),
        token=row["token"],
        symbol=row["symbol"],
        side=Side(row["side"]),
        quantity=row["quantity"],
        purpose=IntentPurpose(row["purpose"]),
        order_type=OrderType(row["order_type"]),
        product=ProductType(row["product"]),
        limit_price=row["limit_price"],
        trigger_price=row["trigger_price"],
        created_utc=datetime.fromisoformat(row["created_utc"]),
        status=row["status"],
        reason=row["reason"],
        underlying=row["underlying"],
        underlying_reference_price=row["underlying_reference_price"],
        trace_id=row["trace_id"],
    )


def _order_from_row(row: sqlite3.Row) -> OrderRecord:
    return OrderRecord(
        ordertag=row["ordertag"],
        intent_id=row["intent_id"],
        child_index=row["child_index"],
        exchange=Exchange(row["exchange"]),
        token=row["token"],
        symbol=row["symbol"],
        side=Side(row["side"]),
        quantity=row["quantity"],
        order_type=OrderType(row["order_type"]),
        product=ProductType(row["product"]),
        variety=Variety(row["variety"]),
        price=row["price"],
        trigger_price=row["trigger_price"],
        purpose=IntentPurpose(row["purpose"]),
        status=OrderStatus(row["status"]),
        created_utc=datetime.fromisoformat(row["created_utc"]),
        updated_utc=datetime.fromisoformat(row["updated_utc"]),
        broker_order_id=row["broker_order_id"],
        unique_order_id=row["unique_order_id"],
        broker_status=row["broker_status"],
        reported_filled_quantity=row["reported_filled_quantity"],
        filled_quantity=row["filled_quantity"],
        average_price=row["average_price"],
        message=row["message"],
        underlying=row["underlying"],
        reference_price=row["reference_price"],
        submitted_utc=_parse_ts(row["submitted_utc"]),
        vix_baseline=row["vix_baseline"],
    )


def _fill_from_row(row: sqlite3.Row) -> FillRecord:
    return FillRecord(
        fill_id=row["fill_id"],
        broker_order_id=row["broker_order_id"],
        ordertag=row["ordertag"],
        intent_id=row["intent_id"],
        exchange=Exchange(row["exchange"]),
        token=row["token"],
        symbol=row["symbol"],
        side=Side(row["side"]),
        quantity=row["quantity"],
        price=row["price"],
        trade_date=date.fromisoformat(row["trade_date"]),
        ts_utc=datetime.fromisoformat(row["ts_utc"]),
        product=row["product"],
        charges=row["charges"],
        ts_exchange=_parse_ts(row["ts_exchange"]),
        source=row["source"],
    )


def _position_from_row(row: sqlite3.Row) -> PositionRecord:
    return PositionRecord(
        exchange=Exchange(row["exchange"]),
        token=row["token"],
        symbol=row["symbol"],
        net_quantity=row["net_quantity"],
        average_price=row["average_price"],
        realised_pnl=row["realised_pnl"],
        charges=row["charges"],
        buy_quantity=row["buy_quantity"],
        sell_quantity=row["sell_quantity"],
        buy_value=row["buy_value"],
        sell_value=row["sell_value"],
        updated_utc=datetime.fromisoformat(row["updated_utc"]),
        last_price=row["last_price"],
    )


def _reconciliation_from_row(row: sqlite3.Row) -> ReconciliationRecord:
    return ReconciliationRecord(
        reconciliation_id=row["reconciliation_id"],
        ts_utc=datetime.fromisoformat(row["ts_utc"]),
        kind=row["kind"],
        clean=bool(row["clean"]),
        diff=list(json.loads(row["diff"])),
        acknowledged_utc=_parse_ts(row["acknowledged_utc"]),
        acknowledged_by=row["acknowledged_by"],
    )


def _archive_from_row(row: sqlite3.Row) -> AuditArchiveRecord:
    return AuditArchiveRecord(
        first_seq=row["first_seq"],
        last_seq=row["last_seq"],
        start_previous_hash=row["start_previous_hash"],
        end_hash=row["end_hash"],
        rows=row["rows"],
        file_name=row["file_name"],
        file_sha256=row["file_sha256"],
        cutoff_utc=datetime.fromisoformat(row["cutoff_utc"]),
        created_utc=datetime.fromisoformat(row["created_utc"]),
        archive_id=row["archive_id"],
    )
