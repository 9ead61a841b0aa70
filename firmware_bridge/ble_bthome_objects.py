"""BTHome v2 object table: object id -> name, width, signedness, factor and our quantity.

From the BTHome v2 format specification (bthome.io/format). Objects are little-endian. An id
missing here stops decoding, because its length is unknown; width 0 marks the two
length-prefixed objects (text, raw).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from firmware_bridge.records import Quantity


@dataclass(frozen=True, slots=True)
class ObjectType:
    name: str
    width: int
    signed: bool = False
    factor: float = 1.0
    quantity: Quantity | None = None

    @property
    def decimals(self) -> int:
        text = repr(self.factor)
        return 0 if self.factor >= 1 else len(text.split(".")[1])


T, H, P = Quantity.TEMPERATURE, Quantity.HUMIDITY, Quantity.PRESSURE
BUTTON = 0x3A
PACKET_ID = 0x00

OBJECTS: Final[dict[int, ObjectType]] = {
    0x00: ObjectType("packet_id", 1),
    0x01: ObjectType("battery", 1, quantity=Quantity.BATTERY_LEVEL),
    0x02: ObjectType("temperature", 2, True, 0.01, T),
    0x03: ObjectType("humidity", 2, False, 0.01, H),
    0x04: ObjectType("pressure", 3, False, 0.01, P),
    0x05: ObjectType("illuminance", 3, False, 0.01),
    0x06: ObjectType("mass_kg", 2, False, 0.01),
    0x07: ObjectType("mass_lb", 2, False, 0.01),
    0x08: ObjectType("dewpoint", 2, True, 0.01),
    0x09: ObjectType("count", 1),
    0x0A: ObjectType("energy", 3, False, 0.001),
    0x0B: ObjectType("power", 3, False, 0.01),
    # BTHome's "voltage" is what battery sensors send their cell voltage as.
    0x0C: ObjectType("voltage", 2, False, 0.001, Quantity.BATTERY_VOLTAGE),
    0x0D: ObjectType("pm2_5", 2),
    0x0E: ObjectType("pm10", 2),
    0x0F: ObjectType("generic_boolean", 1),
    0x10: ObjectType("power_on", 1),
    0x11: ObjectType("opening", 1, quantity=Quantity.DOOR_OPEN),
    0x12: ObjectType("co2", 2),
    0x13: ObjectType("tvoc", 2),
    0x14: ObjectType("moisture", 2, False, 0.01),
    **{
        object_id: ObjectType(name, 1)
        for object_id, name in enumerate(
            (
                "battery_low",
                "battery_charging",
                "carbon_monoxide",
                "cold",
                "connectivity",
                "door",
                "garage_door",
                "gas",
                "heat",
                "light",
                "lock",
                "moisture_binary",
                "motion",
                "moving",
                "occupancy",
                "plug",
                "presence",
                "problem",
                "running",
                "safety",
                "smoke",
                "sound",
                "tamper",
                "vibration",
                "window",
            ),
            start=0x15,
        )
    },
    0x1A: ObjectType("door", 1, quantity=Quantity.DOOR_OPEN),
    0x2E: ObjectType("humidity", 1, quantity=H),
    0x2F: ObjectType("moisture", 1),
    BUTTON: ObjectType("button", 1, quantity=Quantity.BUTTON_PRESS),
    0x3C: ObjectType("dimmer", 2),
    0x3D: ObjectType("count", 2),
    0x3E: ObjectType("count", 4),
    0x3F: ObjectType("rotation", 2, True, 0.1),
    0x40: ObjectType("distance_mm", 2),
    0x41: ObjectType("distance_m", 2, False, 0.1),
    0x42: ObjectType("duration", 3, False, 0.001),
    0x43: ObjectType("current", 2, False, 0.001),
    0x44: ObjectType("speed", 2, False, 0.01),
    0x45: ObjectType("temperature", 2, True, 0.1, T),
    0x46: ObjectType("uv_index", 1, False, 0.1),
    0x47: ObjectType("volume_l", 2, False, 0.1),
    0x48: ObjectType("volume_ml", 2),
    0x49: ObjectType("volume_flow_rate", 2, False, 0.001),
    0x4A: ObjectType("voltage", 2, False, 0.1, Quantity.BATTERY_VOLTAGE),
    0x4B: ObjectType("gas", 3, False, 0.001),
    0x4C: ObjectType("gas", 4, False, 0.001),
    0x4D: ObjectType("energy", 4, False, 0.001),
    0x4E: ObjectType("volume", 4, False, 0.001),
    0x4F: ObjectType("water", 4, False, 0.001),
    0x50: ObjectType("timestamp", 4),
    0x51: ObjectType("acceleration", 2, False, 0.001),
    0x52: ObjectType("gyroscope", 2, False, 0.001),
    0x53: ObjectType("text", 0),
    0x54: ObjectType("raw", 0),
    0x55: ObjectType("volume_storage", 4, False, 0.001),
    0x56: ObjectType("conductivity", 2),
    0x57: ObjectType("temperature", 1, True, 1.0, T),
    0x58: ObjectType("temperature", 1, True, 0.35, T),
    0x59: ObjectType("count", 1, True),
    0x5A: ObjectType("count", 2, True),
    0x5B: ObjectType("count", 4, True),
    0x5C: ObjectType("power", 4, True, 0.01),
    0x5D: ObjectType("current", 2, True, 0.001),
    0x5E: ObjectType("direction", 2, False, 0.01),
    0x5F: ObjectType("precipitation", 2, False, 0.1),
    0x60: ObjectType("channel", 1),
    0x61: ObjectType("rotational_speed", 2),
    0xF0: ObjectType("device_type_id", 2),
    0xF1: ObjectType("firmware_version", 4),
    0xF2: ObjectType("firmware_version", 3),
}

BUTTON_EVENTS: Final[dict[int, tuple[str, int]]] = {
    0x00: ("none", 0),
    0x01: ("press", 1),
    0x02: ("double_press", 2),
    0x03: ("triple_press", 3),
    0x04: ("long_press", 1),
    0x05: ("long_double_press", 2),
    0x06: ("long_triple_press", 3),
    0x80: ("hold_press", 1),
}
"""Button event code -> (name, presses it stands for)."""

EVENT_OBJECTS: Final[frozenset[int]] = frozenset({0x11, 0x1A, 0x1B, 0x21, 0x2D, BUTTON, 0x3C})
"""Objects that report an event (opening, door, garage door, motion, window, button, dimmer):
a new packet carrying one is a change to keep, not a periodic reading a gateway may thin out."""
