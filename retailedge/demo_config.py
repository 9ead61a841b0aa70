"""Turn a shipped example gateway config into the one a demo gateway runs with."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import tomli_w


def load_template(name: str) -> dict[str, Any]:
    text = resources.files("retailedge.configs").joinpath(name).read_text(encoding="utf-8")
    return tomllib.loads(text)


def write_gateway_config(
    template: str,
    destination: Path,
    *,
    gateway_id: str,
    data_dir: Path,
    cloud_url: str,
    token: str,
    serial_port: Path | None,
    modbus_port: Path | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
    mqtt: dict[str, Any] | None = None,
) -> Path:
    """Write ``template`` with the demo's gateway id, data folder, cloud, token and serial port
    (its GPS); ``modbus_port`` is its Modbus RTU line's, and without one the line is left out
    with the cold-chain zones of its probes (a van gateway with only its GPS); ``mqtt``
    replaces settings of its MQTT devices (broker, client id, topic prefix)."""
    config = load_template(template)
    if modbus_port is None:
        _without_modbus(config)
    config["gateway"]["id"] = gateway_id
    config["gateway"]["data_dir"] = str(data_dir)
    # Several gateways share this machine: each local producer API takes a free port and
    # publishes it as local_api_url in its status.json.
    config.setdefault("local_api", {})["port"] = 0
    cloud = config["cloud"]
    cloud["url"] = cloud_url
    cloud.pop("token_env", None)
    cloud.pop("token_file", None)
    cloud["token"] = token
    for device in config.get("devices", []):
        if device.get("type") == "nmea_gps":
            if serial_port is None:
                raise ValueError(f"{template} has a GPS device but no serial port was given")
            device["port"] = str(serial_port)
        if device.get("type") == "modbus_rtu":
            device["port"] = str(modbus_port)
        if device.get("type") == "mqtt" and mqtt:
            device.update(mqtt)
    for section, values in (overrides or {}).items():
        config.setdefault(section, {}).update(values)
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_text(tomli_w.dumps(config), encoding="utf-8")
    destination.chmod(0o600)
    return destination


def _without_modbus(config: dict[str, Any]) -> None:
    devices = config.get("devices", [])
    lines = [device for device in devices if device.get("type") == "modbus_rtu"]
    probes = {slave["id"] for line in lines for slave in line["slaves"]}
    config["devices"] = [device for device in devices if device not in lines]
    zones = []
    for zone in config.get("coldchain", []):
        kept = [device for device in zone["devices"] if device not in probes]
        if kept:
            zones.append({**zone, "devices": kept})
    if "coldchain" in config:
        config["coldchain"] = zones
