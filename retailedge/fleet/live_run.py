"""A live fleet run against a running cloud and an MQTT broker a gateway subscribes to.

1. set up through the API (:mod:`retailedge.fleet.live_setup`): couriers with rider keys,
   channel keys, stock at the stores;
2. connect each courier's GPS tracker and each reefer van's compartment sensor to the broker,
   start the agents, and wait until the cloud shows every courier where its tracker says (the
   fixes went through the gateway) and every reefer van with its chilled skill;
3. place orders from the channels on their demand curves over the ordering window while the
   agents deliver them; at ``fail_reefer_at_s`` the reefer holding the most chilled work not yet
   on board starts to warm;
4. once every allocated order is delivered (or ``finish_within_s`` is up), read the cloud's
   records, deactivate the run's couriers and report.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import httpx

from retailedge.fleet.live_api import AdminApi, RiderApi, place_order
from retailedge.fleet.live_book import OrderLog, ReeferFailure, RunBook
from retailedge.fleet.live_compartment import CompartmentSensor
from retailedge.fleet.live_metrics import (
    consistency,
    order_deliveries,
    reefer_outcome,
    service_figures,
)
from retailedge.fleet.live_plan import courier_body, order_payload, order_schedule, shift_for
from retailedge.fleet.live_rider import AgentSettings, CourierAgent
from retailedge.fleet.live_route import parse_time
from retailedge.fleet.live_setup import World, prepare
from simulators.fleet_radio import DeviceLink
from simulators.mqtt_devices import Broker

MONITOR_S: Final = 2.0
SETTLE_S: Final = 15.0
HELD: Final = ("assigned", "accepted", "picked_up")

Say = Callable[[str], None]


class LiveRunError(RuntimeError):
    """The run could not go on; the message says what the cloud or the broker did not do."""


@dataclass(frozen=True)
class LiveSettings:
    cloud_url: str
    admin_key: str
    broker: Broker
    counts: dict[str, int]
    """Couriers per kind: rider, van, reefer_van."""
    orders: int
    duration_s: float
    """The ordering window; it stands for ``day_hours`` of a trading day."""
    finish_within_s: float
    """After the window, how long the couriers may take to deliver what is left."""
    day_hours: tuple[float, float] = (9.5, 21.5)
    radius_m: float = 1500.0
    chilled_share: float = 0.3
    """Share of orders with chilled goods (when a reefer van can carry them)."""
    fail_reefer_at_s: float | None = None
    node_ids: tuple[str, ...] = ()
    channel_keys: dict[str, str] = field(default_factory=dict)
    agent: AgentSettings = field(default_factory=AgentSettings)
    sensor_period_s: float = 5.0
    stock_units: int = 500
    seed: int = 1
    ready_timeout_s: float = 60.0


def _now() -> datetime:
    return datetime.now(UTC)


class LiveRun:
    def __init__(self, settings: LiveSettings, say: Say) -> None:
        self.settings = settings
        self.say = say
        self.rng = random.Random(settings.seed)
        self.tag = f"lf{secrets.token_hex(3)}"
        self.book = RunBook(started_at=_now())
        self.sensors: dict[str, CompartmentSensor] = {}
        self.agents: list[asyncio.Task[None]] = []
        self.finish = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []

    async def run(self) -> dict[str, Any]:
        s = self.settings
        async with httpx.AsyncClient(base_url=s.cloud_url, timeout=30.0) as client:
            admin = AdminApi(client, s.admin_key)
            run_s = s.duration_s + s.finish_within_s + s.ready_timeout_s
            world = await prepare(
                admin,
                rng=self.rng,
                tag=self.tag,
                counts=s.counts,
                node_ids=s.node_ids,
                given_keys=s.channel_keys,
                shift=shift_for(_now(), run_s),
                stock_units=s.stock_units,
                say=self.say,
            )
            try:
                async with contextlib.AsyncExitStack() as radios:
                    await self._start_fleet(client, radios, world)
                    await self._until_fleet_visible(admin, world)
                    await self._trade(client, admin, world)
                    await self._stop_all()
                    await self._until_positions_settle(admin)
            finally:
                await self._stop_all()
                await self._retire(admin, world)
            return await self._report(admin, world)

    # -- the fleet --------------------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(work, name=name)
        self._tasks.append(task)
        return task

    async def _start_fleet(
        self, client: httpx.AsyncClient, radios: contextlib.AsyncExitStack, world: World
    ) -> None:
        s = self.settings
        for courier in world.couriers:
            tracker = await radios.enter_async_context(
                DeviceLink.connect(s.broker, courier.tracker_id, f"{courier.tracker_id}-{self.tag}")
            )
            sensor_id = courier.sensor_id
            if sensor_id is not None:
                link = await radios.enter_async_context(
                    DeviceLink.connect(s.broker, sensor_id, f"{sensor_id}-{self.tag}")
                )
                sensor = CompartmentSensor(
                    link,
                    s.sensor_period_s,
                    random.Random(self.rng.random()),
                    on_out_of_band=self._out_of_band(courier.id),
                )
                self.sensors[courier.id] = sensor
                self._spawn(sensor.run(), f"sensor {sensor_id}")
            agent = CourierAgent(
                courier,
                RiderApi(client, world.rider_keys[courier.id]),
                tracker,
                self.book,
                s.agent,
                random.Random(self.rng.random()),
            )
            self.agents.append(self._spawn(agent.run(self.finish), f"courier {courier.id}"))
        self.say(
            f"[live-fleet] {len(world.couriers)} trackers and {len(self.sensors)} compartment "
            f"sensors on {s.broker.host}:{s.broker.port} ({s.broker.topic_prefix}/{s.broker.site})"
        )

    def _out_of_band(self, courier_id: str) -> Callable[[datetime], None]:
        def record(at: datetime) -> None:
            failure = self.book.failure
            if failure is not None and failure.courier_id == courier_id:
                failure.out_of_band_at = at

        return record

    def _check_tasks(self) -> None:
        for task in self._tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise LiveRunError(f"{task.get_name()} failed: {task.exception()}")

    async def _until_fleet_visible(self, admin: AdminApi, world: World) -> None:
        """Until the cloud places every courier by its tracker's fixes and every reefer van has
        its chilled skill (its sensor's readings came through the gateway)."""
        deadline = time.monotonic() + self.settings.ready_timeout_s
        waiting: list[str] = []
        while time.monotonic() < deadline:
            self._check_tasks()
            shown = {c["id"]: c for c in await admin.couriers()}
            waiting = [
                c.id
                for c in world.couriers
                if shown[c.id]["position"]["source"] != "gps"
                or not set(c.kind.skills) <= set(shown[c.id]["effective_skills"])
            ]
            if not waiting:
                self.say("[live-fleet] the cloud sees every courier by its GPS fixes")
                return
            await asyncio.sleep(0.5)
        raise LiveRunError(
            f"after {self.settings.ready_timeout_s:g} s the cloud still has no GPS fix (or no "
            f"compartment reading) of {', '.join(waiting)}: is a gateway subscribed to "
            f"{self.settings.broker.topic_prefix}/+/+/position on "
            f"{self.settings.broker.host}:{self.settings.broker.port}, uplinking to this cloud?"
        )

    # -- trading ----------------------------------------------------------------------------

    async def _trade(self, client: httpx.AsyncClient, admin: AdminApi, world: World) -> None:
        s = self.settings
        self._spawn(self._monitor(admin), "monitor")
        if s.fail_reefer_at_s is not None and self.sensors:
            self._spawn(self._fail_reefer(admin, s.fail_reefer_at_s), "reefer failure")
        placer = self._spawn(self._place_orders(client, world), "orders")
        while not placer.done():
            self._check_tasks()
            await asyncio.sleep(0.2)
        self._check_tasks()
        self.book.ordering_ended_at = _now()
        self.say("[live-fleet] ordering window over; the couriers deliver what is left")
        deadline = time.monotonic() + s.finish_within_s
        while time.monotonic() < deadline and not self._all_delivered():
            self._check_tasks()
            await asyncio.sleep(0.5)
        self.finish.set()
        if self._all_delivered() and self.agents:
            await asyncio.wait(self.agents, timeout=SETTLE_S)  # the last ones ride home idle
        self._check_tasks()
        self.book.ended_at = _now()

    def _all_delivered(self) -> bool:
        allocated = {o.order_id for o in self.book.orders.values() if o.status == "allocated"}
        return allocated <= set(order_deliveries(self.book))

    async def _place_orders(self, client: httpx.AsyncClient, world: World) -> None:
        s = self.settings
        schedule = order_schedule(
            self.rng,
            count=s.orders,
            window_s=s.duration_s,
            day_hours=s.day_hours,
            channels=world.channels,
            stores=world.stores,
            sku_classes=world.sku_classes,
            chilled_share=s.chilled_share if self.sensors else 0.0,
            radius_m=s.radius_m,
            tag=self.tag,
        )
        start = time.monotonic()
        for planned in schedule:
            await asyncio.sleep(max(0.0, start + planned.at_s - time.monotonic()))
            placed_at = _now()
            log = OrderLog(planned.external_id, planned.channel.id, planned.at_s, placed_at)
            self.book.orders[planned.external_id] = log
            payload = order_payload(self.rng, planned, placed_at)
            key = world.channel_keys[planned.channel.id]
            log.http_status, answer = await place_order(client, planned.channel.id, payload, key)
            if log.http_status in (200, 201):
                log.order_id = str(answer["order_id"])
                log.status = str(answer["status"])
                log.reason = answer.get("status_reason")
                log.promise_by = parse_time(answer.get("promise_by"))
            else:
                error = answer.get("error") or {}
                log.reason = f"{error.get('code')}: {error.get('message')}"
            self.say(
                f"[live-fleet] {planned.at_s:6.1f}s order {planned.external_id} via "
                f"{planned.channel.id}: {log.status or log.http_status}"
                + (f" ({log.reason})" if log.reason else "")
            )
        self.book.ordering_ended_at = _now()

    async def _monitor(self, admin: AdminApi) -> None:
        """The ETAs the cloud gives (the first planned drop of each task) and when the failed
        reefer loses its chilled skill."""
        while True:
            orders = {o.order_id for o in self.book.orders.values() if o.order_id}
            for task in await admin.tasks():
                if task["order_id"] not in orders:
                    continue
                log = self.book.task(task["id"], task["order_id"])
                log.temperature_class = task["temperature_class"]
                if log.first_eta is None:
                    log.first_eta = parse_time(task.get("planned_drop_at"))
            failure = self.book.failure
            if failure is not None and failure.skill_lost_at is None:
                for courier in await admin.couriers():
                    if courier["id"] == failure.courier_id and (
                        "chilled" not in courier["effective_skills"]
                    ):
                        failure.skill_lost_at = _now()
                        self.say(
                            f"[live-fleet] the cloud took the chilled skill of {courier['id']}"
                        )
            await asyncio.sleep(MONITOR_S)

    async def _fail_reefer(self, admin: AdminApi, at_s: float) -> None:
        """At ``at_s`` (or as soon after as a reefer van holds chilled work not yet on board,
        until the ordering window ends) the chiller of the reefer van holding the most of it
        fails: the failure that matters to dispatch."""
        await asyncio.sleep(at_s)
        while True:
            held = await self._chilled_held(admin)
            courier_id = max(
                held, key=lambda c: (sum(s != "picked_up" for s in held[c].values()), len(held[c]))
            )
            waiting = sum(s != "picked_up" for s in held[courier_id].values())
            if waiting or self.book.ordering_ended_at is not None:
                break
            await asyncio.sleep(0.5)
        self.book.failure = ReeferFailure(courier_id, _now(), held[courier_id])
        self.sensors[courier_id].fail()
        self.say(
            f"[live-fleet] the chiller of {courier_id} fails (holding "
            f"{len(held[courier_id])} chilled tasks, {waiting} not yet on board)"
        )

    async def _chilled_held(self, admin: AdminApi) -> dict[str, dict[str, str]]:
        """Per reefer van: its chilled tasks and their status."""
        held: dict[str, dict[str, str]] = {courier_id: {} for courier_id in self.sensors}
        for task in await admin.tasks():
            courier_id = task["courier_id"]
            chilled = task["temperature_class"] == "chilled"
            if courier_id in held and task["status"] in HELD and chilled:
                held[courier_id][task["id"]] = task["status"]
        return held

    async def _stop_all(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = [t for t in self._tasks if not t.done()]

    # -- the end ----------------------------------------------------------------------------

    async def _until_positions_settle(self, admin: AdminApi) -> None:
        """Give the gateway time to deliver the last fixes to the cloud."""
        deadline = time.monotonic() + SETTLE_S
        while time.monotonic() < deadline:
            positions = {c["id"]: c["position"] for c in await admin.couriers()}
            if not consistency(self.book, {}, {}, positions)["positions_not_from_last_fix"]:
                return
            await asyncio.sleep(0.3)

    async def _retire(self, admin: AdminApi, world: World) -> None:
        """Deactivate the run's couriers, so no later plan counts on them."""
        shift = shift_for(_now(), 0)
        for courier in world.couriers:
            with contextlib.suppress(httpx.HTTPError, RuntimeError):
                await admin.register_courier(courier_body(courier, shift, active=False))

    async def _report(self, admin: AdminApi, world: World) -> dict[str, Any]:
        s = self.settings
        final = {t["id"]: t for t in await admin.tasks()}
        statuses = {}
        for order in self.book.orders.values():
            if order.order_id is not None:
                statuses[order.order_id] = str((await admin.order(order.order_id))["status"])
        positions = {c["id"]: c["position"] for c in await admin.couriers()}
        flags = await admin.flags()
        failure = self.book.failure
        end = self.book.ended_at or _now()
        return {
            "run": {
                "tag": self.tag,
                "ordering_window_s": s.duration_s,
                "elapsed_s": round((end - self.book.started_at).total_seconds(), 1),
                "couriers": dict(s.counts),
                "stores": [store.id for store in world.stores],
                "channels": [channel.id for channel in world.channels],
                "seed": s.seed,
            },
            **service_figures(self.book),
            "orders_by_status_in_cloud": dict(sorted(Counter(statuses.values()).items())),
            "reefer_failure": reefer_outcome(failure, final, flags) if failure else None,
            "checks": consistency(self.book, final, statuses, positions),
        }


async def run_live_fleet(settings: LiveSettings, say: Say) -> dict[str, Any]:
    return await LiveRun(settings, say).run()
