"""A real victoria-metrics process (InfluxDB 2 write API) on a free loopback port."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from retailedge.processes import free_port

BINARY = "/usr/bin/victoria-metrics"


@dataclass
class Victoria:
    port: int
    data: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                BINARY,
                f"-httpListenAddr=127.0.0.1:{self.port}",
                f"-storageDataPath={self.data}",
                "-retentionPeriod=100y",
                # Millisecond storage: samples of one series at one timestamp collapse.
                "-dedup.minScrapeInterval=1ms",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("victoria-metrics did not become healthy in 15 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=15)
            self.process = None

    def export(self, match: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], list[Any]]:
        """Every sample of series matching ``match``: {(name, labels): [(ms, value), ...]}."""
        httpx.post(f"{self.url}/internal/force_flush", timeout=10)
        response = httpx.post(f"{self.url}/api/v1/export", data={"match[]": match}, timeout=10)
        response.raise_for_status()
        out: dict[tuple[str, tuple[tuple[str, str], ...]], list[Any]] = {}
        for line in response.text.splitlines():
            item = json.loads(line)
            labels = dict(item["metric"])
            name = labels.pop("__name__")
            key = (name, tuple(sorted(labels.items())))
            out[key] = list(zip(item["timestamps"], item["values"], strict=True))
        return out


@contextmanager
def victoria_metrics(tmp_path: Path) -> Iterator[Victoria]:
    if not (shutil.which(BINARY) or os.path.exists(BINARY)):
        if os.environ.get("RETAILEDGE_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{BINARY} is missing and RETAILEDGE_REQUIRE_SERVICES=1")
        pytest.skip(f"{BINARY} not installed (apt-get install victoria-metrics)")
    server = Victoria(port=free_port(), data=tmp_path / "vm-data")
    server.start()
    try:
        yield server
    finally:
        server.stop()
