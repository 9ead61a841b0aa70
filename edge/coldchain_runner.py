"""Run the cold-chain rules inside the gateway.

Taps the records producers hand to the pipeline (connectors' ``submit``, the local API's
``put``), feeds their measurements to :class:`~edge.coldchain.ColdChainEngine`, and submits the
alarms it raises to the pipeline as business records, which the buffer never evicts, so an alarm
is kept while the cloud is unreachable. A clock loop raises alarms no reading triggers (an
excursion outlasting its tolerance while the probe is quiet, a silent probe).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from edge.coldchain import ColdChainEngine, ZoneRule
from edge.config import ColdChainZone
from firmware_bridge.records import Alarm, Measurement, Record
from firmware_bridge.wire import format_time

log = logging.getLogger(__name__)

Sink = Callable[[Sequence[Record]], None]
Put = Callable[[Sequence[Record]], Awaitable[list[int]]]

TICK_S = 1.0


def _utc_now() -> datetime:
    return datetime.now(UTC)


def rules_from_config(zones: Iterable[ColdChainZone]) -> list[ZoneRule]:
    return [
        ZoneRule(
            zone=zone.zone,
            devices=tuple(zone.devices),
            min_c=zone.min_c,
            max_c=zone.max_c,
            tolerance_s=zone.tolerance_s,
            silence_periods=zone.silence_periods,
            sample_period_s=zone.sample_period_s,
        )
        for zone in zones
    ]


class ColdChainRunner:
    def __init__(
        self,
        rules: Iterable[ZoneRule],
        submit: Sink,
        *,
        clock: Callable[[], datetime] = _utc_now,
        tick_s: float = TICK_S,
    ) -> None:
        """``submit`` takes the alarms (the pipeline's fire-and-forget entry)."""
        self._clock = clock
        self._engine = ColdChainEngine(rules, clock())
        self._submit = submit
        self._tick_s = tick_s
        self._stop = asyncio.Event()
        self.raised = 0
        self.cleared = 0

    def tap(self, sink: Sink) -> Sink:
        """A sink that passes records on to ``sink``, then judges their measurements."""

        def tapped(records: Sequence[Record]) -> None:
            sink(records)
            self.observe(records)

        return tapped

    def tap_put(self, put: Put) -> Put:
        """Like :meth:`tap` for awaited producers; judged once the pipeline accepted them."""

        async def tapped(records: Sequence[Record]) -> list[int]:
            seqs = await put(records)
            self.observe(records)
            return seqs

        return tapped

    def observe(self, records: Iterable[Record]) -> None:
        alarms: list[Alarm] = []
        for record in records:
            if isinstance(record, Measurement):
                alarms.extend(self._engine.observe(record))
        self._emit(alarms)

    def update_rules(self, rules: Iterable[ZoneRule]) -> None:
        """Apply new rules without restart; zones whose rule is unchanged keep their state."""
        self._emit(self._engine.update_rules(rules, self._clock()))

    def tick(self) -> None:
        self._emit(self._engine.tick(self._clock()))

    async def run(self) -> None:
        """Tick until :meth:`stop`."""
        while not self._stop.is_set():
            self.tick()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._tick_s)

    def stop(self) -> None:
        self._stop.set()

    def snapshot(self) -> dict[str, Any]:
        return {
            "zones": sorted(rule.zone for rule in self._engine.rules),
            "active": [
                {"rule": a.rule, "subject": a.subject, "started_at": format_time(a.started_at)}
                for a in self._engine.active()
            ],
            "raised": self.raised,
            "cleared": self.cleared,
            "stale_readings": self._engine.stale_readings,
        }

    def _emit(self, alarms: list[Alarm]) -> None:
        if not alarms:
            return
        for alarm in alarms:
            if alarm.ended_at is None:
                self.raised += 1
                log.warning("cold-chain alarm raised: %s %s", alarm.rule, alarm.subject)
            else:
                self.cleared += 1
                log.info("cold-chain alarm cleared: %s %s", alarm.rule, alarm.subject)
        self._submit(alarms)
