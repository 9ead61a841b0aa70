"""``retailedge demo``: the cloud, a van gateway fed by a simulated GPS receiver and a chiller
probe (Modbus RTU) on pseudo-terminals, and a warehouse gateway, all on embedded defaults, with
live counts and a lost-record summary; and the business chain on top: the example network
imported, the van registered as a reefer courier, goods received by a handheld at the warehouse
gateway, channel orders allocated from that stock and planned onto the van, a tracking link.
Mid-demo the chiller leaves its band and the van gateway raises a cold-chain excursion."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import httpx

from retailedge.demo_business import (
    DEMO_NODE,
    Channel,
    DemoFlowError,
    OrderFlow,
    default_catalogue_dir,
    provision,
    setup_network,
)
from retailedge.demo_config import load_template, write_gateway_config
from retailedge.demo_console import ConsoleLogin, console_login
from retailedge.demo_report import BusinessReport
from retailedge.demo_van import (
    Chiller,
    ChillerBus,
    ChillerState,
    ChillerWatch,
    courier_body,
    courier_summary,
    register_courier,
    van_chiller,
)
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
GATEWAY_KINDS = ("measurement", "alarm")
"""Counted where the gateways make them (a probe value is read only when the gateway asks;
an alarm is the gateway's own); positions and scans are counted where they are sent."""
GATEWAY_STOP_TIMEOUT_S = 60.0
VAN_ID = "van-01"
VAN_TEMPLATE = "van-gateway.toml"
WAREHOUSE_ID = "wh-01"
OPERATOR = "demo-operator"
ORDER_SEED = 0


@dataclass
class DemoSummary:
    produced: dict[str, int]
    acknowledged: dict[str, int]
    stored: dict[str, int]
    business: BusinessReport
    urls: dict[str, str] = field(default_factory=dict)
    console: ConsoleLogin | None = None
    chiller: dict[str, Any] | None = None
    courier: dict[str, Any] | None = None

    @property
    def lost(self) -> int:
        return sum(count - self.stored.get(kind, 0) for kind, count in self.produced.items())

    def problems(self) -> list[str]:
        """Why the run failed (lost records, an inconsistent business chain); empty if none."""
        found = [f"{self.lost} record(s) lost"] if self.lost else []
        return found + self.business.problems()

    def as_json(self) -> dict[str, Any]:
        return {
            "produced": self.produced,
            "acknowledged": self.acknowledged,
            "stored": self.stored,
            "lost": self.lost,
            **self.business.as_json(),
            **({} if self.console is None else {"console": self.console.as_json()}),
            **({} if self.chiller is None else {"chiller": self.chiller}),
            **({} if self.courier is None else {"courier": self.courier}),
        }


@dataclass
class DemoSettings:
    data_dir: Path
    port: int
    gps_rate_hz: float
    duration_s: float | None
    city: str
    quiet: bool
    orders: int = 12


def _say(settings: DemoSettings, message: str) -> None:
    if not settings.quiet:
        click.echo(message, err=True)


def _read_status(data_dir: Path, since: float = 0.0) -> dict[str, Any]:
    """The gateway's status.json, or {} when there is none written since ``since`` (a reused
    data folder holds the previous run's)."""
    path = data_dir / "status.json"
    try:
        if path.stat().st_mtime < since:
            return {}
        loaded = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _sum_counts(statuses: Sequence[Mapping[str, Any]], key: str) -> dict[str, int]:
    total: Counter[str] = Counter()
    for status in statuses:
        for kind, count in (status.get(key) or {}).items():
            total[kind] += int(count)
    return dict(total)


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    """``values`` in this process's environment while a child process is started."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class CloudHandle:
    url: str
    admin: httpx.AsyncClient
    operator: httpx.AsyncClient


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
        self.started_at = time.time()
        self.business = BusinessReport(node_id="")
        self.console: ConsoleLogin | None = None
        self.chiller: Chiller = van_chiller(load_template(VAN_TEMPLATE))
        self.chiller_watch = ChillerWatch(self.chiller, lambda message: _say(settings, message))

    @property
    def cloud_dir(self) -> Path:
        return self.settings.data_dir / "cloud"

    @contextlib.asynccontextmanager
    async def cloud(self) -> AsyncIterator[CloudHandle]:
        settings = self.settings
        cloud_dir = self.cloud_dir
        _say(settings, f"[demo] preparing the cloud database in {cloud_dir}")
        # create-user migrates the database first; ``cloud serve`` would too.
        admin = _provision(
            retailedge_command(
                "cloud",
                "create-user",
                "--name",
                "demo-admin",
                "--role",
                "admin",
                "--json",
                "--data-dir",
                str(cloud_dir),
            ),
            cloud_dir,
            "admin.json",
        )
        url = f"http://127.0.0.1:{settings.port}"
        # The example channels' webhook URLs are placeholders: the demo queues status
        # webhooks (GET /api/v1/webhooks) but sends none.
        with _environment(RETAILEDGE_WEBHOOK_SENDER="false"):
            child = start_child(
                "cloud",
                retailedge_command(
                    "cloud", "serve", "--port", str(settings.port), "--data-dir", str(cloud_dir)
                ),
                settings.data_dir / "logs" / "cloud.log",
            )
        self.children.append(child)
        await wait_for_http(f"{url}/healthz", child, timeout_s=60.0)
        try:
            async with (
                _client(url, admin["api_key"]) as admin_client,
                _client(url, None) as operator_client,
            ):
                operator = await provision(
                    admin_client,
                    cloud_dir / "operator.json",
                    "/api/v1/users",
                    {"name": OPERATOR, "role": "operator"},
                    verify="/api/v1/stats",
                )
                operator_client.headers["Authorization"] = f"Bearer {operator['api_key']}"
                self.console = await asyncio.to_thread(
                    console_login, cloud_dir, f"{url}/console", OPERATOR
                )
                _say(
                    settings,
                    f"[demo] cloud on {url}  (API docs {url}/docs, operator key in "
                    f"{cloud_dir / 'operator.json'}, admin key in {cloud_dir / 'admin.json'})",
                )
                _say(settings, f"[demo] {self.console.line()}")
                yield CloudHandle(url, admin_client, operator_client)
        finally:
            # Gateways still running after a failure are stopped before the cloud.
            for other in reversed(self.children):
                if other is not child:
                    await other.stop(GATEWAY_STOP_TIMEOUT_S)
            await child.stop(timeout_s=15.0)

    async def start_gateway(
        self,
        admin: httpx.AsyncClient,
        template: str,
        gateway_id: str,
        cloud_url: str,
        serial_port: Path | None,
        modbus_port: Path | None = None,
    ) -> Child:
        settings = self.settings
        creds = await provision(
            admin,
            self.cloud_dir / f"gateway-{gateway_id}.json",
            "/api/v1/gateways",
            {"id": gateway_id},
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
            modbus_port=modbus_port,
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
        return [_read_status(path, self.started_at) for path in self.gateway_dirs]

    async def run(self) -> DemoSummary:
        settings = self.settings
        async with self.cloud() as cloud:
            baseline = await _cloud_stored(cloud.operator)
            channels = await setup_network(
                cloud.admin,
                cloud_dir=self.cloud_dir,
                catalogue_dir=default_catalogue_dir(),
                gateway_id=WAREHOUSE_ID,
                say=lambda message: _say(settings, message),
            )
            body = courier_body(
                courier_id=VAN_ID,
                gps_device_id=VAN_ID,
                home_node_id=DEMO_NODE,
                chiller=self.chiller,
                now=datetime.now(UTC),
            )
            await register_courier(cloud.admin, body, lambda message: _say(settings, message))
            # The probe answers before the gateway first asks, and until it stopped asking.
            chiller_bus = ChillerBus.start(
                self.chiller, settings.data_dir / f"{self.chiller.device_id}.tty"
            )
            try:
                _say(settings, chiller_bus.line())
                return await self._drive(cloud, baseline, channels, chiller_bus)
            finally:
                await chiller_bus.stop()

    async def _drive(
        self,
        cloud: CloudHandle,
        baseline: Mapping[str, int],
        channels: list[Channel],
        chiller_bus: ChillerBus,
    ) -> DemoSummary:
        """The gateways and the GPS simulator, the order flow, live counts; then the summary."""
        settings = self.settings
        route = route_by_name(settings.city)
        port = PtyPort.open(settings.data_dir / f"{VAN_ID}-gps.tty")
        simulator = GpsVanSimulator(route=route, rate_hz=settings.gps_rate_hz, vehicle_id=VAN_ID)
        _say(
            settings,
            f"[demo] simulated GPS receiver of {VAN_ID} on {port.slave_path} "
            f"({settings.gps_rate_hz:g} Hz, route {settings.city})",
        )
        gateways = [
            await self.start_gateway(
                cloud.admin,
                VAN_TEMPLATE,
                VAN_ID,
                cloud.url,
                port.link_path,
                chiller_bus.port.link_path,
            ),
            await self.start_gateway(
                cloud.admin, "warehouse-gateway.toml", WAREHOUSE_ID, cloud.url, None
            ),
        ]
        emit_log = settings.data_dir / f"{VAN_ID}-emitted.jsonl"
        gps_task = asyncio.create_task(run_gps_van(simulator, port, None, emit_log=emit_log))
        flow = self._order_flow(cloud, channels)
        self.business = flow.report
        flow_task = asyncio.create_task(flow.run())
        try:
            await self._watch(cloud.operator, baseline, gps_task, flow_task, simulator, chiller_bus)
        finally:
            for task in (flow_task, gps_task):
                task.cancel()
                # A task's own failure was raised by _watch already; here it must not
                # keep the gateways from being stopped.
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self.fixes_emitted = simulator.stats.fixes_emitted
            await port.drain(timeout_s=10.0)
            await self._drain_gateways(gateways)
            port.close()
        stored_now = await _cloud_stored(cloud.operator)
        statuses = self.statuses()
        produced = {"position": self.fixes_emitted}
        if self.business.scans_accepted:
            produced["scan"] = self.business.scans_accepted
        made = _sum_counts(statuses, "produced")
        produced.update({kind: made[kind] for kind in GATEWAY_KINDS if made.get(kind)})
        chiller = ChillerState.from_status(statuses[0], self.chiller)
        return DemoSummary(
            produced=produced,
            acknowledged=_sum_counts(statuses, "acknowledged"),
            stored={kind: stored_now[kind] - baseline.get(kind, 0) for kind in RECORD_KINDS},
            business=self.business,
            urls={"cloud": cloud.url},
            console=self.console,
            chiller={
                **self.chiller.as_json(),
                "probe_answers": chiller_bus.bus.stats.answered,
                "last_c": chiller.last_c,
                "alarms_raised": chiller.alarms_raised,
            },
            courier=await courier_summary(cloud.operator, VAN_ID),
        )

    def _order_flow(self, cloud: CloudHandle, channels: list[Channel]) -> OrderFlow:
        warehouse_dir = self.gateway_dirs[-1]
        return OrderFlow(
            operator=cloud.operator,
            channels=channels,
            gateway_dir=warehouse_dir,
            gateway_status=lambda: _read_status(warehouse_dir, self.started_at),
            orders=self.settings.orders,
            seed=ORDER_SEED,
            say=lambda message: _say(self.settings, message),
        )

    async def _watch(
        self,
        client: httpx.AsyncClient,
        baseline: Mapping[str, int],
        gps_task: asyncio.Task[Any],
        flow_task: asyncio.Task[BusinessReport],
        simulator: GpsVanSimulator,
        chiller_bus: ChillerBus,
    ) -> None:
        """Live counts once a second until Ctrl-C, or until ``--duration`` is up and the order
        flow has finished."""
        started = time.monotonic()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        reported = waiting = False
        try:
            while not stop.is_set():
                for child in [*self.children]:
                    child.ensure_running()
                if gps_task.done():
                    gps_task.result()
                    raise DemoProcessError("the GPS simulator stopped unexpectedly")
                chiller_bus.check()
                if flow_task.done() and not reported:
                    reported = True
                    report = flow_task.result()
                    _say(
                        self.settings,
                        f"[demo] order flow done: {report.orders_allocated} of "
                        f"{report.orders_placed} orders allocated, oversold {report.oversold} "
                        "(summary at the end; the van keeps driving until "
                        + ("--duration is up)" if self.settings.duration_s else "Ctrl-C)"),
                    )
                elapsed = time.monotonic() - started
                duration = self.settings.duration_s
                if duration is not None and elapsed >= duration:
                    if reported:
                        break
                    if not waiting:
                        waiting = True
                        _say(
                            self.settings, "[demo] duration reached; the order flow finishes first"
                        )
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
        statuses = self.statuses()
        acked = _sum_counts(statuses, "acknowledged")
        buffered = sum(int((s.get("buffer") or {}).get("records", 0)) for s in statuses)
        chiller = ChillerState.from_status(statuses[0], self.chiller)
        self.chiller_watch.update(chiller)
        celsius = "   —" if chiller.last_c is None else f"{chiller.last_c:4.1f}"
        _say(
            self.settings,
            f"[demo] {elapsed:5.0f}s  gps fixes emitted {simulator.stats.fixes_emitted:6d}  "
            f"acknowledged {sum(acked.values()):6d}  buffered {buffered:5d}  "
            f"stored positions {stored['position'] - baseline.get('position', 0):6d}  "
            f"scans {stored['scan'] - baseline.get('scan', 0):3d}  "
            f"chiller {celsius} °C  "
            f"measurements {stored['measurement'] - baseline.get('measurement', 0):4d}  "
            f"alarms {stored['alarm'] - baseline.get('alarm', 0):2d}",
        )

    async def _drain_gateways(self, gateways: list[Child]) -> None:
        await self._wait_until_read(self.fixes_emitted, timeout_s=15.0)
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


def _client(url: str, key: str | None) -> httpx.AsyncClient:
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    return httpx.AsyncClient(base_url=url, headers=headers, timeout=30.0)


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
    help="Print one JSON object at the end: records produced, acknowledged, stored and lost, "
    "scans, stock received, orders placed/allocated/failed, oversold, one allocation's why, "
    "the chiller and the courier, the tracking link, the console login.",
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
@click.option(
    "--orders",
    type=click.IntRange(0, 1000),
    default=12,
    show_default=True,
    help="Channel orders placed once the received stock is visible in the cloud.",
)
def demo_command(
    duration: float | None,
    as_json: bool,
    data_dir: Path | None,
    port: int,
    gps_rate: float,
    city: str,
    orders: int,
) -> None:
    """Run the cloud, a reefer van's gateway with a simulated GPS and chiller probe and a
    warehouse gateway on this machine; receive goods at the warehouse gateway, allocate channel
    orders from them, plan them onto the van; its chiller leaves its band mid-demo."""
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
        orders=orders,
    )
    _say(settings, f"[demo] data folder {settings.data_dir}")
    try:
        summary = asyncio.run(Demo(settings).run())
    except (DemoProcessError, DemoFlowError, httpx.HTTPError) as exc:
        where = (
            f"{exc.request.method} {exc.request.url}: "
            if isinstance(exc, httpx.RequestError)
            else ""
        )
        raise click.ClickException(
            f"{where}{exc}\nLogs are kept in {settings.data_dir / 'logs'}."
        ) from exc
    problems = summary.problems()
    if temporary and not problems:
        shutil.rmtree(root, ignore_errors=True)
    _say(
        settings,
        f"[demo] produced {summary.produced}  acknowledged {summary.acknowledged}  "
        f"stored {summary.stored}  lost {summary.lost}",
    )
    for line in summary.business.text_lines():
        _say(settings, f"[demo] {line}")
    for problem in problems:
        _say(settings, f"[demo] FAILED: {problem} (data kept in {settings.data_dir})")
    if as_json:
        click.echo(json.dumps(summary.as_json(), sort_keys=True, ensure_ascii=False))
    if problems:
        sys.exit(1)
