"""Gateway health: a pure snapshot builder and an atomic status-file writer.

The same snapshot travels in every batch's ``health`` and lands in ``<data_dir>/status.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from edge.buffer import BufferStats
from edge.uplink import UplinkStats
from firmware_bridge.wire import format_time


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else format_time(moment)


def uplink_health(uplink: UplinkStats, batch_limit: int) -> dict[str, Any]:
    return {
        "state": uplink.state,
        "last_ack_at": _time(uplink.last_ack_at),
        "last_ack_seq": uplink.last_ack_seq,
        "consecutive_failures": uplink.consecutive_failures,
        "last_error": uplink.last_error,
        "batches_sent": uplink.batches_sent,
        "batches_acked": uplink.batches_acked,
        "failed_attempts": uplink.failed_attempts,
        "clock_skew_s": uplink.clock_skew_s,
        "rejected_by_cloud": uplink.rejected_by_cloud,
        "duplicates": uplink.duplicates,
        "malformed_batches": uplink.malformed_batches,
        "batch_limit": batch_limit,
        "heartbeats_sent": uplink.heartbeats_sent,
        "last_heartbeat_at": _time(uplink.last_heartbeat_at),
    }


def health_snapshot(
    *,
    gateway_id: str,
    now: datetime,
    started_at: datetime,
    buffer: BufferStats,
    pending: int,
    produced: Mapping[str, int],
    uplink: UplinkStats,
    batch_limit: int,
    connectors: Mapping[str, Mapping[str, Any]],
    recovery: Mapping[str, Any] | None = None,
    local_api_url: str | None = None,
    coldchain: Mapping[str, Any] | None = None,
    thresholds: Mapping[str, Any] | None = None,
    backlog_growth_per_min: float | None = None,
) -> dict[str, Any]:
    """A JSON-ready health report. ``produced`` and ``acknowledged`` count since process start;
    ``evicted`` and ``quarantined`` are cumulative over the buffer file's life; ``coldchain``
    is the cold-chain runner's snapshot (zones, active alarms, per-probe state), ``thresholds``
    the device-profile thresholds' (the same, per device/quantity); ``backlog_growth_per_min``
    how fast the buffer's depth changed over the last minutes (None until a minute is seen)."""
    oldest_age = (
        None
        if buffer.oldest_created_at is None
        else round(max(0.0, now.timestamp() - buffer.oldest_created_at), 3)
    )
    return {
        "gateway_id": gateway_id,
        "time": format_time(now),
        "started_at": format_time(started_at),
        "uptime_s": round((now - started_at).total_seconds(), 3),
        "buffer": {
            "records": buffer.records,
            "bytes": buffer.bytes,
            "oldest_age_s": oldest_age,
            "growth_per_min": backlog_growth_per_min,
            "max_records": buffer.max_records,
            "max_bytes": buffer.max_bytes,
            "next_seq": buffer.next_seq,
            "last_acked_seq": buffer.last_acked_seq,
            "pending_commit": pending,
            "dedupe_keys": buffer.dedupe_keys,
            "replayed": buffer.replayed,
        },
        "produced": dict(sorted(produced.items())),
        "acknowledged": dict(sorted(uplink.acknowledged.items())),
        "evicted": dict(sorted(buffer.evicted.items())),
        "quarantined": buffer.quarantined,
        "uplink": uplink_health(uplink, batch_limit),
        "connectors": {name: dict(snap) for name, snap in sorted(connectors.items())},
        "recovery": None if recovery is None else dict(recovery),
        "local_api_url": local_api_url,
        "coldchain": None if coldchain is None else dict(coldchain),
        "thresholds": None if thresholds is None else dict(thresholds),
    }


def write_status(path: Path, snapshot: Mapping[str, Any]) -> None:
    """Replace ``path`` atomically, so a reader never sees a half-written file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(snapshot, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
