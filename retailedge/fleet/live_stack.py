"""``simulate live-fleet --start-cloud``: a cloud and a fleet gateway on this machine, as real
processes (like ``retailedge demo``), with the example Shanghai network imported and its stores
open around the clock, so a live fleet run needs nothing but an MQTT broker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx

from retailedge.demo_business import default_catalogue_dir, setup_network
from retailedge.demo_config import write_gateway_config
from retailedge.fleet.live_setup import INSTANT_KINDS
from retailedge.processes import (
    Child,
    DemoProcessError,
    free_port,
    retailedge_command,
    run_checked,
    start_child,
    wait_for_http,
)
from simulators.mqtt_devices import Broker

GATEWAY_ID: Final = "fleet-01"
GATEWAY_STOP_TIMEOUT_S: Final = 60.0
SUBSCRIBE_TIMEOUT_S: Final = 60.0

Say = Callable[[str], None]


@dataclass(frozen=True)
class LocalStack:
    cloud_url: str
    admin_key: str
    channel_keys: dict[str, str]


@dataclass(frozen=True)
class StackSettings:
    data_dir: Path
    broker: Broker
    handling_min: float
    dispatch_interval_s: float


def _gateway_connected(gateway_dir: Path) -> bool:
    try:
        status = json.loads((gateway_dir / "status.json").read_text())
    except (OSError, ValueError):
        return False
    connector = status.get("connectors", {}).get("fleet-mqtt", {})
    return bool(connector.get("status") == "connected")


async def _open_around_the_clock(admin: httpx.AsyncClient) -> None:
    """The simulated stores take instant orders whatever the hour of the run."""
    page = (await admin.get("/api/v1/nodes", params={"limit": 500})).json()
    for node in page["items"]:
        if node["kind"] in INSTANT_KINDS and node.get("opening_hours") is not None:
            body = node | {"opening_hours": None}
            answer = await admin.put(f"/api/v1/nodes/{node['id']}", json=body)
            if answer.status_code not in (200, 201):
                raise DemoProcessError(f"opening {node['id']} around the clock: {answer.text}")


@contextlib.asynccontextmanager
async def local_stack(settings: StackSettings, say: Say) -> AsyncIterator[LocalStack]:
    """The cloud and the fleet gateway, stopped in order on exit (the gateway drains first)."""
    cloud_dir = settings.data_dir / "cloud"
    logs = settings.data_dir / "logs"
    created = run_checked(
        retailedge_command(
            "cloud", "create-user", "--name", "live-fleet-admin", "--role", "admin", "--json",
            "--data-dir", str(cloud_dir),
        )
    )  # fmt: skip
    admin_key = str(json.loads(created)["api_key"])
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "RETAILEDGE_HANDLING_MINUTES": f"{settings.handling_min:g}",
        "RETAILEDGE_DISPATCH_INTERVAL_S": f"{settings.dispatch_interval_s:g}",
        "RETAILEDGE_WEBHOOK_SENDER": "false",
    }
    children: list[Child] = []
    cloud = start_child(
        "cloud",
        retailedge_command("cloud", "serve", "--port", str(port), "--data-dir", str(cloud_dir)),
        logs / "cloud.log",
        env=env,
    )
    children.append(cloud)
    try:
        await wait_for_http(f"{url}/healthz", cloud, timeout_s=60.0)
        say(f"[live-fleet] cloud on {url} (logs in {logs})")
        headers = {"Authorization": f"Bearer {admin_key}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30.0) as admin:
            channels = await setup_network(
                admin,
                cloud_dir=cloud_dir,
                catalogue_dir=default_catalogue_dir(),
                gateway_id=None,
                say=say,
            )
            await _open_around_the_clock(admin)
            children.append(await _start_gateway(admin, settings, url))
        gateway_dir = settings.data_dir / "gateways" / GATEWAY_ID
        deadline = time.monotonic() + SUBSCRIBE_TIMEOUT_S
        while not _gateway_connected(gateway_dir):
            children[-1].ensure_running()
            if time.monotonic() > deadline:
                raise DemoProcessError(
                    f"the fleet gateway did not connect to {settings.broker.host}:"
                    f"{settings.broker.port} within {SUBSCRIBE_TIMEOUT_S:g} s"
                )
            await asyncio.sleep(0.2)
        say(f"[live-fleet] gateway {GATEWAY_ID} subscribed to {settings.broker.topic_prefix}/+")
        yield LocalStack(url, admin_key, {c.id: c.key for c in channels})
    finally:
        for child in reversed(children):
            await child.stop(GATEWAY_STOP_TIMEOUT_S if child is not cloud else 15.0)


async def _start_gateway(admin: httpx.AsyncClient, settings: StackSettings, url: str) -> Child:
    answer = await admin.post("/api/v1/gateways", json={"id": GATEWAY_ID})
    if answer.status_code != 201:
        raise DemoProcessError(f"registering gateway {GATEWAY_ID}: {answer.text}")
    gateway_dir = settings.data_dir / "gateways" / GATEWAY_ID
    broker = settings.broker
    config = write_gateway_config(
        "fleet-gateway.toml",
        gateway_dir / "gateway.toml",
        gateway_id=GATEWAY_ID,
        data_dir=gateway_dir,
        cloud_url=url,
        token=answer.json()["token"],
        serial_port=None,
        mqtt={
            "host": broker.host,
            "port": broker.port,
            "topic_prefix": broker.topic_prefix,
            "client_id": f"{GATEWAY_ID}-{secrets.token_hex(4)}",
            "session_expiry_s": 600,
        },
    )
    return start_child(
        f"gateway {GATEWAY_ID}",
        retailedge_command("gateway", "run", "--config", str(config)),
        settings.data_dir / "logs" / f"gateway-{GATEWAY_ID}.log",
    )
