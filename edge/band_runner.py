"""Run band rules (:mod:`edge.band_engine`) inside the gateway.

Taps the records producers hand to the pipeline (connectors' ``submit``, the local API's
``put``), feeds their measurements to the engine with the time they were received on the
gateway's clock, and submits the alarms it raises to the pipeline as business records, which the
buffer never evicts, so an alarm is kept while the cloud is unreachable. A clock loop raises
alarms no reading triggers (an excursion outlasting its tolerance while the probe is quiet, a
silent probe).

Probe state survives a restart: each alarm is submitted together with the state rows of the
probes it changed (one transaction), other changes are checkpointed every ``checkpoint_s``
through the same pipeline (so a checkpoint is never ahead of an alarm still queued), and the
rows saved last are restored at start (see :mod:`edge.band_state`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from edge import band_state
from edge.band_engine import BandEngine, BandRule, ProbeState
from edge.band_state import RuleCodec
from edge.buffer import Replayed, StateWrite
from edge.pipeline import Put
from firmware_bridge.records import Alarm, Measurement, Record
from firmware_bridge.wire import format_time

log = logging.getLogger(__name__)

Sink = Callable[[Sequence[Record]], None]

TICK_S = 1.0
CHECKPOINT_S = 10.0

R = TypeVar("R", bound=BandRule)


class AlarmSink(Protocol):
    """:meth:`edge.pipeline.Pipeline.submit`: records plus state rows for one transaction."""

    def __call__(self, records: Iterable[Record], *, state: Sequence[StateWrite] = ()) -> None: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


class BandRunner(Generic[R]):
    """A subclass names its engine and the codec of its probes' state rows."""

    engine_class: type[BandEngine[R]]
    codec: RuleCodec[R]

    def __init__(
        self,
        rules: Iterable[R],
        submit: AlarmSink,
        *,
        clock: Callable[[], datetime] = utc_now,
        tick_s: float = TICK_S,
        checkpoint_s: float = CHECKPOINT_S,
        saved: Mapping[str, str] | None = None,
    ) -> None:
        """``rules`` go into an :attr:`engine_class` built at ``clock()``; ``submit`` takes the
        alarms and state rows (the pipeline's fire-and-forget entry); ``saved`` are the
        ``edge_state`` rows under the codec's prefix (``Buffer.load_state``)."""
        self._clock = clock
        self._engine = self.engine_class(rules, clock())
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
            probes = band_state.decode_rows(self.codec, saved)
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
        """Judge the measurements among ``records``, received now."""
        received_at = self._clock()
        alarms: list[Alarm] = []
        for record in records:
            if isinstance(record, Measurement):
                alarms.extend(self._engine.observe(record, received_at))
        self._emit(alarms)

    def update_rules(self, rules: Iterable[R]) -> None:
        """Apply new rules without restart; rules that are unchanged keep their state."""
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

    @property
    def rules(self) -> list[R]:
        return self._engine.rules

    def snapshot(self) -> dict[str, Any]:
        """Active alarms, counters and per-probe state (keyed by alarm subject)."""
        return {
            "active": [
                {"rule": a.rule, "subject": a.subject, "started_at": format_time(a.started_at)}
                for a in self._engine.active()
            ],
            "raised": self.raised,
            "cleared": self.cleared,
            **self._engine.counters.as_dict(),
            "restored": self.restored,
            "checkpoints": self.checkpoints,
            "probes": {
                rule.subject(device): probe_health(rule, state)
                for (_, device), (rule, state) in sorted(self._engine.watched().items())
            },
        }

    def _state_writes(self) -> list[StateWrite]:
        writes: list[StateWrite] = []
        for probe in sorted(self._engine.touched):
            found = self._engine.state_of(probe)
            text = None if found is None else band_state.encode(self.codec, *found)
            writes.append((self.codec.state_key(probe), text))
        self._engine.touched.clear()
        return writes

    def _emit(self, alarms: list[Alarm]) -> None:
        if not alarms:
            return
        for alarm in alarms:
            if alarm.ended_at is None:
                self.raised += 1
                log.warning("alarm raised: %s %s", alarm.rule, alarm.subject)
            else:
                self.cleared += 1
                log.info("alarm cleared: %s %s", alarm.rule, alarm.subject)
        self._submit(alarms, state=self._state_writes())


def probe_health(rule: BandRule, state: ProbeState) -> dict[str, Any]:
    excursion = state.excursion
    offset = state.clock.offset_s
    return {
        "last_reading": None if state.last is None else state.last.to_evidence(rule.value_key),
        "heard_at": format_time(state.heard_at),
        "clock_offset_s": None if offset is None else round(offset, 3),
        "out_of_band_since": None if excursion is None else format_time(excursion.first.at),
        "excursion_alarm": excursion is not None and excursion.raised,
        "silent_since": None if state.silent_since is None else format_time(state.silent_since),
    }
