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
    overrides: dict[str, dict[str, Any]] | None = None,
    mqtt: dict[str, Any] | None = None,
) -> Path:
    """Write ``template`` with the demo's gateway id, data folder, cloud, token and serial port;
    ``mqtt`` replaces settings of its MQTT devices (broker, client id, topic prefix)."""
    config = load_template(template)
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
        if device.get("type") == "mqtt" and mqtt:
            device.update(mqtt)
    for section, values in (overrides or {}).items():
        config.setdefault(section, {}).update(values)
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_text(tomli_w.dumps(config), encoding="utf-8")
    destination.chmod(0o600)
    return destination
