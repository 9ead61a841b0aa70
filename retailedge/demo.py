"""``retailedge demo``: the cloud, a van gateway fed by a simulated GPS receiver on a
pseudo-terminal, and a warehouse gateway, all on embedded defaults, with live counts and a
lost-record summary."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import httpx

from retailedge.demo_config import write_gateway_config
from retailedge.processes import (
    Child,
    DemoProcessError,
    free_port,
    retailedge_command,
    run_checked,
    start_child,
    wait_for_http,
)
from simulators.gps_van import GpsVanSimulator
from simulators.pty_port import PtyPort
from simulators.routes import route_by_name
from simulators.run_gps import run_gps_van

RECORD_KINDS = ("position", "measurement", "tag_read", "scan", "alarm", "tag_event")
GATEWAY_STOP_TIMEOUT_S = 60.0


@dataclass
class DemoSummary:
    produced: dict[str, int]
    acknowledged: dict[str, int]
    stored: dict[str, int]
    urls: dict[str, str] = field(default_factory=dict)

    @property
    def lost(self) -> int:
        return sum(count - self.stored.get(kind, 0) for kind, count in self.produced.items())

    def as_json(self) -> dict[str, Any]:
        return {
            "produced": self.produced,
            "acknowledged": self.acknowledged,
            "stored": self.stored,
            "lost": self.lost,
        }


@dataclass
class DemoSettings:
    data_dir: Path
    port: int
    gps_rate_hz: float
    duration_s: float | None
    city: str
    quiet: bool


def _say(settings: DemoSettings, message: str) -> None:
    if not settings.quiet:
        click.echo(message, err=True)


def _read_status(data_dir: Path) -> dict[str, Any]:
    try:
        loaded = json.loads((data_dir / "status.json").read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _sum_counts(statuses: Sequence[Mapping[str, Any]], key: str) -> dict[str, int]:
    total: Counter[str] = Counter()
    for status in statuses:
        for kind, count in (status.get(key) or {}).items():
            total[kind] += int(count)
    return dict(total)


async def _cloud_stored(client: httpx.AsyncClient) -> dict[str, int]:
    response = await client.get("/api/v1/stats")
    response.raise_for_status()
    stored = response.json()["stored"]
    return {kind: int(stored.get(kind, 0)) for kind in RECORD_KINDS}


class Demo:
    def __init__(self, settings: DemoSettings) -> None:
        self.settings = settings
        self.children: list[Child] = []
        self.gateway_dirs: list[Path] = []
        self.fixes_emitted = 0

    @contextlib.asynccontextmanager
    async def cloud(self) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
        settings = self.settings
        cloud_dir = settings.data_dir / "cloud"
        base = ["--data-dir", str(cloud_dir)]
        _say(settings, f"[demo] preparing the cloud database in {cloud_dir}")
        run_checked(retailedge_command("cloud", "migrate", *base))
        operator = _provision(
            retailedge_command(
                "cloud",
                "create-user",
                "--name",
                "demo-operator",
                "--role",
                "operator",
                "--json",
                *base,
            ),
            cloud_dir,
            "operator.json",
        )
        url = f"http://127.0.0.1:{settings.port}"
        child = start_child(
            "cloud",
            retailedge_command("cloud", "serve", "--port", str(settings.port), *base),
            settings.data_dir / "logs" / "cloud.log",
        )
        self.children.append(child)
        await wait_for_http(f"{url}/healthz", child)
        headers = {"Authorization": f"Bearer {operator['api_key']}"}
        _say(
            settings,
            f"[demo] cloud on {url}  (API docs {url}/docs, operator key in "
            f"{cloud_dir / 'operator.json'})",
        )
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10.0) as client:
            try:
                yield url, client
            finally:
                await child.stop(timeout_s=15.0)

    def start_gateway(
        self, template: str, gateway_id: str, cloud_url: str, serial_port: Path | None
    ) -> Child:
        settings = self.settings
        cloud_dir = settings.data_dir / "cloud"
        creds = _provision(
            retailedge_command(
                "cloud",
                "create-gateway",
                "--id",
                gateway_id,
                "--json",
                "--data-dir",
                str(cloud_dir),
            ),
            cloud_dir,
            f"gateway-{gateway_id}.json",
        )
        gateway_dir = settings.data_dir / "gateways" / gateway_id
        config_path = write_gateway_config(
            template,
            gateway_dir / "gateway.toml",
            gateway_id=gateway_id,
            data_dir=gateway_dir,
            cloud_url=cloud_url,
            token=creds["token"],
            serial_port=serial_port,
        )
        child = start_child(
            f"gateway {gateway_id}",
            retailedge_command("gateway", "run", "--config", str(config_path)),
            settings.data_dir / "logs" / f"gateway-{gateway_id}.log",
        )
        self.children.append(child)
        self.gateway_dirs.append(gateway_dir)
        _say(settings, f"[demo] gateway {gateway_id} started (config {config_path})")
        return child

    def statuses(self) -> list[dict[str, Any]]:
        return [_read_status(path) for path in self.gateway_dirs]

    async def run(self) -> DemoSummary:
        settings = self.settings
        async with self.cloud() as (url, client):
            baseline = await _cloud_stored(client)
            route = route_by_name(settings.city)
            port = PtyPort.open(settings.data_dir / "van-01-gps.tty")
            simulator = GpsVanSimulator(
                route=route, rate_hz=settings.gps_rate_hz, vehicle_id="van-01"
            )
            _say(
                settings,
                f"[demo] simulated GPS receiver of van-01 on {port.slave_path} "
                f"({settings.gps_rate_hz:g} Hz, route {settings.city})",
            )
            gateways = [
                self.start_gateway("van-gateway.toml", "van-01", url, port.link_path),
                self.start_gateway("warehouse-gateway.toml", "wh-01", url, None),
            ]
            emit_log = settings.data_dir / "van-01-emitted.jsonl"
            gps_task = asyncio.create_task(run_gps_van(simulator, port, None, emit_log=emit_log))
            try:
                await self._watch(client, baseline, gateways, gps_task, simulator)
            finally:
                gps_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await gps_task
                self.fixes_emitted = simulator.stats.fixes_emitted
                await port.drain()
                await self._drain_gateways(gateways)
                port.close()
            stored_now = await _cloud_stored(client)
            statuses = self.statuses()
            return DemoSummary(
                produced={"position": self.fixes_emitted},
                acknowledged=_sum_counts(statuses, "acknowledged"),
                stored={kind: stored_now[kind] - baseline.get(kind, 0) for kind in RECORD_KINDS},
                urls={"cloud": url},
            )

    async def _watch(
        self,
        client: httpx.AsyncClient,
        baseline: Mapping[str, int],
        gateways: list[Child],
        gps_task: asyncio.Task[Any],
        simulator: GpsVanSimulator,
    ) -> None:
        started = time.monotonic()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            while not stop.is_set():
                for child in [*self.children]:
                    child.ensure_running()
                if gps_task.done():
                    gps_task.result()
                    raise DemoProcessError("the GPS simulator stopped unexpectedly")
                elapsed = time.monotonic() - started
                if self.settings.duration_s is not None and elapsed >= self.settings.duration_s:
                    break
                await self._print_live(client, baseline, simulator, elapsed)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1.0)
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
        _say(self.settings, "[demo] stopping: simulators first, then gateways drain their buffers")

    async def _print_live(
        self,
        client: httpx.AsyncClient,
        baseline: Mapping[str, int],
        simulator: GpsVanSimulator,
        elapsed: float,
    ) -> None:
        try:
            stored = await _cloud_stored(client)
        except httpx.HTTPError as exc:
            _say(self.settings, f"[demo] cloud stats unavailable: {exc}")
            return
        acked = _sum_counts(self.statuses(), "acknowledged")
        buffered = sum(int((s.get("buffer") or {}).get("records", 0)) for s in self.statuses())
        _say(
            self.settings,
            f"[demo] {elapsed:5.0f}s  gps fixes emitted {simulator.stats.fixes_emitted:6d}  "
            f"acknowledged {sum(acked.values()):6d}  buffered {buffered:5d}  "
            f"stored positions {stored['position'] - baseline.get('position', 0):6d}",
        )

    async def _drain_gateways(self, gateways: list[Child]) -> None:
        await self._wait_until_read(self.fixes_emitted, timeout_s=5.0)
        codes = await asyncio.gather(*(g.stop(GATEWAY_STOP_TIMEOUT_S) for g in gateways))
        for gateway, code in zip(gateways, codes, strict=True):
            if code != 0:
                _say(
                    self.settings,
                    f"[demo] {gateway.name} exited with status {code}; see {gateway.log_path}",
                )

    async def _wait_until_read(self, emitted: int, timeout_s: float) -> None:
        """Give the van gateway time to read what the simulator wrote before it is asked to stop."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            produced = _sum_counts(self.statuses()[:1], "produced").get("position", 0)
            if produced >= emitted:
                return
            await asyncio.sleep(0.1)


def _provision(argv: list[str], cloud_dir: Path, file_name: str) -> dict[str, Any]:
    """Create a credential once per data folder and keep it, so a named folder can be reused."""
    path = cloud_dir / file_name
    if path.exists():
        loaded: dict[str, Any] = json.loads(path.read_text())
        return loaded
    created: dict[str, Any] = json.loads(run_checked(argv))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(created))
    path.chmod(0o600)
    return created


@click.command("demo")
@click.option(
    "--duration",
    type=click.FloatRange(min=1),
    default=None,
    help="Stop after this many seconds (default: run until Ctrl-C).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON object (produced, acknowledged, stored, lost) at the end.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep databases, buffers and logs here (default: a temporary folder, removed).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8800,
    show_default=True,
    help="Cloud HTTP port on 127.0.0.1 (a free one is chosen if it is taken, or for 0).",
)
@click.option(
    "--gps-rate",
    type=click.FloatRange(1, 10),
    default=5.0,
    show_default=True,
    help="GPS fixes per second from the simulated receiver.",
)
@click.option(
    "--city",
    type=click.Choice(["shanghai", "hangzhou"]),
    default="shanghai",
    show_default=True,
    help="Route the simulated van drives.",
)
def demo_command(
    duration: float | None,
    as_json: bool,
    data_dir: Path | None,
    port: int,
    gps_rate: float,
    city: str,
) -> None:
    """Run the cloud, a van gateway with a simulated GPS and a warehouse gateway on this machine."""
    temporary = data_dir is None
    root = Path(tempfile.mkdtemp(prefix="retailedge-demo-")) if data_dir is None else data_dir
    root.mkdir(parents=True, exist_ok=True)
    settings = DemoSettings(
        data_dir=root.resolve(),
        port=free_port(port),
        gps_rate_hz=gps_rate,
        duration_s=duration,
        city=city,
        quiet=False,
    )
    _say(settings, f"[demo] data folder {settings.data_dir}")
    try:
        summary = asyncio.run(Demo(settings).run())
    except DemoProcessError as exc:
        raise click.ClickException(
            f"{exc}\nLogs are kept in {settings.data_dir / 'logs'}."
        ) from exc
    if temporary:
        shutil.rmtree(root, ignore_errors=True)
    _say(
        settings,
        f"[demo] produced {summary.produced}  acknowledged {summary.acknowledged}  "
        f"stored {summary.stored}  lost {summary.lost}",
    )
    if as_json:
        click.echo(json.dumps(summary.as_json(), sort_keys=True))
    if summary.lost != 0:
        sys.exit(1)
