"""Advertisement records (JSON form), format detection and ``retailedge decode`` for BLE."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from edge.decode_cli import decode_command
from firmware_bridge.ble_advert import Advertisement, advert_from_json, advert_to_json, uuid16
from firmware_bridge.ble_decode import decode_measurements, detect_format
from firmware_bridge.ble_errors import AdvertFormatError, BleDecodeError, UnsupportedFormat

T0 = datetime(2026, 1, 1, tzinfo=UTC)
RUUVI = "0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F"
BTHOME_ENCRYPTED = "41a47266c95f730011223378237214"
KEY_HEX = "231d39c1d7cc1ab1aee224cd096db932"


def test_json_form_round_trip() -> None:
    obj = {
        "address": "cb:b8:33:4c:88:4f",
        "rssi": -60,
        "local_name": "Ruuvi 884F",
        "manufacturer_data": {"0x0499": RUUVI, "76": "0215"},
        "service_data": {"181A": "00", "0000fcd2-0000-1000-8000-00805f9b34fb": "40"},
        "time": "2026-01-01T00:00:00Z",
    }
    advert = advert_from_json(obj)
    assert advert == Advertisement(
        "CB:B8:33:4C:88:4F",
        -60,
        "Ruuvi 884F",
        {0x0499: bytes.fromhex(RUUVI), 0x004C: b"\x02\x15"},
        {uuid16(0x181A): b"\x00", uuid16(0xFCD2): b"\x40"},
        T0,
    )
    assert advert_from_json(advert_to_json(advert)) == advert


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        ([], "advertisement"),
        ({}, "address"),
        ({"address": "nope"}, "address"),
        ({"address": "AA:BB:CC:DD:EE:FF", "rssi": "-60"}, "rssi"),
        ({"address": "AA:BB:CC:DD:EE:FF", "rssi": -(10**18)}, "rssi: .* outside -127..20"),
        ({"address": "AA:BB:CC:DD:EE:FF", "rssi": 21}, "rssi"),
        ({"address": "AA:BB:CC:DD:EE:FF", "manufacturer_data": {"apple": "00"}}, "manufacturer"),
        ({"address": "AA:BB:CC:DD:EE:FF", "manufacturer_data": {"76": "zz"}}, "manufacturer"),
        ({"address": "AA:BB:CC:DD:EE:FF", "service_data": {"12345": "00"}}, "service_data"),
        ({"address": "AA:BB:CC:DD:EE:FF", "service_data": []}, "service_data"),
        ({"address": "AA:BB:CC:DD:EE:FF", "time": "yesterday"}, "time"),
        ({"address": "AA:BB:CC:DD:EE:FF", "tx_power": 4}, "tx_power"),
    ],
)
def test_bad_json_names_the_field(obj: Any, field: str) -> None:
    with pytest.raises(AdvertFormatError, match=field):
        advert_from_json(obj)


def test_rssi_not_available_is_absent() -> None:
    advert = advert_from_json({"address": "AA:BB:CC:DD:EE:FF", "rssi": 127})
    assert advert.rssi is None
    assert advert_from_json({"address": "AA:BB:CC:DD:EE:FF", "rssi": -127}).rssi == -127


def test_detect_and_decode() -> None:
    ruuvi = Advertisement("CB:B8:33:4C:88:4F", manufacturer_data={0x0499: bytes.fromhex(RUUVI)})
    xiaomi = Advertisement("A4:C1:38:AA:BB:CC", service_data={uuid16(0x181A): bytes(15)})
    assert [detect_format(ruuvi), detect_format(xiaomi)] == ["ruuvi", "pvvx"]
    assert [m.quantity.value for m in decode_measurements(ruuvi, T0)] == [
        "temperature", "humidity", "pressure", "battery_voltage",
    ]  # fmt: skip
    with pytest.raises(UnsupportedFormat):
        decode_measurements(Advertisement("AA:BB:CC:DD:EE:FF"), T0)


@given(st.dictionaries(st.text(max_size=6), st.one_of(st.text(max_size=8), st.integers())))
def test_random_json_objects_raise_only_format_errors(obj: dict[str, Any]) -> None:
    with contextlib.suppress(BleDecodeError):
        advert_from_json({"address": "AA:BB:CC:DD:EE:FF", "service_data": obj})


def _run(args: list[str], lines: list[dict[str, Any]]) -> tuple[int, list[Any], str]:
    text = "".join(json.dumps(line) + "\n" for line in lines)
    result = CliRunner().invoke(
        decode_command, [*args, "--time", "2026-01-01T00:00:00Z"], input=text
    )
    return result.exit_code, [json.loads(out) for out in result.stdout.splitlines()], result.stderr


def test_cli_bthome_with_bindkey_and_a_bad_line() -> None:
    advert = {"address": "54:48:E6:8F:80:A5", "service_data": {"fcd2": BTHOME_ENCRYPTED}}
    code, records, errors = _run(
        ["--protocol", "bthome", "--bindkey", KEY_HEX], [advert, {"address": "x"}]
    )
    assert code == 1
    assert records == [
        {"kind": "measurement", "device_id": "54:48:E6:8F:80:A5", "time": "2026-01-01T00:00:00Z",
         "quantity": "temperature", "value": 25.06, "unit": "Cel"},
        {"kind": "measurement", "device_id": "54:48:E6:8F:80:A5", "time": "2026-01-01T00:00:00Z",
         "quantity": "humidity", "value": 50.55, "unit": "%RH"},
    ]  # fmt: skip
    assert errors.splitlines() == [
        "line 2: address: 'x' is not a MAC address AA:BB:CC:DD:EE:FF",
        "1 of 2 lines failed",
    ]


def test_cli_wrong_bindkey_is_a_failed_line() -> None:
    advert = {"address": "54:48:E6:8F:80:A5", "service_data": {"fcd2": BTHOME_ENCRYPTED}}
    code, records, errors = _run(["--protocol", "bthome", "--bindkey", "00" * 16], [advert])
    assert (code, records) == (1, [])
    assert errors.splitlines()[0] == (
        "line 1: bthome: wrong bind key, or the advert was tampered with"
    )


def test_cli_ibeacon_and_bindkey_misuse() -> None:
    advert = {
        "address": "C0:FF:EE:00:00:01",
        "rssi": -79,
        "manufacturer_data": {"76": "0215e2c56db5dffb48d2b060d0f5a71096e000010002c5"},
    }
    code, records, _ = _run(["--protocol", "ibeacon"], [advert])
    assert (code, records) == (
        0,
        [
            {
                "kind": "ibeacon",
                "address": "C0:FF:EE:00:00:01",
                "time": "2026-01-01T00:00:00Z",
                "beacon": {
                    "uuid": "e2c56db5-dffb-48d2-b060-d0f5a71096e0",
                    "major": 1,
                    "minor": 2,
                    "measured_power_dbm": -59,
                },
                "rssi_dbm": -79,
                "distance_m": 10.0,
            }
        ],
    )
    code, _, errors = _run(["--protocol", "ruuvi", "--bindkey", KEY_HEX], [advert])
    assert code == 2 and "only for --protocol bthome" in errors
