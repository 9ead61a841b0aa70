"""Real processes for end-to-end tests: a cloud on an ephemeral port, gateways, simulators."""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import tomli_w
from click.testing import CliRunner

from cloud.cli import cloud_group
from firmware_bridge.records import Record, RecordKind
from firmware_bridge.wire import format_time, record_from_wire
from retailedge.demo_config import write_gateway_config
from retailedge.processes import Child, DemoProcessError, retailedge_command, start_child


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
        out = cloud_command("create-gateway", "--id", gateway_id, "--json", *self.database_args)
        token: str = json.loads(out)["token"]
        return token

    def create_admin(self, name: str = "admin") -> str:
        """A new admin user's API key."""
        out = cloud_command(
            "create-user", "--name", name, "--role", "admin", "--json", *self.database_args
        )
        key: str = json.loads(out)["api_key"]
        return key


def cloud_command(*args: str) -> str:
    """``retailedge cloud ARGS`` run in this process: the same click command, without a new
    interpreter importing the cloud again (about a second each). Its stdout, or an error."""
    result = CliRunner().invoke(cloud_group, list(args))
    if result.exit_code != 0:
        raise DemoProcessError(
            f"cloud {' '.join(args)} failed with status {result.exit_code}:\n{result.output}"
        ) from result.exception
    return result.stdout


def start_cloud(tmp: Path, port: int, database_url: str | None = None) -> Cloud:
    data_dir = tmp / "cloud"
    args = ["--data-dir", str(data_dir)]
    if database_url is not None:
        args += ["--database-url", database_url]
    # create-user migrates the new database first, as every cloud command does.
    operator = json.loads(
        cloud_command("create-user", "--name", "ops", "--role", "operator", "--json", *args)
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
        gateway_id=gateway_id,
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


def start_gps_van(tmp: Path, tty: Path, seconds: float, *extra: str) -> Child:
    """``retailedge simulate gps`` for van-01 at 10 Hz on ``tty`` for ``seconds``."""
    argv = ["--link", str(tty), "--rate", "10", "--vehicle-id", "van-01"]
    return start_child(
        "gps simulator",
        retailedge_command("simulate", "gps", *argv, "--duration", str(seconds), *extra),
        tmp / "logs" / "simulator.log",
    )


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


# -- store-and-forward harness: gateways with a local producer API, restarts, the cloud's view --


def write_gateway_toml(
    tmp: Path,
    cloud: Cloud,
    gateway_id: str,
    *,
    cloud_url: str | None = None,
    uplink: dict[str, Any] | None = None,
    buffer: dict[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Register ``gateway_id`` and write a device-less config whose local producer API listens
    on a free port; ``cloud_url`` (e.g. a fault proxy) defaults to the cloud itself. Returns
    (config path, gateway data folder)."""
    token = cloud.create_gateway(gateway_id)
    gateway_dir = tmp / "gateways" / gateway_id
    config: dict[str, Any] = {
        "gateway": {"id": gateway_id, "data_dir": str(gateway_dir)},
        "cloud": {"url": cloud_url or cloud.url, "token": token},
        "uplink": {
            "interval_s": 0.05,
            "backoff_initial_s": 0.1,
            "backoff_max_s": 1.0,
            "request_timeout_s": 2.0,
            "drain_timeout_s": 5.0,
            **(uplink or {}),
        },
        "local_api": {"host": "127.0.0.1", "port": 0, "enabled": True},
    }
    if buffer:
        config["buffer"] = buffer
    path = gateway_dir / "gateway.toml"
    gateway_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(config), encoding="utf-8")
    return path, gateway_dir


def run_gateway(tmp: Path, config: Path, gateway_dir: Path) -> Child:
    """Start ``retailedge gateway run`` (a fresh log per start) once the old status file is gone,
    so :func:`local_api_url` never answers with a dead process's port."""
    (gateway_dir / "status.json").unlink(missing_ok=True)
    runs = len(list((tmp / "logs").glob(f"gateway-{gateway_dir.name}-*.log")))
    return start_child(
        f"gateway {gateway_dir.name}",
        retailedge_command("gateway", "run", "--config", str(config)),
        tmp / "logs" / f"gateway-{gateway_dir.name}-{runs + 1}.log",
    )


def local_api_url(gateway_dir: Path) -> str | None:
    url = gateway_status(gateway_dir).get("local_api_url")
    return url if isinstance(url, str) and url else None


def wait_local_api(child: Child, gateway_dir: Path, timeout_s: float = 30.0) -> str:
    def ready() -> bool:
        child.ensure_running()
        return local_api_url(gateway_dir) is not None

    wait_until(ready, timeout_s, f"{child.name} to publish local_api_url in status.json")
    url = local_api_url(gateway_dir)
    assert url is not None
    return url


def kill_hard(child: Child) -> None:
    """SIGKILL: no drain, no final status, whatever was in flight is cut."""
    child.process.send_signal(signal.SIGKILL)
    child.process.wait(timeout=10)


def stop_gently(child: Child, timeout_s: float = 30.0) -> int:
    child.process.send_signal(signal.SIGTERM)
    return child.process.wait(timeout=timeout_s)


def cloud_db(cloud: Cloud) -> sqlite3.Connection:
    """Read-only connection to the embedded cloud database (never writes)."""
    path = (cloud.data_dir / "cloud.db").resolve()
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    db.row_factory = sqlite3.Row
    return db


_KIND_TABLES: dict[RecordKind, str] = {
    RecordKind.POSITION: "positions",
    RecordKind.MEASUREMENT: "measurements",
    RecordKind.TAG_READ: "tag_reads",
    RecordKind.SCAN: "scans",
    RecordKind.ALARM: "alarms",
    RecordKind.TAG_EVENT: "tag_events",
}
_TIME_COLUMNS = ("time", "started_at", "ended_at", "first_seen", "last_seen")


def _row_to_record(kind: RecordKind, row: sqlite3.Row) -> Record:
    wire: dict[str, Any] = {"kind": kind.value, **dict(row)}
    for name in _TIME_COLUMNS:
        if isinstance(wire.get(name), str):
            moment = datetime.fromisoformat(wire[name])
            wire[name] = format_time(moment.replace(tzinfo=moment.tzinfo or UTC))
    if isinstance(wire.get("evidence"), str):
        wire["evidence"] = json.loads(wire["evidence"])
    return record_from_wire(wire)


def cloud_records(cloud: Cloud, gateway_id: str) -> dict[int, Record]:
    """Every record the cloud stored for ``gateway_id``, by seq, read from its database. A seq
    stored in two tables fails the test (it cannot be one record)."""
    stored: dict[int, Record] = {}
    with contextlib.closing(cloud_db(cloud)) as db:
        for kind, table in _KIND_TABLES.items():
            for row in db.execute(f"SELECT * FROM {table} WHERE gateway_id = ?", (gateway_id,)):
                seq = int(row["seq"])
                assert seq not in stored, f"seq {seq} is stored twice ({table} and another)"
                stored[seq] = _row_to_record(kind, row)
    return stored


def cloud_track(cloud: Cloud, vehicle_id: str) -> dict[int, Record]:
    """All positions of ``vehicle_id`` through the track API (paged by ``since``), by seq."""
    out: dict[int, Record] = {}
    since: str | None = None
    limit = 10_000
    with cloud.api() as api:
        while True:
            params: dict[str, Any] = {"limit": limit, **({"since": since} if since else {})}
            response = api.get(f"/api/v1/vehicles/{vehicle_id}/track", params=params)
            assert response.status_code == 200, response.text
            page = response.json()["positions"]
            for item in page:
                out[int(item["seq"])] = record_from_wire({**item, "kind": "position"})
            if len(page) < limit:
                return out
            since = page[-1]["time"]


def cloud_gaps(cloud: Cloud, gateway_id: str) -> list[int]:
    """Every seq the cloud recorded as a gap for ``gateway_id``, ascending."""
    with contextlib.closing(cloud_db(cloud)) as db:
        rows = db.execute(
            "SELECT from_seq, to_seq FROM ingest_gaps WHERE gateway_id = ?", (gateway_id,)
        ).fetchall()
    return sorted(seq for lo, hi in rows for seq in range(int(lo), int(hi) + 1))


def cloud_ack_seq(cloud: Cloud, gateway_id: str) -> int:
    with contextlib.closing(cloud_db(cloud)) as db:
        row = db.execute("SELECT ack_seq FROM gateways WHERE id = ?", (gateway_id,)).fetchone()
    return int(row[0]) if row else 0


def wait_cloud_ack(cloud: Cloud, gateway_id: str, seq: int, child: Child, timeout_s: float) -> None:
    """Until the cloud's contiguous ack for ``gateway_id`` reaches ``seq``."""

    def reached() -> bool:
        child.ensure_running()
        return cloud_ack_seq(cloud, gateway_id) >= seq

    wait_until(reached, timeout_s, f"the cloud to acknowledge {gateway_id} up to seq {seq}")


@dataclass
class GatewayProcess:
    """One gateway's config and data folder, started, killed and restarted by a test."""

    tmp: Path
    gateway_id: str
    config: Path
    data_dir: Path
    child: Child | None = None

    @classmethod
    def create(
        cls,
        tmp: Path,
        cloud: Cloud,
        gateway_id: str,
        *,
        cloud_url: str | None = None,
        uplink: dict[str, Any] | None = None,
        buffer: dict[str, Any] | None = None,
    ) -> GatewayProcess:
        config, data_dir = write_gateway_toml(
            tmp, cloud, gateway_id, cloud_url=cloud_url, uplink=uplink, buffer=buffer
        )
        return cls(tmp, gateway_id, config, data_dir)

    @property
    def buffer_path(self) -> Path:
        return self.data_dir / "outbox.db"

    def start(self) -> str:
        """Start (or restart) the gateway; returns its local API URL once published."""
        assert self.child is None or self.child.process.poll() is not None, "already running"
        self.child = run_gateway(self.tmp, self.config, self.data_dir)
        return wait_local_api(self.child, self.data_dir)

    def running(self) -> Child:
        assert self.child is not None, "gateway was never started"
        self.child.ensure_running()
        return self.child

    def local_url(self) -> str | None:
        return local_api_url(self.data_dir)

    def status(self) -> dict[str, Any]:
        return gateway_status(self.data_dir)

    def kill(self) -> None:
        kill_hard(self.running())

    def stop(self, timeout_s: float = 30.0) -> int:
        return stop_gently(self.running(), timeout_s)

    def log_text(self) -> str:
        assert self.child is not None
        return self.child.log_path.read_text(errors="replace")

    def close(self) -> None:
        """For a finally: block; SIGKILL whatever still runs."""
        if self.child is not None and self.child.process.poll() is None:
            kill_hard(self.child)


def wait_status(
    gateway: GatewayProcess, condition: Any, timeout_s: float, what: str
) -> dict[str, Any]:
    """Until ``condition(status.json)`` holds; returns that status."""
    seen: dict[str, Any] = {}

    def holds() -> bool:
        nonlocal seen
        gateway.running()
        seen = gateway.status()
        return bool(seen) and bool(condition(seen))

    wait_until(holds, timeout_s, what)
    return seen
