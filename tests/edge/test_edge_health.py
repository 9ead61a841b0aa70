from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from edge.buffer import BufferStats
from edge.health import health_snapshot, write_status
from edge.uplink import UplinkStats

NOW = datetime(2026, 3, 1, 9, 0, 10, tzinfo=UTC)
STARTED = datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)


def test_snapshot_holds_buffer_uplink_connectors_and_per_kind_counts() -> None:
    uplink = UplinkStats(
        acknowledged=Counter({"position": 5, "scan": 1}),
        batches_sent=6,
        batches_acked=2,
        consecutive_failures=1,
        failed_attempts=3,
        rejected_by_cloud=1,
        quarantined=2,
        last_error="500: internal: boom",
        last_ack_at=datetime(2026, 3, 1, 9, 0, 8, tzinfo=UTC),
        last_ack_seq=6,
        clock_skew_s=-0.25,
        heartbeats_sent=4,
        last_heartbeat_at=datetime(2026, 3, 1, 9, 0, 5, tzinfo=UTC),
        state="backing_off",
    )
    snapshot = health_snapshot(
        gateway_id="van-01",
        now=NOW,
        started_at=STARTED,
        buffer=BufferStats(
            4,
            900,
            NOW.timestamp() - 2.5,
            11,
            6,
            evicted={"position": 7, "measurement": 2},
            quarantined=2,
            max_records=10_000,
            max_bytes=5_000_000,
            dedupe_keys=40,
            replayed=3,
        ),
        pending=3,
        produced=Counter({"scan": 1, "position": 9}),
        uplink=uplink,
        batch_limit=500,
        connectors={"gps": {"status": "connected", "counters": {"checksum": 2}}},
        recovery={"moved_aside": ["/data/outbox.db.corrupt-1"], "at": "2026-03-01T09:00:00Z"},
        local_api_url="http://127.0.0.1:8700",
        coldchain={"zones": ["chiller-1"], "active": [], "probes": {}},
        thresholds={"thresholds": [], "active": [], "probes": {}},
    )
    assert snapshot == {
        "gateway_id": "van-01",
        "time": "2026-03-01T09:00:10Z",
        "started_at": "2026-03-01T09:00:00Z",
        "uptime_s": 10.0,
        "buffer": {
            "records": 4,
            "bytes": 900,
            "oldest_age_s": 2.5,
            "growth_per_min": None,
            "max_records": 10_000,
            "max_bytes": 5_000_000,
            "next_seq": 11,
            "last_acked_seq": 6,
            "pending_commit": 3,
            "dedupe_keys": 40,
            "replayed": 3,
        },
        "produced": {"position": 9, "scan": 1},
        "acknowledged": {"position": 5, "scan": 1},
        "evicted": {"measurement": 2, "position": 7},
        "quarantined": 2,
        "uplink": {
            "state": "backing_off",
            "last_ack_at": "2026-03-01T09:00:08Z",
            "last_ack_seq": 6,
            "consecutive_failures": 1,
            "last_error": "500: internal: boom",
            "batches_sent": 6,
            "batches_acked": 2,
            "failed_attempts": 3,
            "clock_skew_s": -0.25,
            "rejected_by_cloud": 1,
            "duplicates": 0,
            "malformed_batches": 0,
            "batch_limit": 500,
            "heartbeats_sent": 4,
            "last_heartbeat_at": "2026-03-01T09:00:05Z",
        },
        "connectors": {"gps": {"status": "connected", "counters": {"checksum": 2}}},
        "recovery": {"moved_aside": ["/data/outbox.db.corrupt-1"], "at": "2026-03-01T09:00:00Z"},
        "local_api_url": "http://127.0.0.1:8700",
        "coldchain": {"zones": ["chiller-1"], "active": [], "probes": {}},
        "thresholds": {"thresholds": [], "active": [], "probes": {}},
    }
    json.dumps(snapshot)  # JSON-ready as it is


def test_empty_buffer_has_no_oldest_age_and_nothing_happened() -> None:
    snapshot = health_snapshot(
        gateway_id="g",
        now=NOW,
        started_at=STARTED,
        buffer=BufferStats(0, 0, None, 1, 0),
        pending=0,
        produced={},
        uplink=UplinkStats(),
        batch_limit=1000,
        connectors={},
    )
    assert snapshot["buffer"]["oldest_age_s"] is None
    assert (snapshot["produced"], snapshot["acknowledged"], snapshot["evicted"]) == ({}, {}, {})
    assert (snapshot["quarantined"], snapshot["recovery"], snapshot["local_api_url"]) == (
        0,
        None,
        None,
    )
    assert snapshot["uplink"]["clock_skew_s"] is None


def test_status_file_is_replaced_atomically(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    write_status(path, {"a": 1})
    write_status(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["status.json"]
