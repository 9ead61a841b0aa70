"""The README's run command, as a user runs it, with a duration so it ends by itself."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_demo_reports_no_loss_and_keeps_its_data_folder(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "retailedge",
            "demo",
            "--duration",
            "8",
            "--json",
            "--data-dir",
            str(data_dir),
            "--port",
            "0",
            "--gps-rate",
            "5",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    assert set(summary) == {"produced", "acknowledged", "stored", "lost"}
    produced = summary["produced"]["position"]
    assert produced >= 30
    assert summary["acknowledged"] == {"position": produced}
    assert summary["stored"]["position"] == produced
    assert summary["lost"] == 0
    assert "[demo] cloud on http://127.0.0.1:" in completed.stderr
    assert "stored positions" in completed.stderr
    assert (data_dir / "logs" / "gateway-van-01.log").exists()
