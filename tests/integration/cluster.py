"""Real processes for end-to-end tests: a cloud on an ephemeral port, gateways, simulators."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from retailedge.demo_config import write_gateway_config
from retailedge.processes import Child, retailedge_command, run_checked, start_child


@dataclass
class Cloud:
    url: str
    operator_key: str
    data_dir: Path
    database_args: list[str]
    child: Child

    def api(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.operator_key}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10.0)

    def create_gateway(self, gateway_id: str) -> str:
        out = run_checked(
            retailedge_command(
                "cloud", "create-gateway", "--id", gateway_id, "--json", *self.database_args
            )
        )
        token: str = json.loads(out)["token"]
        return token


def start_cloud(tmp: Path, port: int, database_url: str | None = None) -> Cloud:
    data_dir = tmp / "cloud"
    args = ["--data-dir", str(data_dir)]
    if database_url is not None:
        args += ["--database-url", database_url]
    run_checked(retailedge_command("cloud", "migrate", *args))
    operator = json.loads(
        run_checked(
            retailedge_command(
                "cloud", "create-user", "--name", "ops", "--role", "operator", "--json", *args
            )
        )
    )
    child = start_child(
        "cloud",
        retailedge_command("cloud", "serve", "--port", str(port), *args),
        tmp / "logs" / "cloud.log",
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: _healthy(url, child), timeout_s=30, what="cloud /healthz")
    return Cloud(url, operator["api_key"], data_dir, args, child)


def _healthy(url: str, child: Child) -> bool:
    child.ensure_running()
    try:
        return httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False


def start_gateway(
    tmp: Path,
    cloud: Cloud,
    gateway_id: str,
    serial_port: Path | None,
    template: str = "van-gateway.toml",
) -> tuple[Child, Path]:
    token = cloud.create_gateway(gateway_id)
    gateway_dir = tmp / "gateways" / gateway_id
    config = write_gateway_config(
        template,
        gateway_dir / "gateway.toml",
        data_dir=gateway_dir,
        cloud_url=cloud.url,
        token=token,
        serial_port=serial_port,
    )
    child = start_child(
        f"gateway {gateway_id}",
        retailedge_command("gateway", "run", "--config", str(config)),
        tmp / "logs" / f"gateway-{gateway_id}.log",
    )
    return child, gateway_dir


def gateway_status(gateway_dir: Path) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = json.loads((gateway_dir / "status.json").read_text())
        return loaded
    except (OSError, ValueError):
        return {}


def wait_until(condition: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.1)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
