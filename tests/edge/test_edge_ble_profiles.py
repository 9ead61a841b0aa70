"""BLE sensor profiles are device profiles like the serial ones: every shipped one loads through
the same loader, valid ranges flag (never drop) readings, and bad files name the problem."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from device_profiles import (
    BLE_CODECS,
    BleTransport,
    Codec,
    FieldSpec,
    ProfileError,
    available_profiles,
    judged,
    load_profile,
)
from firmware_bridge.records import Measurement, MeasurementQuality, Quantity, Unit

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def test_shipped_ble_profiles() -> None:
    codecs = {
        name: load_profile(name).codec
        for name in available_profiles()
        if load_profile(name).codec in BLE_CODECS
    }
    assert codecs == {
        "bthome-door": Codec.BTHOME,
        "bthome-thermometer": Codec.BTHOME,
        "ibeacon-tag": Codec.IBEACON,
        "lywsd03mmc-atc": Codec.ATC,
        "lywsd03mmc-pvvx": Codec.PVVX,
        "ruuvitag": Codec.RUUVI,
    }
    ruuvi = load_profile("ruuvitag")
    assert ruuvi.transport == BleTransport(kind="ble", passive=True)
    assert ruuvi.sample_period_s == 1.0
    assert ruuvi.fields[0] == FieldSpec(
        name="temperature", quantity=Quantity.TEMPERATURE, unit=Unit.CELSIUS, valid=(-40.0, 85.0)
    )
    assert ruuvi.valid_ranges()[Quantity.PRESSURE] == (500.0, 1155.0)
    assert load_profile("ibeacon-tag").valid_ranges() == {
        Quantity.RSSI: (-127.0, 20.0),
        Quantity.DISTANCE: (0.0, 1000.0),
    }
    # The SHTC3's range, so freezer probes of these models are not flagged.
    for name in ("lywsd03mmc-atc", "lywsd03mmc-pvvx", "bthome-thermometer"):
        ranges = load_profile(name).valid_ranges()
        assert ranges[Quantity.TEMPERATURE] == (-40.0, 125.0), name
        assert ranges[Quantity.HUMIDITY] == (0.0, 100.0), name
    assert Quantity.TEMPERATURE not in load_profile("bthome-door").valid_ranges()


@pytest.mark.parametrize(
    ("value", "quality"),
    [
        (-40.0, MeasurementQuality.GOOD),
        (-25.0, MeasurementQuality.GOOD),
        (125.0, MeasurementQuality.GOOD),
        (125.1, MeasurementQuality.OUT_OF_RANGE),
        (-40.1, MeasurementQuality.OUT_OF_RANGE),
    ],
)
def test_valid_range_is_inclusive_and_flags(value: float, quality: MeasurementQuality) -> None:
    ranges = load_profile("lywsd03mmc-atc").valid_ranges()
    reading = Measurement("t", T0, Quantity.TEMPERATURE, value, Unit.CELSIUS)
    assert judged(reading, ranges).quality is quality
    assert judged(reading, ranges).value == value
    pressure = Measurement("t", T0, Quantity.PRESSURE, 1e6, Unit.HECTOPASCAL)
    assert judged(pressure, ranges) is pressure  # the sensor has no pressure range


HEAD = 'model = "x"\nvendor = "v"\nsample_period_s = 1.0\n'
FIELD = '[[fields]]\nname = "t"\nquantity = "temperature"\nunit = "Cel"\nvalid = [1.0, 5.0]\n'


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            HEAD
            + 'codec = "ruuvi"\n[transport]\nkind = "ble"\n'
            + FIELD.replace("1.0, 5.0", "5.0, 1.0"),
            "fields[0].valid: min 5.0 must be below max 1.0",
        ),
        (
            HEAD + 'codec = "ruuvi"\n[transport]\nkind = "serial"\nbaud = 9600\n' + FIELD,
            "transport.kind: codec ruuvi is heard over ble, not serial",
        ),
        (
            HEAD + 'codec = "modbus_rtu"\n[transport]\nkind = "ble"\n[modbus]\n' + FIELD,
            "transport.kind: codec modbus_rtu is read over serial, not ble",
        ),
        (
            HEAD + 'codec = "atc"\n[transport]\nkind = "ble"\n' + FIELD + "register = 1\n",
            "fields[0].table: Field required",
        ),
        (
            HEAD + 'codec = "atc"\n[transport]\nkind = "ble"\nbaud = 9600\n',
            "transport.baud: Extra inputs are not permitted",
        ),
        (
            HEAD + 'codec = "pvvx"\n[transport]\nkind = "ble"\n' + FIELD.replace("Cel", "V"),
            "fields[0].unit: temperature is measured in 'Cel', not 'V'",
        ),
        (
            HEAD
            + 'codec = "bthome"\n[transport]\nkind = "ble"\n'
            + FIELD
            + '[[alarms]]\nquantity = "humidity"\nmax = 80.0\n',
            "alarms[0].quantity: x does not measure humidity",
        ),
        (
            HEAD
            + 'codec = "modbus_rtu"\n[transport]\nkind = "serial"\nbaud = 9600\n[modbus]\n'
            + FIELD,
            "fields[0]: a modbus_rtu field needs table, register, type",
        ),
    ],
)
def test_bad_ble_profile_names_the_field(tmp_path: Path, text: str, problem: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    with pytest.raises(ProfileError) as caught:
        load_profile(bad)
    assert problem in [str(p) for p in caught.value.problems], str(caught.value)


def test_unknown_profile_lists_the_ble_ones_too() -> None:
    with pytest.raises(ProfileError) as caught:
        load_profile("no-such-sensor")
    assert caught.value.problems[0].message.startswith("no such profile; available: bthome-door")
    assert "ruuvitag" in caught.value.problems[0].message
