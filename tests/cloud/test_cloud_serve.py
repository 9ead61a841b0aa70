"""The real thing: `python -m cloud` as a uvicorn subprocess, spoken to over TCP."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cloud.cloud_helpers import batch, positions

pytestmark = pytest.mark.integration
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "cloud", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def server(tmp_path: Path, free_port: int) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    command = [sys.executable, "-m", "cloud", "serve", "--port", str(free_port)]
    process = subprocess.Popen(
        [*command, "--data-dir", str(tmp_path)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{free_port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not come up in 20 s"
            time.sleep(0.1)
        yield base, process
    finally:
        if process.poll() is None:
            process.terminate()
            process.communicate(timeout=10)


def test_served_over_tcp(server: tuple[str, subprocess.Popen[str]], tmp_path: Path) -> None:
    base, process = server
    admin = json.loads(
        cli(
            "create-user",
            "--name",
            "root",
            "--role",
            "admin",
            "--json",
            "--data-dir",
            str(tmp_path),
        )
    )
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin['api_key']}"}) as c:
        token = c.post("/api/v1/gateways", json={"id": "gw-tcp"}).json()["token"]
        body = gzip.compress(json.dumps(batch("gw-tcp", 1, 20, positions("van-1", 1, 20))).encode())
        response = httpx.post(
            f"{base}/api/v1/ingest",
            content=body,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
            },
        )
        assert response.status_code == 200, response.text
        assert response.json()["ack_seq"] == 20
        assert c.get("/api/v1/stats").json()["stored"]["position"] == 20
        assert c.get("/api/v1/vehicles/van-1/position").json()["seq"] == 20
    duplicate = subprocess.run(
        [
            sys.executable,
            "-m",
            "cloud",
            "create-gateway",
            "--id",
            "gw-tcp",
            "--data-dir",
            str(tmp_path),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (duplicate.returncode, duplicate.stderr) == (
        1,
        "Error: gateway 'gw-tcp' already exists; choose another id\n",
    )
    process.terminate()
    output, _ = process.communicate(timeout=10)
    assert f"database: sqlite+aiosqlite:///{(tmp_path / 'cloud.db').resolve()}" in output
    assert f"listening on {base}" in output
