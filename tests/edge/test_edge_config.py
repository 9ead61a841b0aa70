from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import (
    BufferSettings,
    ConfigError,
    GatewayConfig,
    NmeaGpsDevice,
    UplinkSettings,
    load_config,
)
from tests.conftest import PROJECT_ROOT

MINIMAL = """
[gateway]
id = "van-01"
data_dir = "data"

[cloud]
url = "http://127.0.0.1:8800"
token = "s3cret"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gw.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_config_gets_defaults_and_resolves_paths(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    assert config.gateway.id == "van-01"
    assert config.gateway.data_dir == tmp_path.resolve() / "data"
    assert config.cloud.url == "http://127.0.0.1:8800"
    assert config.cloud.bearer_token() == "s3cret"
    assert config.uplink == UplinkSettings(
        batch_max_records=1000,
        batch_max_bytes=1_000_000,
        interval_s=0.2,
        backoff_initial_s=0.5,
        backoff_max_s=30,
        request_timeout_s=10,
        drain_timeout_s=30,
    )
    assert config.buffer == BufferSettings(max_records=2_000_000)
    assert config.devices == []


def test_device_defaults_and_vehicle_id_from_gateway(tmp_path: Path) -> None:
    text = MINIMAL + '\n[[devices]]\nid = "gps"\ntype = "nmea_gps"\nport = "/dev/ttyUSB0"\n'
    assert load_config(write(tmp_path, text)).devices == [
        NmeaGpsDevice(
            id="gps",
            type="nmea_gps",
            port="/dev/ttyUSB0",
            baudrate=9600,
            vehicle_id="van-01",
            reopen_initial_s=0.5,
            reopen_max_s=5,
        )
    ]


def test_token_from_env_and_file(tmp_path: Path) -> None:
    env_text = MINIMAL.replace('token = "s3cret"', 'token_env = "GW_TOKEN"')
    config = load_config(write(tmp_path, env_text), environ={"GW_TOKEN": "from-env\n"})
    assert config.cloud.bearer_token() == "from-env"
    (tmp_path / "token.txt").write_text("from-file\n")
    file_text = MINIMAL.replace('token = "s3cret"', 'token_file = "token.txt"')
    assert load_config(write(tmp_path, file_text)).cloud.bearer_token() == "from-file"


def test_token_is_not_shown_in_repr(tmp_path: Path) -> None:
    assert "s3cret" not in repr(load_config(write(tmp_path, MINIMAL)))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (MINIMAL + "\n[uplink]\nbatch_max_record = 5\n", "uplink.batch_max_record: unknown key"),
        (MINIMAL + "colour = 1\n", "cloud.colour: unknown key"),
        (MINIMAL.replace('id = "van-01"', ""), "gateway.id: Field required"),
        (
            MINIMAL + "\n[uplink]\nbackoff_initial_s = -1\n",
            "uplink.backoff_initial_s: Input should be greater than 0",
        ),
        (
            MINIMAL.replace('token = "s3cret"', 'token = "a"\ntoken_env = "B"'),
            "cloud: set exactly one of token, token_env, token_file (found: token, token_env)",
        ),
        (
            MINIMAL.replace('token = "s3cret"', ""),
            "cloud: set exactly one of token, token_env, token_file (found: none)",
        ),
        (
            MINIMAL.replace("http://127.0.0.1:8800", "http://cloud.example.com"),
            "cloud: http:// to non-loopback host 'cloud.example.com' would send the gateway "
            "token in clear text; use https:// or set allow_insecure = true",
        ),
        (
            MINIMAL.replace("http://127.0.0.1:8800", "ftp://x"),
            "cloud.url: 'ftp://x' is not an http:// or https:// URL with a host",
        ),
        (
            MINIMAL + '\n[[devices]]\nid = "g"\ntype = "nmea_gps"\nport = "/dev/x"\nbaudrate = 0\n',
            "devices[0].baudrate: Input should be greater than 0",
        ),
        (
            MINIMAL + '\n[[devices]]\nid = "g"\ntype = "rfid"\nport = "/dev/x"\n',
            "devices[0].type: Input should be 'nmea_gps'",
        ),
        (
            MINIMAL + '[[devices]]\nid="g"\ntype="nmea_gps"\nport="a"\n' * 2,
            "devices: device id 'g' is used twice",
        ),
        (MINIMAL.replace("[cloud]", "[cloud\n"), "invalid TOML"),
    ],
)
def test_errors_name_file_field_and_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ")
    assert problem in str(info.value)


def test_insecure_http_is_allowed_when_asked(tmp_path: Path) -> None:
    text = MINIMAL.replace("http://127.0.0.1:8800", "http://10.0.0.5:8800")
    config = load_config(write(tmp_path, text + "allow_insecure = true\n"))
    assert (config.cloud.url, config.cloud.allow_insecure) == ("http://10.0.0.5:8800", True)


def test_missing_token_sources_and_files(tmp_path: Path) -> None:
    env_text = MINIMAL.replace('token = "s3cret"', 'token_env = "NOPE"')
    with pytest.raises(ConfigError, match=r"cloud\.token_env: environment variable NOPE is not"):
        load_config(write(tmp_path, env_text), environ={})
    file_text = MINIMAL.replace('token = "s3cret"', 'token_file = "missing.txt"')
    with pytest.raises(ConfigError, match=r"cloud\.token_file: cannot read .*missing\.txt"):
        load_config(write(tmp_path, file_text))
    with pytest.raises(ConfigError, match=r"absent\.toml: cannot read"):
        load_config(tmp_path / "absent.toml")


EXAMPLE_CONFIGS = [
    ("van-gateway.toml", ["nmea_gps", "modbus_rtu"]),
    ("warehouse-gateway.toml", []),
    ("coldroom-dock-gateway.toml", ["modbus_rtu", "rfid_r2000"]),
    ("fleet-gateway.toml", ["mqtt"]),
    ("store-ble-gateway.toml", ["ble"]),
]


@pytest.mark.parametrize(("name", "device_types"), EXAMPLE_CONFIGS)
def test_shipped_example_configs_load(name: str, device_types: list[str]) -> None:
    example = PROJECT_ROOT / "deploy" / "configs" / name
    config = load_config(example, environ={"RETAILEDGE_GATEWAY_TOKEN": "t"})
    assert isinstance(config, GatewayConfig)
    assert [d.type for d in config.devices] == device_types


def test_every_shipped_example_config_is_loaded_above() -> None:
    shipped = sorted(path.name for path in (PROJECT_ROOT / "deploy" / "configs").glob("*.toml"))
    assert shipped == sorted(name for name, _ in EXAMPLE_CONFIGS)
