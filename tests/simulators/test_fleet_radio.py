"""A delivery fleet's radios: a courier riding a street-grid leg, the fixes and readings it
publishes decoding at the gateway to what was sent, and a real device link on Mosquitto."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from datetime import UTC, datetime

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.mqtt_topics import decode_position, decode_telemetry
from firmware_bridge.records import Measurement, Position, Quantity, Unit
from simulators.fleet_motion import Fix, Leg, Spot
from simulators.fleet_radio import DeviceLink, position_payload, temperature_payload
from simulators.geo import haversine_m
from simulators.mqtt_devices import Broker, SimulatorError

STORE = Spot(31.188, 121.437)
DOOR = Spot(31.190, 121.439)  # 222 m north, 190 m east
AT = datetime(2026, 3, 1, 8, 0, 0, 123_456, tzinfo=UTC)


def test_a_leg_rides_north_south_then_east_west_at_its_speed() -> None:
    leg = Leg.plan(STORE, DOOR, start_s=100.0, speed_mps=5.0)
    north = haversine_m(STORE.lat, STORE.lon, DOOR.lat, STORE.lon)
    east = haversine_m(DOOR.lat, STORE.lon, DOOR.lat, DOOR.lon)
    assert leg.corner == Spot(DOOR.lat, STORE.lon)
    assert leg.length_m == pytest.approx(north + east)
    assert leg.length_m > haversine_m(STORE.lat, STORE.lon, DOOR.lat, DOOR.lon) * 1.3
    assert leg.end_s == pytest.approx(100.0 + (north + east) / 5.0)
    assert (leg.at(100.0).lat, leg.at(100.0).lon) == (STORE.lat, STORE.lon)
    halfway_north = leg.at(100.0 + north / 2 / 5.0)
    assert halfway_north.lat == pytest.approx((STORE.lat + DOOR.lat) / 2, abs=1e-9)
    assert halfway_north.lon == pytest.approx(STORE.lon, abs=1e-12)
    assert halfway_north.speed_mps == 5.0 and halfway_north.course_deg == pytest.approx(0.0)
    heading_east = leg.at(100.0 + (north + 10) / 5.0)
    assert heading_east.lat == pytest.approx(DOOR.lat, abs=1e-8)  # a great circle, not a parallel
    assert heading_east.course_deg == pytest.approx(90.0, abs=0.01)
    arrived = leg.at(leg.end_s + 30)
    assert (arrived.lat, arrived.lon, arrived.speed_mps) == (DOOR.lat, DOOR.lon, 0.0)
    assert arrived.course_deg == pytest.approx(90.0, abs=0.01)
    assert leg.covered_m(leg.end_s - 1) == pytest.approx(leg.length_m - 5.0)


def test_a_leg_to_where_the_courier_stands_is_over_at_once() -> None:
    leg = Leg.plan(STORE, STORE, start_s=0.0, speed_mps=4.0)
    assert (leg.length_m, leg.end_s) == (0.0, 0.0)
    assert leg.at(0.0) == Fix(0.0, STORE.lat, STORE.lon, 0.0, 0.0)
    with pytest.raises(ValueError, match="speed must be positive"):
        Leg.plan(STORE, DOOR, 0.0, 0.0)


def test_position_and_temperature_payloads_decode_to_what_was_sent() -> None:
    fix = Fix(0.0, 31.18812345678, 121.43798765432, 4.4444, 359.97)
    payload = position_payload("trk-1-7", AT, fix, "lf-ebike-01-gps")
    assert json.loads(payload)["msg_id"] == "trk-1-7"
    assert decode_position("phone-7", payload, AT) == Position(
        "lf-ebike-01-gps",
        AT.replace(microsecond=123_000),
        31.1881235,
        121.4379877,
        speed_mps=4.4,
        course_deg=0.0,  # 359.97 rounds to 360.0, which is north
        hdop=0.9,
    )
    reading = temperature_payload("chiller-3", AT, 3.14159)
    assert decode_telemetry("lf-reefer-01-chiller", reading, AT) == [
        Measurement(
            "lf-reefer-01-chiller",
            AT.replace(microsecond=123_000),
            Quantity.TEMPERATURE,
            3.14,
            Unit.CELSIUS,
        )
    ]


async def test_a_device_link_publishes_confirmed_and_announces_itself(
    mqtt_broker: tuple[str, int],
) -> None:
    broker = Broker(*mqtt_broker, topic_prefix=f"test-{uuid.uuid4().hex[:10]}", site="fleet")
    received: list[tuple[str, bytes]] = []
    subscribed = threading.Event()
    listener = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    listener.on_message = lambda _c, _u, message: received.append(
        (message.topic, bytes(message.payload))
    )
    listener.on_subscribe = lambda *_: subscribed.set()
    listener.connect(*mqtt_broker)
    listener.subscribe(f"{broker.topic_prefix}/#", qos=1)
    listener.loop_start()
    try:
        assert await asyncio.to_thread(subscribed.wait, 5)
        async with DeviceLink.connect(broker, "trk-9", f"trk-9-{uuid.uuid4().hex[:8]}") as link:
            for n in range(3):
                fix = Fix(0.0, 31.188 + n * 1e-4, 121.437, 4.0, 0.0)
                await link.publish("position", position_payload(f"m-{n}", AT, fix, "van-9"))
            assert link.published == 3
        for _ in range(50):
            if len(received) == 4:
                break
            await asyncio.sleep(0.05)
    finally:
        listener.loop_stop()
        listener.disconnect()
    topics = [topic for topic, _ in received]
    assert topics == [broker.topic("trk-9", "status")] + [broker.topic("trk-9", "position")] * 3
    assert received[0][1] == b"online"
    assert [json.loads(p)["msg_id"] for _, p in received[1:]] == ["m-0", "m-1", "m-2"]


async def test_a_device_link_says_which_broker_it_cannot_reach() -> None:
    broker = Broker("127.0.0.1", 9, topic_prefix="x", site="y")  # nothing listens on port 9
    with pytest.raises(SimulatorError, match=r"trk-x: cannot connect to 127\.0\.0\.1:9"):
        async with DeviceLink.connect(broker, "trk", "trk-x"):
            pass
