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
) -> dict[str, Any]:
    """A JSON-ready health report. ``produced`` and ``acknowledged`` count since process start."""
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
            "next_seq": buffer.next_seq,
            "last_acked_seq": buffer.last_acked_seq,
            "pending_commit": pending,
        },
        "produced": dict(sorted(produced.items())),
        "acknowledged": dict(sorted(uplink.acknowledged.items())),
        "uplink": {
            "state": uplink.state,
            "last_ack_at": None if uplink.last_ack_at is None else format_time(uplink.last_ack_at),
            "last_ack_seq": uplink.last_ack_seq,
            "batches_acked": uplink.batches_acked,
            "consecutive_failures": uplink.consecutive_failures,
            "failed_attempts": uplink.failed_attempts,
            "last_error": uplink.last_error,
            "rejected": uplink.rejected,
            "duplicates": uplink.duplicates,
            "malformed_batches": uplink.malformed_batches,
            "batch_limit": batch_limit,
        },
        "connectors": {name: dict(snap) for name, snap in sorted(connectors.items())},
    }


def write_status(path: Path, snapshot: Mapping[str, Any]) -> None:
    """Replace ``path`` atomically, so a reader never sees a half-written file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(snapshot, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
