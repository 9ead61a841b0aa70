"""One gateway per data folder: an exclusive lock held for the gateway's lifetime.

Two gateways on one buffer would hand out the same sequence numbers twice; the second one
must refuse to start instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

LOCK_FILE = "gateway.lock"


class DataDirInUseError(RuntimeError):
    """Another process holds the data folder's lock."""


@contextlib.contextmanager
def data_dir_lock(data_dir: Path) -> Iterator[None]:
    """Hold ``data_dir``'s lock; :class:`DataDirInUseError` names the holder if it is taken."""
    path = data_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise DataDirInUseError(
                f"another gateway (pid {holder}) is running with data_dir {data_dir}; "
                "stop it first, or give this gateway its own data_dir"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock
