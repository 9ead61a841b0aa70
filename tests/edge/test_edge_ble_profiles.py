"""BLE sensor profiles: every shipped one loads, and bad files name the problem."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from device_profiles import ProfileError
from device_profiles.ble_profile import available_ble_profiles, in_range, load_ble_profile
from firmware_bridge.records import Measurement, Quantity, Unit

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def test_shipped_ble_profiles() -> None:
    assert available_ble_profiles() == [
        "bthome-door",
        "lywsd03mmc-atc",
        "lywsd03mmc-pvvx",
        "ruuvitag",
    ]
    formats = {name: load_ble_profile(name).format for name in available_ble_profiles()}
    assert formats == {
        "bthome-door": "bthome",
        "lywsd03mmc-atc": "atc",
        "lywsd03mmc-pvvx": "pvvx",
        "ruuvitag": "ruuvi",
    }


@pytest.mark.parametrize(
    ("value", "expected"), [(-9.9, True), (60.0, True), (60.1, False), (-10.0, False)]
)
def test_valid_range_is_inclusive(value: float, expected: bool) -> None:
    profile = load_ble_profile("lywsd03mmc-atc")
    reading = Measurement("t", T0, Quantity.TEMPERATURE, value, Unit.CELSIUS)
    assert in_range(profile, reading) is expected


def test_bad_profile_names_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'model = "x"\nvendor = "v"\ncodec = "ble"\nformat = "ruuvi"\nsample_period_s = 1.0\n'
        '[transport]\nkind = "ble"\n[[readings]]\nquantity = "temperature"\nunit = "Cel"\n'
        "valid = [5.0, 1.0]\n"
    )
    with pytest.raises(ProfileError) as caught:
        load_ble_profile(bad)
    assert str(caught.value.problems[0]) == "readings[0].valid: min must be below max"
    with pytest.raises(ProfileError) as caught:
        load_ble_profile("no-such-sensor")
    assert caught.value.problems[0].message.startswith("no BLE profile 'no-such-sensor'")
