"""The demo's van as a reefer courier (pure parts and config): its chiller taken from the shipped
van gateway config, the probe that holds its band and then drifts out, the courier the cloud
accepts, the gateway config with and without the chiller line, and what the demo reads and says
from the gateway's cold-chain health."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cloud.fleet_schemas import CourierIn
from edge.coldchain_runner import ColdChainRunner, rules_from_config
from edge.config import load_config
from firmware_bridge.modbus import read_input_registers
from firmware_bridge.records import Alarm, Measurement, Quantity, Record, Unit
from retailedge.demo_config import load_template, write_gateway_config
from retailedge.demo_van import (
    CHILLER_SEED,
    DRIFT_AFTER_S,
    Chiller,
    ChillerState,
    ChillerWatch,
    courier_body,
    van_chiller,
)
from simulators.modbus_bus import ModbusBus, parse_probes

CHILLER = Chiller(
    zone="chiller",
    device_id="van-01-chiller",
    slave=1,
    profile="xy-md02",
    min_c=0.0,
    max_c=4.0,
    tolerance_s=20.0,
)
NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_the_shipped_van_config_has_one_chiller_probe_and_its_band() -> None:
    chiller = van_chiller(load_template("van-gateway.toml"))
    assert chiller == CHILLER
    assert chiller.probes == "1:xy-md02:drift"
    assert chiller.band() == "0–4 °C"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda c: c.pop("coldchain"), "expected one [[coldchain]] zone"),
        (lambda c: c["coldchain"][0].update(devices=["van-01-gps"]), "expected one"),
        (lambda c: c["coldchain"].append(dict(c["coldchain"][0])), "expected one"),
        (lambda c: c["coldchain"][0].pop("min_c"), "needs both min_c and max_c"),
    ],
)
def test_a_van_config_without_exactly_one_banded_chiller_is_refused(
    change: Any, error: str
) -> None:
    config = load_template("van-gateway.toml")
    change(config)
    with pytest.raises(ValueError, match=error.replace("[", r"\[").replace("]", r"\]")):
        van_chiller(config)


def _served_temperature(bus: ModbusBus, at_s: float) -> float:
    reply = bus.handle(read_input_registers(CHILLER.slave, 1, 1), at_s)
    return next(s.value for s in reply.served)


def test_the_chiller_holds_its_band_then_drifts_out_at_3_c_a_minute() -> None:
    bus = ModbusBus.from_specs(
        parse_probes(CHILLER.probes), CHILLER_SEED, drift_after_s=DRIFT_AFTER_S
    )
    steady = ModbusBus.from_specs(parse_probes("1:xy-md02"), CHILLER_SEED)
    at = [0.0, 10.0, DRIFT_AFTER_S]
    assert [_served_temperature(bus, t) for t in at] == [_served_temperature(steady, t) for t in at]
    assert all(CHILLER.min_c <= _served_temperature(bus, t) <= CHILLER.max_c for t in at)
    warmed = _served_temperature(bus, DRIFT_AFTER_S + 60) - _served_temperature(
        steady, DRIFT_AFTER_S + 60
    )
    assert warmed == pytest.approx(3.0, abs=0.11)  # values are served to 0.1 °C
    assert _served_temperature(bus, DRIFT_AFTER_S + 40) > CHILLER.max_c
    # Without a delay a drifting probe warms from the start, as before.
    early = ModbusBus.from_specs(parse_probes(CHILLER.probes), CHILLER_SEED)
    assert _served_temperature(early, 20.0) - _served_temperature(steady, 20.0) == pytest.approx(
        1.0, abs=0.11
    )


def test_the_courier_is_one_the_cloud_accepts_with_its_chiller_bound_to_the_probe() -> None:
    body = courier_body(
        courier_id="van-01",
        gps_device_id="van-01",
        home_node_id="fw-sh-xuhui",
        chiller=CHILLER,
        now=NOW,
    )
    courier = CourierIn.model_validate(body)
    assert (courier.kind, courier.skills, courier.gps_device_id) == (
        "reefer_van",
        ["chilled"],
        "van-01",
    )
    [compartment] = courier.compartments
    assert (compartment.name, compartment.sensor_device_id) == ("chiller", "van-01-chiller")
    assert (compartment.temperature_class, compartment.min_c, compartment.max_c) == (
        "chilled",
        0.0,
        4.0,
    )
    [shift] = courier.shifts
    assert shift.start <= NOW - timedelta(minutes=30) and shift.end >= NOW + timedelta(hours=8)


def _write(tmp_path: Path, modbus_port: Path | None) -> Any:
    path = write_gateway_config(
        "van-gateway.toml",
        tmp_path / "gateway.toml",
        gateway_id="van-01",
        data_dir=tmp_path / "data",
        cloud_url="http://127.0.0.1:8800",
        token="t",
        serial_port=tmp_path / "gps.tty",
        modbus_port=modbus_port,
    )
    return load_config(path, environ={})


def test_the_van_gateway_reads_the_chiller_on_its_own_port_or_runs_without_it(
    tmp_path: Path,
) -> None:
    config = _write(tmp_path, tmp_path / "chiller.tty")
    gps, line = config.devices
    assert (gps.type, gps.port) == ("nmea_gps", str(tmp_path / "gps.tty"))
    assert (line.type, line.port) == ("modbus_rtu", str(tmp_path / "chiller.tty"))
    assert [(s.address, s.id) for s in line.slaves] == [(1, "van-01-chiller")]
    assert [(z.zone, z.devices) for z in config.coldchain] == [("chiller", ["van-01-chiller"])]

    # Without a Modbus port: only the GPS, and no zone left watching a probe nobody reads
    # (it would raise coldchain.silence).
    gps_only = _write(tmp_path, None)
    assert [d.type for d in gps_only.devices] == ["nmea_gps"]
    assert gps_only.coldchain == []


class _Alarms:
    def __init__(self) -> None:
        self.raised: list[Alarm] = []

    def __call__(self, records: Iterable[Record], *, state: Sequence[Any] = ()) -> None:
        self.raised += [r for r in records if isinstance(r, Alarm)]


def test_the_demo_reads_and_says_the_chiller_state_from_the_gateways_health() -> None:
    """The status shape comes from the gateway's own cold-chain runner, fed the chiller's
    readings: in band, out of band, then past the tolerance."""
    zones = load_config(
        Path(__file__).parents[1] / "deploy" / "configs" / "van-gateway.toml",
        environ={"RETAILEDGE_GATEWAY_TOKEN": "t"},
    ).coldchain
    now = [NOW]
    alarms = _Alarms()
    runner = ColdChainRunner(rules_from_config(zones), alarms, clock=lambda: now[0])
    said: list[str] = []
    watch = ChillerWatch(CHILLER, said.append)

    def reading(after_s: float, celsius: float) -> ChillerState:
        now[0] = NOW + timedelta(seconds=after_s)
        runner.observe(
            [Measurement(CHILLER.device_id, now[0], Quantity.TEMPERATURE, celsius, Unit.CELSIUS)]
        )
        runner.tick()
        state = ChillerState.from_status({"coldchain": runner.snapshot()}, CHILLER)
        watch.update(state)
        return state

    assert ChillerState.from_status({}, CHILLER) == ChillerState(None, None, False, 0)
    assert reading(0, 3.3) == ChillerState(3.3, None, False, 0)
    assert said == []
    out = reading(2, 4.1)
    assert (out.last_c, out.alarm_raised, out.alarms_raised) == (4.1, False, 0)
    assert out.out_of_band_since == "2026-03-01T08:00:02Z"
    assert said == [
        "[demo] van-01-chiller reads 4.1 °C, out of the chiller band 0–4 °C since "
        "2026-03-01T08:00:02Z; the van gateway raises coldchain.excursion after 20 s of it"
    ]
    reading(12, 4.6)
    assert len(said) == 1 and alarms.raised == []
    alarmed = reading(22, 5.1)
    assert (alarmed.alarm_raised, alarmed.alarms_raised) == (True, 1)
    assert [(a.rule, a.subject) for a in alarms.raised] == [
        ("coldchain.excursion", "chiller/van-01-chiller")
    ]
    assert said[1:] == [
        "[demo] coldchain.excursion raised by the van gateway for chiller/van-01-chiller "
        "(5.1 °C): see the console's Alarms tab and the van's chiller chart"
    ]
    reading(24, 5.2)
    assert len(said) == 2  # each said once
