"""Device-profile thresholds (``[[alarms]]``): which devices get which rules, raise and clear on
the shared band engine, state kept across a restart."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from device_profiles import ProfileError, load_profile
from device_profiles.loader import profile_from_dict
from edge.band_state import decode, decode_rows, encode
from edge.config import parse_config
from edge.device_thresholds import (
    CODEC,
    THRESHOLD_RULE,
    ThresholdEngine,
    ThresholdRule,
    threshold_rules,
)
from edge.threshold_runner import PREFIX, ThresholdRunner, profiles_by_device
from firmware_bridge.records import Alarm, Measurement, MeasurementQuality, Quantity, Severity, Unit
from firmware_bridge.wire import format_time
from tests.edge.test_edge_coldchain_state import Clock, alarms_in, gateway_parts

T0 = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)
BATTERY = ThresholdRule(
    device="tag-1",
    profile="ruuvitag",
    quantity=Quantity.BATTERY_VOLTAGE,
    unit=Unit.VOLT,
    min=2.5,
    max=None,
    hold_s=600.0,
    severity=Severity.WARNING,
)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def volts(s: float, value: float, device: str = "tag-1") -> Measurement:
    return Measurement(device, at(s), Quantity.BATTERY_VOLTAGE, value, Unit.VOLT)


def point(s: float, value: float) -> dict[str, Any]:
    return {"time": format_time(at(s)), "gateway_time": format_time(at(s)), "value": value}


def low_battery(
    first: tuple[float, float],
    last: tuple[float, float],
    peak: tuple[float, float],
    *,
    ended: float | None = None,
    **extra: Any,
) -> Alarm:
    return Alarm(
        rule=THRESHOLD_RULE,
        subject="tag-1/battery_voltage",
        severity=Severity.WARNING,
        started_at=at(first[0]),
        ended_at=None if ended is None else at(ended),
        evidence={
            "device": "tag-1",
            "quantity": "battery_voltage",
            "unit": "V",
            "profile": "ruuvitag",
            "band": {"min": 2.5, "max": None, "hold_s": 600.0},
            "first_out": point(*first),
            "last_out": point(*last),
            "peak": point(*peak),
            **extra,
        },
    )


def config_devices(tmp_path: Path) -> dict[str, Any]:
    return {
        "gateway": {"id": "store-01", "data_dir": str(tmp_path / "data")},
        "cloud": {"url": "https://cloud.example", "token": "secret-token"},
        "devices": [
            {
                "id": "bus",
                "type": "modbus_rtu",
                "port": "/dev/ttyUSB0",
                "profile": "xy-md02",
                "slaves": [
                    {"address": 1, "id": "probe-1"},
                    {"address": 2, "id": "probe-2", "profile": "rs-ws-n01-8"},
                ],
            },
            {
                "id": "ble",
                "type": "ble",
                "sensors": [
                    {"address": "AA:BB:CC:DD:EE:01", "id": "tag-1", "format": "ruuvi"},
                    {"address": "AA:BB:CC:DD:EE:02", "id": "shelf-1", "format": "atc"},
                ],
            },
            {"id": "field", "type": "mqtt", "client_id": "gw-1"},
        ],
    }


def test_devices_with_a_profile_get_its_thresholds(tmp_path: Path) -> None:
    config = parse_config(config_devices(tmp_path), source=tmp_path / "gw.toml", environ={})
    profiles = profiles_by_device(config.devices)
    assert {device: p.model for device, p in profiles.items()} == {
        "probe-1": "xy-md02",
        "probe-2": "rs-ws-n01-8",
        "tag-1": "ruuvitag",
        "shelf-1": "lywsd03mmc-atc",
    }
    probe = replace(BATTERY, device="probe-1", profile="xy-md02", quantity=Quantity.TEMPERATURE)
    assert threshold_rules(profiles) == [
        replace(probe, unit=Unit.CELSIUS, min=0.0, max=8.0, hold_s=300.0),
        BATTERY,
        replace(
            BATTERY,
            device="shelf-1",
            profile="lywsd03mmc-atc",
            quantity=Quantity.BATTERY_LEVEL,
            unit=Unit.PERCENT,
            min=10.0,
        ),
    ]


@pytest.mark.parametrize("model", ["lywsd03mmc-pvvx", "bthome-door"])
def test_battery_powered_ble_profiles_warn_below_ten_percent(model: str) -> None:
    [rule] = threshold_rules({"s": load_profile(model)})
    assert (rule.quantity, rule.min, rule.max, rule.hold_s, rule.severity) == (
        Quantity.BATTERY_LEVEL,
        10.0,
        None,
        600.0,
        Severity.WARNING,
    )


def test_a_profile_with_two_thresholds_on_one_quantity_is_refused() -> None:
    data = copy.deepcopy(load_profile("xy-md02").model_dump(mode="json", by_alias=True))
    data["alarms"].append({"quantity": "temperature", "max": 25.0, "severity": "critical"})
    with pytest.raises(ProfileError) as caught:
        profile_from_dict(data, "x.toml")
    assert (caught.value.field, caught.value.problem) == (
        "alarms[1].quantity",
        "temperature has a threshold in alarms[0]",
    )


def test_below_the_threshold_for_hold_s_raises_and_back_above_clears() -> None:
    engine = ThresholdEngine([BATTERY], T0)
    feed = [volts(0, 2.9), volts(60, 2.45), volts(300, 2.4), volts(600, 2.42)]
    alarms = [a for m in feed for a in engine.observe(m, m.time)]
    assert alarms == []
    assert engine.tick(at(659)) == []
    assert engine.tick(at(660)) == [low_battery((60, 2.45), (600, 2.42), (300, 2.4))]
    assert engine.observe(volts(700, 2.6), at(700)) == [
        low_battery((60, 2.45), (600, 2.42), (300, 2.4), ended=700, back_in_band=point(700, 2.6))
    ]
    assert engine.active() == []


def test_other_devices_quantities_and_flagged_readings_are_ignored() -> None:
    engine = ThresholdEngine([BATTERY], T0)
    others = [
        volts(0, 1.0, device="tag-2"),
        Measurement("tag-1", at(0), Quantity.TEMPERATURE, -30.0, Unit.CELSIUS),
        replace(volts(0, 1.0), quality=MeasurementQuality.OUT_OF_RANGE),
    ]
    assert [a for m in others for a in engine.observe(m, m.time)] == []
    assert engine.tick(at(3600)) == []  # no silence alarm for a profile threshold
    assert engine.counters.flagged_readings == 1


def test_rule_state_round_trips_and_a_row_under_the_wrong_key_is_skipped() -> None:
    engine = ThresholdEngine([BATTERY], T0)
    engine.observe(volts(0, 2.0), at(0))
    found = engine.state_of(("tag-1/battery_voltage", "tag-1"))
    assert found is not None
    text = encode(CODEC, *found)
    assert decode(CODEC, ("tag-1/battery_voltage", "tag-1"), text) == found
    rows = {
        CODEC.state_key(("tag-1/battery_voltage", "tag-1")): text,
        CODEC.state_key(("tag-1/temperature", "tag-1")): text,
    }
    assert list(decode_rows(CODEC, rows)) == [("tag-1/battery_voltage", "tag-1")]


async def test_an_open_threshold_alarm_survives_a_restart(tmp_path: Path) -> None:
    rule = replace(BATTERY, hold_s=60.0)
    clock = Clock(at(0))
    async with gateway_parts(tmp_path / "outbox.db") as (buffer, pipeline):
        runner = ThresholdRunner([rule], pipeline.submit, clock=clock)
        runner.observe([volts(0, 2.2)])
        clock.now = at(60)
        runner.observe([volts(60, 2.1)])
        await pipeline.flush()
        assert runner.snapshot()["active"] == [
            {"rule": THRESHOLD_RULE, "subject": "tag-1/battery_voltage", "started_at": at_text(0)}
        ]
    clock.now = at(300)
    async with gateway_parts(tmp_path / "outbox.db") as (buffer, pipeline):
        restarted = ThresholdRunner(
            [rule], pipeline.submit, clock=clock, saved=await buffer.load_state(PREFIX)
        )
        restarted.tick()
        restarted.observe([volts(300, 3.0)])
        await pipeline.flush()
        alarms = await alarms_in(buffer)
    assert [(a["subject"], a["started_at"], a["ended_at"]) for a in alarms] == [
        ("tag-1/battery_voltage", at_text(0), None),
        ("tag-1/battery_voltage", at_text(0), at_text(300)),
    ]
    assert (restarted.restored, restarted.raised, restarted.cleared) == (1, 0, 1)


def at_text(s: float) -> str:
    return format_time(at(s))
