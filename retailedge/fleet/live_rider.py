"""One courier of a live fleet run, as its rider app and its GPS tracker would act.

The agent reads its tasks from the rider API and rides to the next stop of the plan. Heading
for a pickup it accepts the tasks it fetches there, waits at the store until they are ready,
and picks them up; then it rides to each drop and delivers with the customer's code. Its
tracker publishes a fix every ``gps_period_s`` over MQTT (through the gateway into the cloud:
the cloud learns where the courier is only from those fixes). Tasks the cloud takes away (a
reefer whose compartment left its band) are dropped from the trip.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from retailedge.fleet.live_api import RiderApi
from retailedge.fleet.live_book import CourierLog, FixLog, RunBook
from retailedge.fleet.live_plan import SimCourier
from retailedge.fleet.live_route import RiderTask, Stop, next_stop, parse_time
from simulators.fleet_motion import Fix, Leg, Spot
from simulators.fleet_radio import DeviceLink, position_payload

GONE: Final = (404, 409)
"""Answers to a step on a task that is no longer this courier's to take."""
TICK: Final = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class AgentSettings:
    pickup_s: float = 120.0
    drop_s: float = 180.0
    gps_period_s: float = 2.0
    poll_s: float = 2.0


def _now() -> datetime:
    return datetime.now(UTC)


class CourierAgent:
    def __init__(
        self,
        courier: SimCourier,
        rider: RiderApi,
        tracker: DeviceLink,
        book: RunBook,
        settings: AgentSettings,
        rng: random.Random,
        wall: Callable[[], datetime] = _now,
    ) -> None:
        self.courier = courier
        self.rider = rider
        self.tracker = tracker
        self.book = book
        self.settings = settings
        self.rng = rng
        self.wall = wall
        self.log = book.couriers.setdefault(courier.id, CourierLog(courier.id, courier.kind.kind))
        self.here = courier.start
        self.heading = 0.0
        self.on_board: set[str] = set()
        self._next_fix = 0.0
        self._last_sent: datetime | None = None
        self._sent = 0

    async def run(self, finish: asyncio.Event) -> None:
        """Work until ``finish`` is set and nothing is left to do."""
        await self._standing_fix()
        while True:
            stop = next_stop(await self._tasks())
            if stop is None:
                if finish.is_set():
                    return
                await self._stand(self.settings.poll_s)
                continue
            started = time.monotonic()
            if stop.kind == "pickup":
                await self._pickup(stop)
            else:
                await self._drop(stop)
            self.log.busy_s += time.monotonic() - started

    async def _tasks(self) -> list[RiderTask]:
        return [RiderTask.from_api(task) for task in await self.rider.tasks()]

    async def _mine(self, ids: set[str], status: str) -> list[RiderTask]:
        return [t for t in await self._tasks() if t.id in ids and t.status == status]

    # -- stops -------------------------------------------------------------------------------

    async def _pickup(self, stop: Stop) -> None:
        accepted = [t for t in stop.tasks if t.status == "accepted"]
        for task in stop.tasks:
            if task.status == "assigned" and await self._step(task, "accept") is not None:
                self.book.task(task.id, task.order_id).accepted_by.append(self.courier.id)
                accepted.append(task)
        ids = {t.id for t in accepted}
        if not ids:  # the plan moved them meanwhile: read it again shortly
            await self._stand(min(1.0, self.settings.poll_s))
            return
        if not await self._ride(stop.spot, watch=ids):
            return
        for task in accepted:
            await self._step(task, "arrived")
        while True:  # the store packs the orders until they are ready
            mine = await self._mine(ids, "accepted")
            wait = max((t.ready_at for t in mine), default=self.wall()) - self.wall()
            if not mine or wait.total_seconds() <= 0:
                break
            await self._stand(min(wait.total_seconds(), self.settings.poll_s))
        if not mine:
            return
        await self._stand(self.settings.pickup_s)
        for task in mine:
            answer = await self._step(task, "picked-up")
            if answer is None:
                continue
            log = self.book.task(task.id, task.order_id)
            log.temperature_class = task.temperature_class
            log.picked_up_by.append(self.courier.id)
            log.picked_up_at = parse_time(answer.get("picked_up_at"))
            log.eta_at_pickup = parse_time(answer.get("planned_drop_at"))
            self.on_board.add(task.id)
        if len(self.on_board) > 1:
            for task_id in self.on_board:
                self.book.tasks[task_id].batched = True
        self.log.max_load = max(self.log.max_load, len(self.on_board))

    async def _drop(self, stop: Stop) -> None:
        [task] = stop.tasks
        await self._ride(stop.spot, watch=None)
        await self._stand(self.settings.drop_s)
        code = f"{self.rng.randrange(10**6):06d}"
        answer = await self._step(task, "delivered", {"proof": {"code": code}})
        self.on_board.discard(task.id)
        if answer is None:
            return
        log = self.book.task(task.id, task.order_id)
        log.delivered_by.append(self.courier.id)
        log.delivered_at = parse_time(answer.get("finished_at"))
        log.proof_code = code

    async def _step(
        self, task: RiderTask, step: str, body: dict[str, object] | None = None
    ) -> dict[str, object] | None:
        """The task after ``step``, or None when it is no longer this courier's."""
        status, answer = await self.rider.step(task.id, step, body)
        if status == 200:
            return answer
        if status in GONE:
            return None
        raise RuntimeError(f"{self.courier.id}: {step} {task.id}: HTTP {status}: {answer}")

    # -- moving and the tracker ---------------------------------------------------------------

    async def _ride(self, target: Spot, watch: set[str] | None) -> bool:
        """Ride to ``target``; False when every watched (accepted) task was taken away on the
        way, and the courier stops where it is."""
        leg = Leg.plan(self.here, target, time.monotonic(), self.courier.speed_mps)
        checked = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= leg.end_s:
                break
            await asyncio.sleep(max(0.0, min(self._next_fix, leg.end_s) - now))
            fix = leg.at(time.monotonic())
            if time.monotonic() >= self._next_fix:
                await self._publish(fix)
            if watch and time.monotonic() - checked >= self.settings.poll_s:
                checked = time.monotonic()
                if not await self._mine(watch, "accepted"):
                    self._stop_at(leg, fix)
                    return False
        self.log.metres += leg.length_m
        self.here = target
        await self._publish(leg.at(leg.end_s))
        return True

    def _stop_at(self, leg: Leg, fix: Fix) -> None:
        self.log.metres += leg.covered_m(fix.t_s)
        self.here = Spot(fix.lat, fix.lon)
        self.heading = fix.course_deg

    async def _stand(self, seconds: float) -> None:
        """Wait where the courier is, the tracker reporting on its period."""
        until = time.monotonic() + seconds
        while True:
            now = time.monotonic()
            if now >= until:
                return
            await asyncio.sleep(max(0.0, min(self._next_fix, until) - now))
            if time.monotonic() >= self._next_fix:
                await self._standing_fix()

    async def _standing_fix(self) -> None:
        await self._publish(Fix(time.monotonic(), self.here.lat, self.here.lon, 0.0, self.heading))

    async def _publish(self, fix: Fix) -> None:
        at = self.wall()
        at = at.replace(microsecond=at.microsecond // 1000 * 1000)
        if self._last_sent is not None and at <= self._last_sent:
            at = self._last_sent + TICK  # every fix newer than the last, as a receiver's are
        self._last_sent = at
        self.heading = fix.course_deg
        self._next_fix = time.monotonic() + self.settings.gps_period_s
        # A fix on its way is seen through even when the run stops the courier meanwhile, so
        # the record of its last fix is what the broker got.
        await asyncio.shield(self._send(at, fix))

    async def _send(self, at: datetime, fix: Fix) -> None:
        self._sent += 1
        msg_id = f"{self.tracker.device_id}-{self._sent}"
        await self.tracker.publish(
            "position", position_payload(msg_id, at, fix, self.courier.tracker_id)
        )
        self.log.fixes += 1
        self.log.last_fix = FixLog(at, round(fix.lat, 7), round(fix.lon, 7))
