"""The ``mqtt`` device entry of the gateway config and its connector from the factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edge.config import ConfigError, MqttDevice, parse_config
from edge.connectors.factory import build_connector
from edge.connectors.mqtt import MqttConnector


def config(tmp_path: Path, **device: Any) -> dict[str, Any]:
    return {
        "gateway": {"id": "dc-1", "data_dir": str(tmp_path)},
        "cloud": {"url": "http://127.0.0.1:8800", "token": "t"},
        "devices": [{"id": "broker", "type": "mqtt", "client_id": "dc-1-gw", **device}],
    }


def test_defaults_and_factory(tmp_path: Path) -> None:
    cfg = parse_config(config(tmp_path), source=tmp_path / "gw.toml")
    device = cfg.devices[0]
    assert device == MqttDevice(
        id="broker",
        type="mqtt",
        host="127.0.0.1",
        port=1883,
        protocol="5",
        client_id="dc-1-gw",
        topic_prefix="retailedge/v1",
        site="+",
        session_expiry_s=604800,
        keepalive_s=30,
        reconnect_initial_s=1,
        reconnect_max_s=30,
        replay_memory=10000,
    )

    async def put(records: Any) -> list[int]:
        return []

    connector = build_connector(device, lambda records: None, data_dir=tmp_path, put=put)
    assert isinstance(connector, MqttConnector)
    assert connector.name == "broker"
    with pytest.raises(ValueError, match="mqtt needs put="):
        build_connector(device, lambda records: None, data_dir=tmp_path)


@pytest.mark.parametrize(
    ("device", "problem"),
    [
        ({"topic_prefix": "a/#"}, "devices[0].topic_prefix: topic_prefix must be a plain topic"),
        ({"protocol": "3"}, "devices[0].protocol: Input should be '5' or '3.1.1'"),
        ({"client_id": "x" * 24}, "devices[0].client_id: String should have at most 23"),
        ({"reconnect_max_s": 0}, "devices[0].reconnect_max_s: Input should be greater than"),
        ({"reconnect_initial_s": 9, "reconnect_max_s": 3}, "devices[0]: reconnect_max_s must be"),
        ({"password": "p"}, "devices[0]: password needs a username"),
        ({"qos": 2}, "devices[0].qos: unknown key"),
    ],
)
def test_bad_entries_are_refused(tmp_path: Path, device: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(config(tmp_path, **device), source=tmp_path / "gw.toml")
    assert str(info.value).startswith(f"{tmp_path / 'gw.toml'}: {problem}")
