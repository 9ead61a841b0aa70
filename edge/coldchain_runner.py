"""Run the cold-chain rules inside the gateway.

Taps the records producers hand to the pipeline (connectors' ``submit``, the local API's
``put``), feeds their measurements to :class:`~edge.coldchain.ColdChainEngine`, and submits the
alarms it raises to the pipeline as business records, which the buffer never evicts, so an alarm
is kept while the cloud is unreachable. A clock loop raises alarms no reading triggers (an
excursion outlasting its tolerance while the probe is quiet, a silent probe).

Probe state survives a restart: each alarm is submitted together with the state rows of the
probes it changed (one transaction), other changes are checkpointed every ``checkpoint_s``
through the same pipeline (so a checkpoint is never ahead of an alarm still queued), and the
rows saved last are restored at start (see :mod:`edge.coldchain_state`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from edge.buffer import Replayed, StateWrite
from edge.coldchain import ColdChainEngine, ProbeState, ZoneRule
from edge.coldchain_state import PREFIX, decode_rows, encode, state_key
from edge.config import ColdChainZone
from edge.pipeline import Put
from firmware_bridge.records import Alarm, Measurement, Record
from firmware_bridge.wire import format_time

__all__ = ["PREFIX", "AlarmSink", "ColdChainRunner", "Put", "Sink", "rules_from_config"]

log = logging.getLogger(__name__)

Sink = Callable[[Sequence[Record]], None]

TICK_S = 1.0
CHECKPOINT_S = 10.0


class AlarmSink(Protocol):
    """:meth:`edge.pipeline.Pipeline.submit`: records plus state rows for one transaction."""

    def __call__(self, records: Iterable[Record], *, state: Sequence[StateWrite] = ()) -> None: ...


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
        submit: AlarmSink,
        *,
        clock: Callable[[], datetime] = _utc_now,
        tick_s: float = TICK_S,
        checkpoint_s: float = CHECKPOINT_S,
        saved: Mapping[str, str] | None = None,
    ) -> None:
        """``submit`` takes the alarms and state rows (the pipeline's fire-and-forget entry);
        ``saved`` are the ``edge_state`` rows under :data:`PREFIX` (``Buffer.load_state``)."""
        self._clock = clock
        self._engine = ColdChainEngine(rules, clock())
        self._submit = submit
        self._tick_s = tick_s
        self._checkpoint_s = checkpoint_s
        self._stop = asyncio.Event()
        self.raised = 0
        self.cleared = 0
        self.checkpoints = 0
        self.restored = 0
        """Probes whose state was taken back from ``saved`` at start."""
        if saved:
            probes = decode_rows(saved)
            self.restored = len(probes)
            self._emit(self._engine.restore(probes, clock()))

    def tap(self, sink: Sink) -> Sink:
        """A sink that passes records on to ``sink``, then judges their measurements."""

        def tapped(records: Sequence[Record]) -> None:
            sink(records)
            self.observe(records)

        return tapped

    def tap_put(self, put: Put) -> Put:
        """Like :meth:`tap` for awaited producers; judged once the pipeline accepted them."""

        async def tapped(records: Sequence[Record], *, dedupe_key: str | None = None) -> list[int]:
            seqs = await put(records, dedupe_key=dedupe_key)
            if type(seqs) is not Replayed:  # a replay was judged when first stored
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

    def checkpoint(self) -> None:
        """Submit the state of every probe changed since it was last submitted."""
        writes = self._state_writes()
        if writes:
            self.checkpoints += 1
            self._submit([], state=writes)

    async def run(self) -> None:
        """Tick until :meth:`stop`, checkpointing every ``checkpoint_s`` and at the end."""
        loop = asyncio.get_running_loop()
        due = loop.time() + self._checkpoint_s
        try:
            while not self._stop.is_set():
                self.tick()
                if loop.time() >= due:
                    self.checkpoint()
                    due = loop.time() + self._checkpoint_s
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self._tick_s)
        finally:
            self.checkpoint()

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
            "flagged_readings": self._engine.flagged_readings,
            "restored": self.restored,
            "checkpoints": self.checkpoints,
            "probes": {
                f"{zone}/{device}": _probe_health(state)
                for (zone, device), state in sorted(self._engine.probes().items())
            },
        }

    def _state_writes(self) -> list[StateWrite]:
        writes: list[StateWrite] = []
        for probe in sorted(self._engine.touched):
            found = self._engine.state_of(probe)
            writes.append((state_key(probe), None if found is None else encode(*found)))
        self._engine.touched.clear()
        return writes

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
        self._submit(alarms, state=self._state_writes())


def _probe_health(state: ProbeState) -> dict[str, Any]:
    excursion = state.excursion
    return {
        "last_reading": None if state.last is None else state.last.to_evidence(),
        "out_of_band_since": None if excursion is None else format_time(excursion.first.time),
        "excursion_alarm": excursion is not None and excursion.raised,
        "silent_since": None if state.silent_since is None else format_time(state.silent_since),
    }
