"""A second gateway on the same data folder refuses to start instead of reusing seqs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge.data_dir_lock import DataDirInUseError, data_dir_lock

HOLD_LOCK = """
import sys, time
from pathlib import Path
from edge.data_dir_lock import data_dir_lock
with data_dir_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(60)
"""


def test_second_holder_is_refused_naming_the_first(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with (
            pytest.raises(DataDirInUseError, match=f"pid {holder.pid}"),
            data_dir_lock(tmp_path),
        ):
            pass
    finally:
        holder.kill()
        holder.wait()
    with data_dir_lock(tmp_path):  # released when its holder died
        pass


def test_lock_is_released_on_exit(tmp_path: Path) -> None:
    with data_dir_lock(tmp_path):
        pass
    with data_dir_lock(tmp_path):
        pass
