"""The demo's van as a reefer courier. Its chiller probe answers on a simulated Modbus RTU line
(a ``drift`` probe: in its band at first, then warming 3 °C a minute), so the van gateway's
``[[coldchain]]`` zone raises a real ``coldchain.excursion`` mid-demo; and the van is registered
in the cloud as a courier whose chiller compartment is that probe, so dispatch plans the demo's
orders onto it and the console charts its chiller. What the probe, band and tolerance are comes
from the van gateway's config (``van-gateway.toml``), so the cloud and the gateway agree."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import httpx

from retailedge.demo_business import checked
from retailedge.processes import DemoProcessError
from simulators.modbus_bus import (
    DRIFT_C_PER_S,
    BusPty,
    BusStats,
    ModbusBus,
    parse_probes,
    run_modbus_bus,
)

DRIFT_AFTER_S: Final = 20.0
"""Seconds the chiller holds its band before it starts warming: long enough for the console to
chart it in band, short enough that the excursion alarm comes about a minute into the demo."""
CHILLER_SEED: Final = 0
COURIER_CAPACITY: Final = 60
SHIFT_BEFORE: Final = timedelta(hours=1)
SHIFT_AFTER: Final = timedelta(hours=12)
COMPARTMENT_CLASS: Final = "chilled"

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Chiller:
    """The van's chiller: its probe on the Modbus line and the cold-chain zone watching it."""

    zone: str
    device_id: str
    slave: int
    profile: str
    min_c: float
    max_c: float
    tolerance_s: float

    @property
    def probes(self) -> str:
        """The bus simulator's probe list: this probe, drifting."""
        return f"{self.slave}:{self.profile}:drift"

    def band(self) -> str:
        return f"{self.min_c:g}–{self.max_c:g} °C"

    def as_json(self) -> dict[str, Any]:
        return {
            "device": self.device_id,
            "zone": self.zone,
            "min_c": self.min_c,
            "max_c": self.max_c,
            "tolerance_s": self.tolerance_s,
            "drift_after_s": DRIFT_AFTER_S,
        }


def van_chiller(config: Mapping[str, Any]) -> Chiller:
    """The chiller of a van gateway config: its one ``[[coldchain]]`` zone with both band edges,
    watching one probe of its ``modbus_rtu`` line. ValueError when the config has no such zone."""
    slaves = {
        slave["id"]: (int(slave["address"]), str(slave.get("profile") or line["profile"]))
        for line in config.get("devices", [])
        if line.get("type") == "modbus_rtu"
        for slave in line["slaves"]
    }
    zones = [
        zone
        for zone in config.get("coldchain", [])
        if len(zone["devices"]) == 1 and zone["devices"][0] in slaves
    ]
    if len(zones) != 1:
        raise ValueError("expected one [[coldchain]] zone watching one Modbus probe")
    zone = zones[0]
    if zone.get("min_c") is None or zone.get("max_c") is None:
        raise ValueError(f"coldchain zone {zone['zone']!r} needs both min_c and max_c")
    device_id = zone["devices"][0]
    slave, profile = slaves[device_id]
    return Chiller(
        zone=str(zone["zone"]),
        device_id=device_id,
        slave=slave,
        profile=profile,
        min_c=float(zone["min_c"]),
        max_c=float(zone["max_c"]),
        tolerance_s=float(zone.get("tolerance_s", 600.0)),
    )


def courier_body(
    *, courier_id: str, gps_device_id: str, home_node_id: str, chiller: Chiller, now: datetime
) -> dict[str, Any]:
    """``POST /api/v1/couriers``: a reefer van on shift now, its chiller compartment bound to
    the probe, so it keeps its chilled skill only while the probe reads in band."""
    return {
        "id": courier_id,
        "kind": "reefer_van",
        "capacity": COURIER_CAPACITY,
        "skills": [COMPARTMENT_CLASS],
        "shifts": [
            {"start": (now - SHIFT_BEFORE).isoformat(), "end": (now + SHIFT_AFTER).isoformat()}
        ],
        "home_node_id": home_node_id,
        "gps_device_id": gps_device_id,
        "compartments": [
            {
                "name": chiller.zone,
                "sensor_device_id": chiller.device_id,
                "temperature_class": COMPARTMENT_CLASS,
                "min_c": chiller.min_c,
                "max_c": chiller.max_c,
            }
        ],
    }


async def register_courier(admin: httpx.AsyncClient, body: Mapping[str, Any], say: Say) -> None:
    """Register the van (or replace it, in a reused data folder: its shift starts again)."""
    checked(
        await admin.post("/api/v1/couriers", json=dict(body)),
        f"registering courier {body['id']}",
        200,
        201,
    )
    compartment = body["compartments"][0]
    say(
        f"[demo] courier {body['id']} registered ({body['kind']}, capacity {body['capacity']}, "
        f"home {body['home_node_id']}, GPS {body['gps_device_id']}, compartment "
        f"{compartment['name']} on {compartment['sensor_device_id']}, "
        f"{compartment['min_c']:g}–{compartment['max_c']:g} °C): dispatch plans orders onto it"
    )


async def courier_summary(operator: httpx.AsyncClient, courier_id: str) -> dict[str, Any]:
    """The courier as the cloud sees it at the end: open tasks and the skills it still has."""
    url = f"/api/v1/couriers/{courier_id}"
    courier = checked(await operator.get(url), url)
    return {
        "id": courier["id"],
        "kind": courier["kind"],
        "open_tasks": courier["open_tasks"],
        "skills": courier["skills"],
        "effective_skills": courier["effective_skills"],
        "compartments": [
            {k: c[k] for k in ("name", "sensor_device_id", "latest_c", "in_band", "why")}
            for c in courier["compartments"]
        ],
    }


@dataclass(frozen=True, slots=True)
class ChillerState:
    """The chiller as the van gateway's status shows it."""

    last_c: float | None
    out_of_band_since: str | None
    alarm_raised: bool
    alarms_raised: int

    @classmethod
    def from_status(cls, status: Mapping[str, Any], chiller: Chiller) -> ChillerState:
        coldchain = status.get("coldchain") or {}
        probe = (coldchain.get("probes") or {}).get(f"{chiller.zone}/{chiller.device_id}") or {}
        reading = probe.get("last_reading") or {}
        value = reading.get("value_c")
        return cls(
            last_c=None if value is None else float(value),
            out_of_band_since=probe.get("out_of_band_since"),
            alarm_raised=bool(probe.get("excursion_alarm")),
            alarms_raised=int(coldchain.get("raised") or 0),
        )


class ChillerWatch:
    """Says once when the chiller leaves its band and once when the gateway raises the alarm."""

    def __init__(self, chiller: Chiller, say: Say) -> None:
        self.chiller = chiller
        self.say = say
        self.left_band = False
        self.alarmed = False

    def update(self, state: ChillerState) -> None:
        chiller = self.chiller
        if state.last_c is None:
            return
        if state.out_of_band_since and not self.left_band:
            self.left_band = True
            self.say(
                f"[demo] {chiller.device_id} reads {state.last_c:.1f} °C, out of the "
                f"{chiller.zone} band {chiller.band()} since {state.out_of_band_since}; the van "
                f"gateway raises coldchain.excursion after {chiller.tolerance_s:g} s of it"
            )
        if state.alarm_raised and not self.alarmed:
            self.alarmed = True
            self.say(
                f"[demo] coldchain.excursion raised by the van gateway for "
                f"{chiller.zone}/{chiller.device_id} ({state.last_c:.1f} °C): see the console's "
                "Alarms tab and the van's chiller chart"
            )


@dataclass
class ChillerBus:
    """The chiller probe answering on a pseudo-terminal, served by this process's event loop."""

    chiller: Chiller
    port: BusPty
    bus: ModbusBus
    task: asyncio.Task[BusStats]

    @classmethod
    def start(cls, chiller: Chiller, link_path: Path) -> ChillerBus:
        bus = ModbusBus.from_specs(
            parse_probes(chiller.probes), CHILLER_SEED, drift_after_s=DRIFT_AFTER_S
        )
        port = BusPty.open(link_path)
        task = asyncio.create_task(run_modbus_bus(bus, port), name="chiller bus")
        return cls(chiller, port, bus, task)

    def line(self) -> str:
        chiller = self.chiller
        return (
            f"[demo] simulated chiller probe {chiller.device_id} ({chiller.profile}, Modbus RTU "
            f"slave {chiller.slave}) on {self.port.slave_path}: in its {chiller.band()} band, "
            f"warming {DRIFT_C_PER_S * 60:g} °C a minute from {DRIFT_AFTER_S:g} s on; the van "
            f"gateway's {chiller.zone!r} zone raises coldchain.excursion after "
            f"{chiller.tolerance_s:g} s out of band"
        )

    def check(self) -> None:
        """Raise what stopped the bus, if it stopped."""
        if self.task.done():
            self.task.result()
            raise DemoProcessError(f"the simulated {self.chiller.device_id} probe stopped")

    async def stop(self) -> None:
        self.task.cancel()
        # A failure of the bus was raised by check() already; here it must not keep the port.
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task
        self.port.close()
