"""The outbox database schema, as migrations that run once each, in order, in one transaction."""

from __future__ import annotations

from typing import Final

from edge.eviction import TELEMETRY, is_business
from firmware_bridge.records import RecordKind

_BUSINESS_SQL = ", ".join(f"'{kind.value}'" for kind in RecordKind if is_business(kind.value))

# Append, never edit.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
        "INSERT INTO meta (key, value) VALUES ('next_seq', 1), ('last_acked_seq', 0)",
        """CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            device_id TEXT NOT NULL,
            created_at REAL NOT NULL,
            payload TEXT NOT NULL
        )""",
    ),
    (
        # 0 = business (never evicted), 1 = telemetry, 2 = telemetry that survived thinning.
        "ALTER TABLE outbox ADD COLUMN evictable INTEGER NOT NULL DEFAULT 0",
        f"UPDATE outbox SET evictable = {TELEMETRY} WHERE kind NOT IN ({_BUSINESS_SQL})",
        # Partial: business rows cost no index entry; eviction finds the oldest telemetry
        # without walking past business records.
        "CREATE INDEX outbox_evictable ON outbox (evictable, seq) WHERE evictable > 0",
        """CREATE TABLE IF NOT EXISTS quarantine (
            seq INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL,
            reason TEXT NOT NULL,
            quarantined_at REAL NOT NULL
        )""",
    ),
    (
        # A producer's idempotency key, written in the transaction that stored its records:
        # a redelivered message is answered with the seqs it got the first time.
        """CREATE TABLE dedupe_keys (
            key TEXT PRIMARY KEY,
            first_seq INTEGER NOT NULL,
            count INTEGER NOT NULL,
            created_at REAL NOT NULL
        ) WITHOUT ROWID""",
        # Small runtime state that must survive a restart (e.g. cold-chain probes), written
        # in the transaction of the records it goes with.
        """CREATE TABLE edge_state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at REAL NOT NULL
        ) WITHOUT ROWID""",
    ),
)

EVICTED_KEY_PREFIX: Final = "evicted:"
"""meta rows ``evicted:<kind>`` count evictions per kind over the buffer's life."""
