"""A tiny side file that keeps sequence numbers increasing even when the buffer file is lost.

The buffer persists ``next_seq`` in its own database, which is enough across restarts. If that
database is corrupt and moved aside, a fresh one would start again at 1 and reuse seqs the cloud
already holds. So before committing any seq above the reserved mark, the buffer reserves a block
(``<buffer file>.seq.json`` = ``{"reserved": N}``, written atomically and fsynced). A fresh buffer
starts after the reservation: seqs in between are never assigned and the cloud reports them as a
gap, which is the truth (records in the lost file did not arrive). One small write per block.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

BLOCK: Final = 10_000


def seq_file_for(buffer_path: Path) -> Path:
    return buffer_path.with_name(buffer_path.name + ".seq.json")


def read_reserved(path: Path) -> int:
    """The highest reserved seq, 0 when the file is absent. An unreadable file is reported and
    treated as absent: the buffer's own ``next_seq`` still protects a healthy database."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return 0
    except (OSError, ValueError) as exc:
        log.error("cannot read the seq reservation %s (%s); ignoring it", path, exc)
        return 0
    value = data.get("reserved") if isinstance(data, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        log.error("seq reservation %s holds no valid 'reserved' number; ignoring it", path)
        return 0
    return value


def write_reserved(path: Path, reserved: int) -> None:
    """Replace the reservation atomically and durably."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(json.dumps({"reserved": reserved}) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    # Makes a rename durable; some filesystems refuse fsync on directories, which is harmless.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
