"""A Modbus probe on a real pty whose temperature leaves its profile's ``[[alarms]]`` band: the
running gateway raises ``device.threshold``, shows it in health, and clears it when the probe is
back in band."""

from __future__ import annotations

import asyncio
import json
import tomllib
from pathlib import Path
from typing import Any

from device_profiles import load_profile
from edge.config import parse_config
from edge.device_thresholds import THRESHOLD_RULE
from edge.gateway import Gateway
from simulators.modbus_bus import (
    Behaviour,
    BusPty,
    ModbusBus,
    ProbeSpec,
    SimulatedProbe,
    run_modbus_bus,
)
from tests.edge.fake_cloud import FakeCloud
from tests.edge.pty_gps import until

PROFILES_DIR = Path(__file__).resolve().parents[2] / "device_profiles" / "models"
TEMPERATURE_CORRECTION = 0x0103
"""XY-MD02 holding register: tenths of °C the probe adds to its reading."""


def quick_profile(tmp_path: Path) -> Path:
    """xy-md02 with its 0–8 °C threshold held for 1 s instead of 5 minutes."""
    text = (PROFILES_DIR / "xy-md02.toml").read_text()
    assert "hold_s = 300.0" in text
    path = tmp_path / "xy-md02-quick.toml"
    path.write_text(text.replace("hold_s = 300.0", "hold_s = 1.0"))
    assert tomllib.loads(path.read_text())["alarms"][0]["hold_s"] == 1.0
    return path


def config_data(tmp_path: Path, link: Path, profile: Path) -> dict[str, Any]:
    return {
        "gateway": {"id": "store-01", "data_dir": str(tmp_path / "data")},
        "cloud": {"url": "https://cloud.example", "token": "secret-token"},
        "uplink": {"interval_s": 0.02, "drain_timeout_s": 0.5},
        "local_api": {"enabled": False},
        "devices": [
            {
                "id": "coldroom-bus",
                "type": "modbus_rtu",
                "port": str(link),
                "profile": str(profile),
                "slaves": [{"address": 1, "id": "probe-1"}],
                "poll_interval_s": 0.2,
                "timeout_s": 0.2,
                "reopen_initial_s": 0.05,
                "reopen_max_s": 0.2,
            }
        ],
    }


async def test_a_modbus_probe_out_of_its_profile_band_raises_and_clears(tmp_path: Path) -> None:
    profile = quick_profile(tmp_path)
    probe = SimulatedProbe(ProbeSpec(1, "xy-md02", Behaviour.OK), load_profile(profile), seed=3)
    link = tmp_path / "bus"
    config = parse_config(
        config_data(tmp_path, link, profile), source=tmp_path / "gw.toml", environ={}
    )
    cloud = FakeCloud()
    gateway = Gateway(config, transport=cloud.transport())
    stop = asyncio.Event()

    def alarms() -> list[dict[str, Any]]:
        return [r for r in cloud.stored.values() if r["kind"] == "alarm"]

    def temperatures() -> list[float]:
        return [
            r["value"]
            for r in cloud.stored.values()
            if r["kind"] == "measurement" and r["quantity"] == "temperature"
        ]

    def health() -> dict[str, Any]:
        return json.loads(gateway.status_path.read_text())["thresholds"]  # type: ignore[no-any-return]

    with BusPty.open(link) as port:
        bus_task = asyncio.create_task(run_modbus_bus(ModbusBus([probe]), port))
        task = asyncio.create_task(gateway.run(stop))
        try:
            await until(lambda: len(temperatures()) >= 2, within=5)
            assert all(0.0 <= t <= 8.0 for t in temperatures()) and alarms() == []
            probe.settings[TEMPERATURE_CORRECTION] = 70  # +7.0 °C: above 8 °C
            await until(lambda: len(alarms()) == 1, within=5)
            await until(lambda: health()["active"] != [], within=3)
            status = health()
            probe.settings[TEMPERATURE_CORRECTION] = 0
            await until(lambda: len(alarms()) == 2, within=5)
            await until(lambda: health()["active"] == [], within=3)
        finally:
            stop.set()
            await asyncio.wait_for(task, 5)
            bus_task.cancel()
            await asyncio.gather(bus_task, return_exceptions=True)
    raised, cleared = alarms()
    assert (raised["rule"], raised["subject"], raised["severity"], raised["ended_at"]) == (
        THRESHOLD_RULE,
        "probe-1/temperature",
        "warning",
        None,
    )
    evidence = raised["evidence"]
    assert evidence["band"] == {"min": 0.0, "max": 8.0, "hold_s": 1.0}
    assert (evidence["device"], evidence["profile"], evidence["unit"]) == (
        "probe-1",
        "xy-md02",
        "Cel",
    )
    out = [evidence["first_out"]["value"], evidence["last_out"]["value"], evidence["peak"]["value"]]
    assert all(value > 8.0 for value in out) and evidence["peak"]["value"] == max(out)
    assert evidence["first_out"]["gateway_time"] == raised["started_at"]
    assert (cleared["subject"], cleared["started_at"]) == (raised["subject"], raised["started_at"])
    assert cleared["ended_at"] == cleared["evidence"]["back_in_band"]["gateway_time"]
    assert cleared["evidence"]["back_in_band"]["value"] <= 8.0
    assert status["active"] == [
        {
            "rule": THRESHOLD_RULE,
            "subject": "probe-1/temperature",
            "started_at": raised["started_at"],
        }
    ]
    assert status["thresholds"] == [
        {
            "subject": "probe-1/temperature",
            "profile": "xy-md02",
            "min": 0.0,
            "max": 8.0,
            "hold_s": 1.0,
            "severity": "warning",
        }
    ]
    assert status["probes"]["probe-1/temperature"]["excursion_alarm"] is True
    assert gateway.thresholds is not None
    assert (gateway.thresholds.raised, gateway.thresholds.cleared) == (1, 1)
