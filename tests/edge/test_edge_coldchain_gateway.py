"""Cold chain in the gateway: the [[coldchain]] config, the runner's taps and clock, and an alarm
raised while the cloud is unreachable that reaches the cloud once it is back."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.buffer import StateWrite
from edge.coldchain import EXCURSION_RULE, SILENCE_RULE, ZoneRule
from edge.coldchain_runner import ColdChainRunner, rules_from_config
from edge.config import ConfigError, parse_config
from edge.gateway import Gateway
from firmware_bridge.records import Alarm, Measurement, Quantity, Record, Severity, Unit
from firmware_bridge.wire import format_time, parse_time, record_to_wire
from tests.edge.fake_cloud import FakeCloud
from tests.edge.pty_gps import until

T0 = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)
CHILLER = {
    "zone": "chiller-1",
    "devices": ["probe-1", "probe-2"],
    "min_c": 0.0,
    "max_c": 4.0,
    "tolerance_s": 600,
    "silence_periods": 3,
    "sample_period_s": 30,
}


def config_data(tmp_path: Path, coldchain: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "gateway": {"id": "store-01", "data_dir": str(tmp_path / "data")},
        "cloud": {"url": "https://cloud.example", "token": "secret-token"},
        "uplink": {
            "interval_s": 0.02,
            "backoff_initial_s": 0.02,
            "backoff_max_s": 0.05,
            "drain_timeout_s": 0.5,
        },
        "local_api": {"port": 0},
        "coldchain": coldchain,
    }


def temp(time: datetime, value: float, device: str = "probe-1") -> Measurement:
    return Measurement(device, time, Quantity.TEMPERATURE, value, Unit.CELSIUS)


def test_coldchain_sections_become_rules(tmp_path: Path) -> None:
    frozen = {"zone": "freezer", "devices": ["probe-9"], "max_c": -18}
    config = parse_config(
        config_data(tmp_path, [CHILLER, frozen]), source=tmp_path / "gw.toml", environ={}
    )
    assert rules_from_config(config.coldchain) == [
        ZoneRule("chiller-1", ("probe-1", "probe-2"), 0.0, 4.0, 600.0, 3, 30.0),
        ZoneRule("freezer", ("probe-9",), None, -18.0, 600.0, 3, 30.0),
    ]


@pytest.mark.parametrize(
    ("zones", "problem"),
    [
        ([{"zone": "z", "devices": ["p"]}], "coldchain[0]: set min_c, max_c or both"),
        (
            [{"zone": "z", "devices": ["p"], "min_c": 5, "max_c": 4}],
            "coldchain[0]: min_c must be <= max_c",
        ),
        ([{"zone": "z", "devices": [], "max_c": 4}], "coldchain[0].devices: List should have"),
        ([{"zone": "z", "devices": ["p", "p"], "max_c": 4}], "a device is listed twice"),
        ([{**CHILLER, "tolerance_s": -1}], "coldchain[0].tolerance_s: Input should be"),
        ([{**CHILLER, "limit": 1}], "coldchain[0].limit: unknown key"),
        ([CHILLER, CHILLER], "coldchain: zone used twice: chiller-1"),
    ],
)
def test_bad_coldchain_sections_are_refused_naming_the_field(
    tmp_path: Path, zones: list[dict[str, Any]], problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(config_data(tmp_path, zones), source=tmp_path / "gw.toml", environ={})
    assert problem in str(caught.value)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Submitted:
    """Stands in for Pipeline.submit: the records and state rows, as submitted."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.states: list[list[StateWrite]] = []

    def __call__(self, records: Iterable[Record], *, state: Sequence[StateWrite] = ()) -> None:
        self.records.extend(records)
        self.states.append(list(state))


def runner_with(rules: list[ZoneRule], clock: Clock) -> tuple[ColdChainRunner, list[Record]]:
    out = Submitted()
    return ColdChainRunner(rules, out, clock=clock, tick_s=0.01), out.records


RULE = ZoneRule("chiller-1", ("probe-1",), 0.0, 4.0, tolerance_s=60, sample_period_s=30)


async def test_tap_passes_records_on_first_then_submits_alarms() -> None:
    clock = Clock(T0)
    runner, alarms = runner_with([RULE], clock)
    passed: list[Record] = []
    sink = runner.tap(passed.extend)
    readings = [temp(T0, 5.0), temp(T0 + timedelta(seconds=60), 6.0)]
    sink(readings[:1])
    clock.now = readings[1].time
    sink(readings[1:])
    assert passed == readings
    first, last = readings[0].time, readings[1].time
    assert alarms == [
        Alarm(
            rule=EXCURSION_RULE,
            subject="chiller-1/probe-1",
            severity=Severity.CRITICAL,
            started_at=T0,
            evidence={
                "zone": "chiller-1",
                "device": "probe-1",
                "band": {"min_c": 0.0, "max_c": 4.0, "tolerance_s": 60},
                "first_out": point(first, 5.0),
                "last_out": point(last, 6.0),
                "peak": point(last, 6.0),
            },
        )
    ]
    assert runner.snapshot() == {
        "zones": ["chiller-1"],
        "active": [
            {"rule": EXCURSION_RULE, "subject": "chiller-1/probe-1", "started_at": format_time(T0)}
        ],
        "raised": 1,
        "cleared": 0,
        "flagged_readings": 0,
        "late_readings": 0,
        "out_of_order_readings": 0,
        "clock_suspect_readings": 0,
        "clocks_relearned": 0,
        "restored": 0,
        "checkpoints": 0,
        "probes": {
            "chiller-1/probe-1": {
                "last_reading": point(last, 6.0),
                "heard_at": format_time(last),
                "clock_offset_s": 0.0,
                "out_of_band_since": format_time(T0),
                "excursion_alarm": True,
                "silent_since": None,
            }
        },
    }


def point(time: datetime, value: float) -> dict[str, Any]:
    """A reading of a probe whose clock agrees with the gateway's, in evidence."""
    return {"time": format_time(time), "gateway_time": format_time(time), "value_c": value}


async def test_tap_put_judges_only_what_the_pipeline_accepted() -> None:
    clock = Clock(T0)
    runner, alarms = runner_with([RULE], clock)

    async def refuse(records: Sequence[Record], *, dedupe_key: str | None = None) -> list[int]:
        raise RuntimeError("full")

    async def accept(records: Sequence[Record], *, dedupe_key: str | None = None) -> list[int]:
        return list(range(1, len(records) + 1))

    with pytest.raises(RuntimeError):
        await runner.tap_put(refuse)([temp(T0, 9.0)])
    for s in (30, 60):  # had the refused reading been judged, 60 s would be out by now
        clock.now = T0 + timedelta(seconds=s)
        assert await runner.tap_put(accept)([temp(clock.now, 9.0)]) == [1]
    assert alarms == []
    clock.now = T0 + timedelta(seconds=90)
    await runner.tap_put(accept)([temp(clock.now, 9.0)])
    assert [a.started_at for a in alarms] == [T0 + timedelta(seconds=30)]


async def test_run_ticks_the_clock_and_update_rules_clears_removed_zones() -> None:
    clock = Clock(T0)
    runner, alarms = runner_with([RULE], clock)
    task = asyncio.create_task(runner.run())
    clock.now = T0 + timedelta(seconds=90)
    await until(lambda: len(alarms) == 1)
    runner.update_rules([])
    runner.stop()
    await asyncio.wait_for(task, 1)
    silent = Alarm(
        rule=SILENCE_RULE,
        subject="chiller-1/probe-1",
        severity=Severity.WARNING,
        started_at=T0 + timedelta(seconds=90),
        evidence={
            "zone": "chiller-1",
            "device": "probe-1",
            "silence_s": 90.0,
            "last_reading": None,
        },
    )
    ended = Alarm(
        rule=silent.rule,
        subject=silent.subject,
        severity=silent.severity,
        started_at=silent.started_at,
        ended_at=clock.now,
        evidence={**silent.evidence, "reason": "rule removed"},
    )
    assert alarms == [silent, ended]
    assert (runner.raised, runner.cleared) == (1, 1)


class SwitchableCloud:
    """The fake cloud behind a switch: while down, every connection is refused."""

    def __init__(self) -> None:
        self.cloud = FakeCloud()
        self.down = True
        self.refused = 0

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            self.refused += 1
            raise httpx.ConnectError("connection refused", request=request)
        return self.cloud.handle(request)


def buffered(data_dir: Path) -> list[tuple[int, str, dict[str, Any]]]:
    with sqlite3.connect(data_dir / "outbox.db") as db:
        rows = db.execute("SELECT seq, kind, payload FROM outbox ORDER BY seq").fetchall()
    return [(seq, kind, json.loads(payload)) for seq, kind, payload in rows]


async def test_alarm_raised_while_the_cloud_is_down_reaches_it_when_it_returns(
    tmp_path: Path,
) -> None:
    zone = {**CHILLER, "tolerance_s": 0}
    config = parse_config(config_data(tmp_path, [zone]), source=tmp_path / "gw.toml", environ={})
    remote = SwitchableCloud()
    gateway = Gateway(config, transport=remote.transport())
    stop = asyncio.Event()
    task = asyncio.create_task(gateway.run(stop))
    now = datetime.now(UTC).replace(microsecond=0)
    reading = temp(now, 7.5)
    try:
        await until(lambda: gateway.local_api_url is not None)
        async with httpx.AsyncClient(base_url=str(gateway.local_api_url)) as http:
            sent = datetime.now(UTC)
            answer = await http.post("/api/v1/records", json={"records": [record_to_wire(reading)]})
            answered = datetime.now(UTC)
        assert answer.status_code == 200
        data_dir = config.gateway.data_dir
        await until(lambda: len(buffered(data_dir)) == 2 and remote.refused >= 2)
        # Judged on the gateway's clock: the alarm starts when the reading was received; the
        # evidence keeps the probe's own time too.
        received = parse_time(buffered(data_dir)[1][2]["started_at"])
        assert sent <= received <= answered
        first_out = {
            "time": format_time(now),
            "gateway_time": format_time(received),
            "value_c": 7.5,
        }
        alarm = Alarm(
            rule=EXCURSION_RULE,
            subject="chiller-1/probe-1",
            severity=Severity.CRITICAL,
            started_at=received,
            evidence={
                "zone": "chiller-1",
                "device": "probe-1",
                "band": {"min_c": 0.0, "max_c": 4.0, "tolerance_s": 0.0},
                "first_out": first_out,
                "last_out": first_out,
                "peak": first_out,
            },
        )
        assert buffered(data_dir) == [
            (1, "measurement", record_to_wire(reading)),
            (2, "alarm", record_to_wire(alarm)),
        ]
        assert remote.cloud.stored == {}
        remote.down = False
        await until(lambda: len(remote.cloud.stored) == 2, within=5)
        await until(lambda: buffered(data_dir) == [])
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    assert remote.cloud.stored == {1: record_to_wire(reading, 1), 2: record_to_wire(alarm, 2)}
    assert gateway.coldchain is not None
    assert gateway.coldchain.snapshot()["raised"] == 1
    status = json.loads(gateway.status_path.read_text())
    assert status["coldchain"]["active"] == [
        {
            "rule": EXCURSION_RULE,
            "subject": "chiller-1/probe-1",
            "started_at": format_time(received),
        }
    ]
    probe = status["coldchain"]["probes"]["chiller-1/probe-1"]
    assert probe["out_of_band_since"] == format_time(received)

    # Restarted on the same data folder: the open alarm is known, not raised again, and the
    # next in-band reading clears it with the evidence from before the restart.
    again = Gateway(config, transport=remote.transport())
    stop = asyncio.Event()
    task = asyncio.create_task(again.run(stop))
    back = temp(now + timedelta(seconds=1), 3.0)
    try:
        await until(lambda: again.local_api_url is not None)
        assert again.coldchain is not None
        assert again.coldchain.snapshot()["restored"] == 1
        assert again.coldchain.snapshot()["active"] == status["coldchain"]["active"]
        async with httpx.AsyncClient(base_url=str(again.local_api_url)) as http:
            for record in (temp(now + timedelta(milliseconds=500), 8.0), back):
                answer = await http.post(
                    "/api/v1/records", json={"records": [record_to_wire(record)]}
                )
                assert answer.status_code == 200
        await until(lambda: len(remote.cloud.stored) == 5, within=5)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    cleared = remote.cloud.stored[5]
    back_in_band = cleared["evidence"]["back_in_band"]
    assert (cleared["kind"], cleared["started_at"], cleared["ended_at"]) == (
        "alarm",
        format_time(received),
        back_in_band["gateway_time"],
    )
    assert (back_in_band["time"], back_in_band["value_c"]) == (format_time(back.time), 3.0)
    assert parse_time(back_in_band["gateway_time"]) > received
    assert cleared["evidence"]["first_out"] == first_out
    assert cleared["evidence"]["peak"]["value_c"] == 8.0
    assert (again.coldchain.raised, again.coldchain.cleared) == (0, 1)
