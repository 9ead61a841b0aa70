"""Profiles of BLE advertising sensors (``models/ble/*.toml``): format and valid ranges.

Kept beside, not inside, :class:`~device_profiles.schema.DeviceProfile`: that model's transport
is a serial line read by the serial connectors, and a BLE sensor has no line settings.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from device_profiles.errors import Problem, ProfileError
from firmware_bridge.records import Measurement, Quantity, Unit

_LAX = Field(strict=False)
_FOLDER = ("models", "ble")


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


class BleTransport(_Model):
    kind: Literal["ble"]
    passive: bool = True
    """The sensor's data is in its advertisements: no scan request or connection needed."""


class BleReading(_Model):
    quantity: Annotated[Quantity, _LAX]
    unit: Annotated[Unit, _LAX]
    valid: Annotated[tuple[float, float], _LAX]
    """Inclusive [min, max] of plausible values; outside is flagged and counted, still kept."""


class BleProfile(_Model):
    model: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")]
    vendor: Annotated[str, Field(min_length=1)]
    description: str = ""
    codec: Literal["ble"]
    format: Literal["ruuvi", "atc", "pvvx", "bthome"]
    transport: BleTransport
    sample_period_s: Annotated[float, Field(gt=0)]
    readings: Annotated[tuple[BleReading, ...], _LAX]

    def reading_for(self, quantity: Quantity) -> BleReading | None:
        for reading in self.readings:
            if reading.quantity is quantity:
                return reading
        return None


def in_range(profile: BleProfile, measurement: Measurement) -> bool:
    """Whether ``measurement`` lies in its profile's valid range (unlisted quantities do)."""
    reading = profile.reading_for(measurement.quantity)
    if reading is None:
        return True
    low, high = reading.valid
    return low <= measurement.value <= high


def available_ble_profiles() -> list[str]:
    folder = resources.files("device_profiles").joinpath(*_FOLDER)
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in folder.iterdir()
        if entry.name.endswith(".toml")
    )


def load_ble_profile(name_or_path: str | Path) -> BleProfile:
    """A packaged BLE profile by model name or a file by path; :class:`ProfileError` on problems."""
    text_name = str(name_or_path)
    if "/" in text_name or text_name.endswith(".toml"):
        file = text_name
        try:
            text = Path(name_or_path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ProfileError(file, [Problem("", f"cannot read: {exc.strerror}")]) from None
    else:
        entry = resources.files("device_profiles").joinpath(*_FOLDER, f"{text_name}.toml")
        file = f"ble/{text_name}.toml"
        if not entry.is_file():
            known = ", ".join(available_ble_profiles())
            raise ProfileError(
                file, [Problem("", f"no BLE profile {text_name!r} (known: {known})")]
            )
        text = entry.read_text(encoding="utf-8")
    try:
        profile = BleProfile.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(file, [Problem("", f"not valid TOML: {exc}")]) from None
    except ValidationError as exc:
        problems = [
            Problem(".".join(str(p) for p in error["loc"]), error["msg"]) for error in exc.errors()
        ]
        raise ProfileError(file, problems) from None
    for index, reading in enumerate(profile.readings):
        if reading.valid[0] >= reading.valid[1]:
            raise ProfileError(file, [Problem(f"readings[{index}].valid", "min must be below max")])
    return profile
