"""Advertisement -> Measurements for one named format, or for whichever format it carries."""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from firmware_bridge import ble_bthome, ble_ruuvi, ble_xiaomi
from firmware_bridge.ble_advert import Advertisement
from firmware_bridge.ble_errors import UnsupportedFormat
from firmware_bridge.records import Measurement

SensorFormat = Literal["ruuvi", "atc", "pvvx", "bthome"]
SENSOR_FORMATS: Final[tuple[SensorFormat, ...]] = ("ruuvi", "atc", "pvvx", "bthome")


def detect_format(advert: Advertisement) -> SensorFormat | None:
    """The sensor format ``advert`` carries data of, if any (0x181A told apart by length)."""
    if ble_ruuvi.MANUFACTURER_ID in advert.manufacturer_data:
        return "ruuvi"
    if ble_bthome.SERVICE_UUID in advert.service_data:
        return "bthome"
    xiaomi = advert.service_data.get(ble_xiaomi.SERVICE_UUID)
    if xiaomi is not None:
        return "pvvx" if len(xiaomi) == 15 else "atc"
    return None


def decode_measurements(
    advert: Advertisement,
    time: datetime,
    sensor_format: SensorFormat | None = None,
    *,
    device_id: str | None = None,
    bindkey: bytes | None = None,
) -> list[Measurement]:
    """Readings of ``advert`` in ``sensor_format`` (detected when ``None``); the advert's own
    receive time wins over ``time``. Raises a :class:`BleDecodeError` subclass."""
    chosen = sensor_format or detect_format(advert)
    when = advert.time or time
    if chosen == "ruuvi":
        return ble_ruuvi.decode_ruuvi_advert(advert, when, device_id)
    if chosen == "atc" or chosen == "pvvx":
        return ble_xiaomi.decode_xiaomi_advert(advert, when, device_id, expect=chosen)
    if chosen == "bthome":
        return ble_bthome.decode_bthome_advert(advert, when, device_id, bindkey)
    raise UnsupportedFormat(f"{advert.address}: no RuuviTag, ATC/pvvx or BTHome data")
