"""Cold-chain probe state survives a gateway restart: written with the alarm records (one
transaction) or checkpointed, restored at start, so an open alarm is neither raised again nor
forgotten."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from edge.buffer import Buffer
from edge.coldchain import EXCURSION_RULE, Excursion, ProbeState, Reading, ZoneRule
from edge.coldchain_runner import PREFIX, ColdChainRunner
from edge.coldchain_state import decode, decode_rows, encode, state_key
from edge.device_clock import DeviceClock
from edge.pipeline import Pipeline
from tests.edge.test_edge_coldchain import CHILLED, at, excursion, point, temp

PROBE = ("chiller-1", "probe-1")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@asynccontextmanager
async def gateway_parts(path: Path) -> AsyncIterator[tuple[Buffer, Pipeline]]:
    async with Buffer.open(path) as buffer:
        pipeline = Pipeline(buffer)
        task = asyncio.create_task(pipeline.run())
        try:
            yield buffer, pipeline
        finally:
            pipeline.stop()
            await task


async def alarms_in(buffer: Buffer) -> list[dict[str, object]]:
    rows = await buffer.peek(100, 10**6)
    return [json.loads(r.payload) for r in rows if r.kind == "alarm"]


def test_state_round_trips_through_json() -> None:
    state = ProbeState(
        heard_at=at(702),
        last=Reading(at(700), at(701), 9.5),
        excursion=Excursion(
            Reading(at(0), at(1), 5.0),
            Reading(at(700), at(701), 9.5),
            Reading(at(3600), at(300), 11.0, clock_suspect=True),
            7.0,
            True,
        ),
        silent_since=at(900),
        clock=DeviceClock(1.0, True, at(701), at(650), -3000.0),
        caught_up=False,
    )
    rule = replace(CHILLED, devices=("probe-1",), min_c=None)
    assert decode(PROBE, encode(rule, state)) == (rule, state)
    assert decode(PROBE, encode(rule, ProbeState(heard_at=at(5)))) == (
        rule,
        ProbeState(heard_at=at(5)),
    )
    assert state_key(("z/1", 'd"2')) == 'coldchain:["z/1", "d\\"2"]'


def test_unreadable_rows_are_skipped() -> None:
    good = encode(CHILLED, ProbeState(heard_at=at(0)))
    rows = {state_key(PROBE): good, 'coldchain:["x"]': good, state_key(("z", "d")): "{}"}
    assert list(decode_rows(rows)) == [PROBE]


async def test_a_raised_alarm_is_neither_raised_again_nor_forgotten_after_restart(
    tmp_path: Path,
) -> None:
    rule = replace(CHILLED, tolerance_s=60)
    clock = Clock(at(0))
    async with gateway_parts(tmp_path / "outbox.db") as (buffer, pipeline):
        runner = ColdChainRunner([rule], pipeline.submit, clock=clock)
        runner.observe([temp(0, 6.0)])
        clock.now = at(60)
        runner.observe([temp(60, 7.0)])
        await pipeline.flush()
        # The alarm and the probe's state are in the buffer together.
        assert [a["rule"] for a in await alarms_in(buffer)] == [EXCURSION_RULE]
        saved = await buffer.load_state(PREFIX)
        assert list(saved) == [state_key(PROBE)]
    # Restart: a new runner from the saved rows.
    clock.now = at(90)
    async with gateway_parts(tmp_path / "outbox.db") as (buffer, pipeline):
        restarted = ColdChainRunner(
            [rule], pipeline.submit, clock=clock, saved=await buffer.load_state(PREFIX)
        )
        assert restarted.restored == 1
        active = {"rule": EXCURSION_RULE, "subject": "chiller-1/probe-1"}
        assert restarted.snapshot()["active"] == [{**active, "started_at": "2026-03-01T08:00:00Z"}]
        restarted.observe([temp(90, 8.0)])  # still out: nothing raised again
        restarted.tick()
        assert restarted.raised == 0
        clock.now = at(120)
        restarted.observe([temp(120, 3.0)])  # back in band: the open alarm is cleared
        await pipeline.flush()
        back = point(120, 3.0)
        cleared = excursion(rule, "probe-1", (0, 6.0), (90, 8.0), (90, 8.0), back_in_band=back)
        alarms = await alarms_in(buffer)
        assert [(a["ended_at"], a["evidence"]) for a in alarms] == [
            (None, excursion(rule, "probe-1", (0, 6.0), (60, 7.0), (60, 7.0)).evidence),
            ("2026-03-01T08:02:00Z", cleared.evidence),
        ]
        assert restarted.cleared == 1
        probe = json.loads((await buffer.load_state(PREFIX))[state_key(PROBE)])
        assert probe["excursion"] is None and probe["last"]["value"] == 3.0


async def test_a_checkpoint_keeps_an_excursion_not_yet_alarmed(tmp_path: Path) -> None:
    rule = replace(CHILLED, tolerance_s=600)
    clock = Clock(at(0))
    async with gateway_parts(tmp_path / "outbox.db") as (buffer, pipeline):
        runner = ColdChainRunner([rule], pipeline.submit, clock=clock, checkpoint_s=0.01)
        runner.observe([temp(0, 6.0)])
        clock.now = at(30)
        runner.observe([temp(30, 6.5)])
        task = asyncio.create_task(runner.run())
        await asyncio.sleep(0.05)
        runner.stop()
        await task
        await pipeline.flush()
        assert runner.checkpoints == 1  # nothing changed after the first
        assert await alarms_in(buffer) == []
    clock.now = at(590)
    async with gateway_parts(tmp_path / "outbox.db") as (buffer, pipeline):
        restarted = ColdChainRunner(
            [rule], pipeline.submit, clock=clock, saved=await buffer.load_state(PREFIX)
        )
        assert restarted.tick() is None and restarted.raised == 0
        # Ten minutes after the first out-of-band reading before the restart: raised.
        clock.now = at(600)
        restarted.observe([temp(600, 6.0)])
        await pipeline.flush()
        alarms = await alarms_in(buffer)
        assert [(a["started_at"], a["ended_at"]) for a in alarms] == [
            ("2026-03-01T08:00:00Z", None)
        ]


@pytest.mark.parametrize(
    ("rules", "reason"),
    [([], "rule removed"), ([replace(CHILLED, max_c=10.0)], "rule changed")],
)
async def test_an_alarm_whose_rule_went_away_or_widened_while_down_is_cleared_at_start(
    tmp_path: Path, rules: list[ZoneRule], reason: str
) -> None:
    rule = replace(CHILLED, tolerance_s=0)
    clock = Clock(at(0))
    async with gateway_parts(tmp_path / "outbox.db") as (buffer, pipeline):
        ColdChainRunner([rule], pipeline.submit, clock=clock).observe([temp(0, 6.0)])
        await pipeline.flush()
    clock.now = at(50)
    async with gateway_parts(tmp_path / "outbox.db") as (buffer, pipeline):
        restarted = ColdChainRunner(
            rules, pipeline.submit, clock=clock, saved=await buffer.load_state(PREFIX)
        )
        await pipeline.flush()
        alarms = await alarms_in(buffer)
        assert [(a["ended_at"], a["evidence"]["reason"]) for a in alarms[1:]] == [  # type: ignore[index]
            ("2026-03-01T08:00:50Z", reason)
        ]
        assert restarted.snapshot()["active"] == []
        saved = await buffer.load_state(PREFIX)
        assert (state_key(PROBE) in saved) is bool(rules)


async def test_a_restart_is_not_taken_for_sensor_silence(tmp_path: Path) -> None:
    clock = Clock(at(0))
    async with gateway_parts(tmp_path / "outbox.db") as (buffer, pipeline):
        runner = ColdChainRunner([CHILLED], pipeline.submit, clock=clock)
        runner.observe([temp(0, 3.0)])
        runner.checkpoint()
        await pipeline.flush()
    clock.now = at(500)  # down far longer than 3 x 30 s
    async with gateway_parts(tmp_path / "outbox.db") as (buffer, pipeline):
        restarted = ColdChainRunner(
            [CHILLED], pipeline.submit, clock=clock, saved=await buffer.load_state(PREFIX)
        )
        restarted.tick()
        assert restarted.raised == 0
        clock.now = at(590)  # but 90 s of silence after the restart is
        restarted.tick()
        assert restarted.raised == 2  # both probes of the zone
        probes = restarted.snapshot()["probes"]
        assert probes["chiller-1/probe-1"]["last_reading"] == point(0, 3.0)


def test_a_row_written_before_gateway_clock_placement_is_read_back() -> None:
    """An upgrade keeps an open alarm: the old row had device times only and no clock."""
    reading = {"time": "2026-03-01T08:10:00Z", "value_c": 7.0}
    old = {
        "rule": {
            "zone": "chiller-1",
            "min_c": 0.0,
            "max_c": 4.0,
            "tolerance_s": 600.0,
            "silence_periods": 3,
            "sample_period_s": 30.0,
        },
        "last_seen": "2026-03-01T08:10:00Z",
        "last": reading,
        "excursion": {
            "first": {"time": "2026-03-01T08:00:00Z", "value_c": 6.0},
            "last": reading,
            "peak": reading,
            "peak_deviation": 3.0,
            "raised": True,
        },
        "silent_since": None,
    }
    rule, state = decode(PROBE, json.dumps(old))
    assert rule == replace(CHILLED, devices=("probe-1",))
    assert state == ProbeState(
        heard_at=at(600),
        last=Reading(at(600), at(600), 7.0),
        excursion=Excursion(
            Reading(at(0), at(0), 6.0),
            Reading(at(600), at(600), 7.0),
            Reading(at(600), at(600), 7.0),
            3.0,
            True,
        ),
        clock=DeviceClock(),
    )
