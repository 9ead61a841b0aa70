"""Start-up check of the buffer file: a corrupt one is moved aside (kept) and reported loudly."""

from __future__ import annotations

import logging
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge.seq_file import fsync_dir
from firmware_bridge.wire import format_time

log = logging.getLogger(__name__)

SIDE_SUFFIXES = ("", "-wal", "-shm")


@dataclass(frozen=True, slots=True)
class Recovery:
    reason: str
    moved_aside: tuple[Path, ...]
    at: datetime

    def to_health(self) -> dict[str, Any]:
        return {
            "moved_aside": [str(path) for path in self.moved_aside],
            "at": format_time(self.at),
            "reason": self.reason,
        }


def find_corruption(path: Path) -> str | None:
    """Why the SQLite database at ``path`` cannot be trusted, or None (an absent file is fine)."""
    if not path.exists():
        return None
    wal = path.with_name(path.name + "-wal")
    if path.stat().st_size == 0 and (not wal.exists() or wal.stat().st_size == 0):
        return "the file is empty (truncated to 0 bytes)"
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    problems = [str(row[0]) for row in rows]
    if problems != ["ok"]:
        return "quick_check: " + "; ".join(problems[:5])
    return None


def move_aside(path: Path, now: datetime) -> tuple[Path, ...]:
    """Rename the database and its -wal/-shm to ``<name>.corrupt-<UTC time>[-wal|-shm]``."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = f"{path.name}.corrupt-{stamp}"
    n = 1
    while any(path.with_name(base + suffix).exists() for suffix in SIDE_SUFFIXES):
        n += 1
        base = f"{path.name}.corrupt-{stamp}-{n}"
    moved = []
    for suffix in SIDE_SUFFIXES:
        source = path.with_name(path.name + suffix)
        if source.exists():
            target = path.with_name(base + suffix)
            os.replace(source, target)
            moved.append(target)
    fsync_dir(path.parent)
    return tuple(moved)


def recover(path: Path, reason: str, now: datetime | None = None) -> Recovery:
    """Move the corrupt database at ``path`` aside and say so at ERROR level."""
    at = now or datetime.now(UTC)
    moved = move_aside(path, at)
    log.error(
        "BUFFER CORRUPT: %s cannot be used (%s). Moved it aside to %s and started an empty "
        "buffer; records that were in it will not be sent (the cloud will report their seqs as a "
        "gap). Keep the file for inspection.",
        path,
        reason,
        ", ".join(str(p) for p in moved) or "(nothing to move)",
    )
    return Recovery(reason, moved, at)


def recover_if_corrupt(path: Path, now: datetime | None = None) -> Recovery | None:
    reason = find_corruption(path)
    return None if reason is None else recover(path, reason, now)
