"""Wire connectors, pipeline, uplink and status writer together and run them until a signal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from edge.backlog_trend import BacklogTrend
from edge.buffer import Buffer
from edge.coldchain_runner import PREFIX as COLDCHAIN_STATE
from edge.coldchain_runner import ColdChainRunner, Put, rules_from_config
from edge.config import GatewayConfig
from edge.connectors.factory import Connector, build_connector
from edge.connectors.mqtt import MqttConnector
from edge.data_dir_lock import data_dir_lock
from edge.device_thresholds import threshold_rules
from edge.downlink import Downlink
from edge.health import health_snapshot, write_status
from edge.local_api import create_app, serve
from edge.mqtt_replay import dedupe_limits
from edge.pipeline import Pipeline
from edge.scanner_api import pending_scans_from
from edge.threshold_runner import PREFIX as THRESHOLD_STATE
from edge.threshold_runner import ThresholdRunner, profiles_by_device
from edge.uplink import Uplink

log = logging.getLogger(__name__)

STATUS_EVERY_S = 1.0
CONNECTOR_STOP_TIMEOUT_S = 5.0
BUFFER_FILE = "outbox.db"
STATUS_FILE = "status.json"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Gateway:
    def __init__(
        self, config: GatewayConfig, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.config = config
        self._transport = transport
        self._started_at = _utc_now()
        self._latest_health: dict[str, Any] = {}
        self.status_path = config.gateway.data_dir / STATUS_FILE
        self.local_api_url: str | None = None
        self.coldchain: ColdChainRunner | None = None
        """Set while running; its update_rules applies new cold-chain rules without restart."""
        self.thresholds: ThresholdRunner | None = None
        """Set while running: the device profiles' ``[[alarms]]`` thresholds."""
        self.downlink: Downlink | None = None
        """Set while running: the config and catalogue fetched from the cloud."""

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until ``stop`` is set or SIGTERM/SIGINT arrives, then shut down in order."""
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        signals = (signal.SIGTERM, signal.SIGINT)
        for sig in signals:
            loop.add_signal_handler(sig, self._on_signal, stop, sig)
        try:
            await self._run(stop)
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)

    def _on_signal(self, stop: asyncio.Event, sig: signal.Signals) -> None:
        log.info("received %s: stopping", sig.name)
        stop.set()

    async def _run(self, stop: asyncio.Event) -> None:
        cfg = self.config
        cfg.gateway.data_dir.mkdir(parents=True, exist_ok=True)
        with data_dir_lock(cfg.gateway.data_dir):
            await self._run_locked(stop)

    async def _run_locked(self, stop: asyncio.Event) -> None:
        cfg = self.config
        buffer_path = cfg.gateway.data_dir / BUFFER_FILE
        timeout = httpx.Timeout(cfg.uplink.request_timeout_s)
        async with (
            Buffer.open(
                buffer_path,
                max_records=cfg.buffer.max_records,
                max_bytes=cfg.buffer.max_bytes,
                telemetry_downsample=cfg.buffer.telemetry_downsample,
                **dedupe_limits(cfg.devices),
            ) as buffer,
            httpx.AsyncClient(timeout=timeout, transport=self._transport) as client,
        ):
            stats = await buffer.stats()
            log.info(
                "gateway %s: buffer %s holds %d records (next seq %d, last acked %d)",
                cfg.gateway.id,
                buffer_path,
                stats.records,
                stats.next_seq,
                stats.last_acked_seq,
            )
            pipeline = Pipeline(
                buffer,
                max_records=cfg.buffer.commit_max_records,
                max_delay_s=cfg.buffer.commit_max_delay_s,
            )
            downlink = self.downlink = Downlink(
                client,
                cloud_url=cfg.cloud.url,
                token=cfg.cloud.bearer_token(),
                data_dir=cfg.gateway.data_dir,
                poll_s=cfg.uplink.config_poll_s,
            )
            # The cloud's last rules (cached on disk) win over the config file's.
            cloud_rules = downlink.load_cache()
            # Measurements pass the cold-chain rules on their way in; alarms go to the pipeline.
            coldchain = self.coldchain = ColdChainRunner(
                rules_from_config(cfg.coldchain) if cloud_rules is None else cloud_rules,
                pipeline.submit,
                clock=_utc_now,
                saved=await buffer.load_state(COLDCHAIN_STATE),
            )
            downlink.on_rules = coldchain.update_rules
            # And the thresholds of the profiles of the devices whose connector knows one.
            thresholds = self.thresholds = ThresholdRunner(
                threshold_rules(profiles_by_device(cfg.devices)),
                pipeline.submit,
                clock=_utc_now,
                saved=await buffer.load_state(THRESHOLD_STATE),
            )
            sink = thresholds.tap(coldchain.tap(pipeline.submit))
            put = thresholds.tap_put(coldchain.tap_put(pipeline.put))
            connectors = [
                build_connector(dev, sink, data_dir=cfg.gateway.data_dir, put=put)
                for dev in cfg.devices
            ]
            for connector in connectors:
                if isinstance(connector, MqttConnector):  # checks scans like the local API
                    connector.catalogue = lambda: downlink.catalogue
            uplink = Uplink(
                buffer,
                client,
                cfg.uplink,
                gateway_id=cfg.gateway.id,
                cloud_url=cfg.cloud.url,
                token=cfg.cloud.bearer_token(),
                health=lambda: self._latest_health,
            )

            async def snapshot() -> dict[str, Any]:
                return {**await base_snapshot(), "downlink": downlink.snapshot()}

            backlog = BacklogTrend()

            async def base_snapshot() -> dict[str, Any]:
                stats = await buffer.stats()
                return health_snapshot(
                    gateway_id=cfg.gateway.id,
                    now=_utc_now(),
                    started_at=self._started_at,
                    buffer=stats,
                    backlog_growth_per_min=backlog.observe(time.monotonic(), stats.records),
                    pending=pipeline.pending,
                    produced=pipeline.produced,
                    uplink=uplink.stats,
                    batch_limit=uplink.batch_limit,
                    connectors={c.name: c.snapshot() for c in connectors},
                    recovery=None if buffer.recovery is None else buffer.recovery.to_health(),
                    local_api_url=self.local_api_url,
                    coldchain=coldchain.snapshot(),
                    thresholds=thresholds.snapshot(),
                )

            await self._write_status(snapshot)
            pipeline_task = asyncio.create_task(pipeline.run(), name="pipeline")
            uplink_task = asyncio.create_task(uplink.run(), name="uplink")
            status_task = asyncio.create_task(self._status_loop(snapshot), name="status")
            coldchain_task = asyncio.create_task(coldchain.run(), name="coldchain")
            thresholds_task = asyncio.create_task(thresholds.run(), name="thresholds")
            downlink_task = asyncio.create_task(downlink.run(), name="downlink")
            connector_tasks = [
                asyncio.create_task(c.run(), name=f"connector {c.name}") for c in connectors
            ]
            local_api = contextlib.AsyncExitStack()
            self.local_api_url = await self._start_local_api(local_api, put, buffer, downlink)
            await self._write_status(snapshot)  # producers find local_api_url at once
            try:
                await self._until_stop_or_crash(
                    stop,
                    [
                        pipeline_task,
                        uplink_task,
                        status_task,
                        coldchain_task,
                        thresholds_task,
                        downlink_task,
                        *connector_tasks,
                    ],
                )
            finally:
                downlink.stop()
                await asyncio.gather(downlink_task, return_exceptions=True)
                coldchain.stop()
                thresholds.stop()
                await asyncio.gather(coldchain_task, thresholds_task, return_exceptions=True)
                # Producers in flight get their answer: the pipeline still runs meanwhile.
                await local_api.aclose()
                await self._shutdown(
                    connectors, connector_tasks, pipeline, pipeline_task, uplink, uplink_task
                )
                status_task.cancel()
                await asyncio.gather(status_task, return_exceptions=True)
                await self._write_status(snapshot)
                log.info("status written to %s; bye", self.status_path)

    async def _start_local_api(
        self, stack: contextlib.AsyncExitStack, put: Put, buffer: Buffer, downlink: Downlink
    ) -> str | None:
        settings = self.config.local_api
        if not settings.enabled:
            return None
        token = None if settings.token is None else settings.token.get_secret_value()
        app = create_app(
            put=put,
            health=lambda: self._latest_health,
            token=token,
            pending_scans=pending_scans_from(buffer),
            catalogue=lambda: downlink.catalogue,
        )
        try:
            url = await stack.enter_async_context(serve(app, settings.host, settings.port))
        except OSError as exc:
            log.error(
                "cannot start the local producer API on %s:%d (%s); running without it",
                settings.host,
                settings.port,
                exc,
            )
            return None
        log.info("local producer API listening on %s (POST /api/v1/records)", url)
        return url

    async def _until_stop_or_crash(
        self, stop: asyncio.Event, tasks: list[asyncio.Task[None]]
    ) -> None:
        stopper = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
        for task in done:
            if task is not stopper:
                # A component returning on its own is a bug: stop everything rather than limp on.
                exc = task.exception()
                log.error("%s ended unexpectedly (%r); shutting down", task.get_name(), exc)
                raise RuntimeError(f"{task.get_name()} ended unexpectedly") from exc

    async def _shutdown(
        self,
        connectors: list[Connector],
        connector_tasks: list[asyncio.Task[None]],
        pipeline: Pipeline,
        pipeline_task: asyncio.Task[None],
        uplink: Uplink,
        uplink_task: asyncio.Task[None],
    ) -> None:
        for connector in connectors:
            connector.stop()
        if connector_tasks:
            _, late = await asyncio.wait(connector_tasks, timeout=CONNECTOR_STOP_TIMEOUT_S)
            for task in late:
                task.cancel()
            await asyncio.gather(*connector_tasks, return_exceptions=True)
        pipeline.stop()
        await asyncio.gather(pipeline_task, return_exceptions=True)
        uplink.stop()
        await asyncio.gather(uplink_task, return_exceptions=True)
        drain_s = self.config.uplink.drain_timeout_s
        log.info("draining the buffer to the cloud for up to %.1f s", drain_s)
        if await uplink.drain(drain_s):
            log.info("buffer drained: everything was acknowledged")
        else:
            log.warning(
                "cloud did not acknowledge everything within %.1f s; the rest stays in the buffer "
                "and is sent after restart (last error: %s)",
                drain_s,
                uplink.stats.last_error,
            )

    async def _status_loop(self, snapshot: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        while True:
            await asyncio.sleep(STATUS_EVERY_S)
            await self._write_status(snapshot)

    async def _write_status(self, snapshot: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        self._latest_health = await snapshot()
        try:
            write_status(self.status_path, self._latest_health)
        except OSError as exc:
            log.warning("cannot write %s: %s", self.status_path, exc)
