from __future__ import annotations

from pydantic import Field

from optbot.config.sections.base import Section


class PersistenceSettings(Section):
    """The state database's write-ahead log (issue 15: intent -> wire p99 <= 1 ms with the journal's
    commit in it). Owned by optbot.persistence.

    SQLite checkpoints the WAL inside the COMMIT that crosses its threshold (the pages written back
    into the database file and that file fsynced while an order waits): about 2 % of the order
    journal's commits took 1.4-1.6 ms instead of 0.26 ms. A session's store instead checkpoints from
    a thread of its own; the commit's own checkpoint stays as a backstop that bounds the WAL."""

    wal_checkpoint_pages: int = Field(
        default=1000,
        ge=1,
        description="a session's checkpointer thread checkpoints (PASSIVE) past this many WAL pages",
    )
    wal_checkpoint_poll_seconds: float = Field(
        default=0.05, gt=0, description="how often the checkpointer thread looks at the WAL's length"
    )
    wal_backstop_pages: int = Field(
        default=10_000,
        ge=1,
        description="a commit checkpoints itself past this many WAL pages (only if the thread falls behind)",
    )
    wal_size_limit_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=0,
        description="journal_size_limit: a WAL file a burst left longer is cut back on its reuse",
    )
