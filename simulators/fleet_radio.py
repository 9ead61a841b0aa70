"""The radios of a simulated delivery fleet: vehicle trackers (or riders' phones) publishing GPS
fixes, and reefer compartment sensors publishing temperatures, over MQTT as a gateway's MQTT
connector expects them (``{prefix}/{site}/{device}/position|telemetry``).

Each device is its own MQTT client with ``offline`` as its Last Will. :meth:`DeviceLink.publish`
sends at QoS 1 and returns once the broker's PUBACK arrived: paho's callback, on its network
thread, is bridged to an asyncio future. The payload builders are pure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Final

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion

from firmware_bridge.wire import format_time
from simulators.fleet_motion import Fix
from simulators.mqtt_devices import Broker, SimulatorError

QOS: Final = 1
PUBACK_TIMEOUT_S: Final = 10.0
CONNECT_TIMEOUT_S: Final = 10.0
HDOP: Final = 0.9


def _millis(at: datetime) -> datetime:
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def position_payload(msg_id: str, at: datetime, fix: Fix, vehicle_id: str) -> bytes:
    """A ``position`` message: the fix with its speed and course, rounded as trackers send it
    (7 decimals of a degree, about 1 cm; 0.1 m/s; 0.1°)."""
    body: dict[str, Any] = {
        "msg_id": msg_id,
        "time": format_time(_millis(at)),
        "lat": round(fix.lat, 7),
        "lon": round(fix.lon, 7),
        "speed_mps": round(fix.speed_mps, 1),
        "course_deg": round(fix.course_deg, 1) % 360.0,
        "hdop": HDOP,
        "vehicle_id": vehicle_id,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def temperature_payload(msg_id: str, at: datetime, value_c: float) -> bytes:
    """A ``telemetry`` message with one temperature reading (two decimals)."""
    body = {
        "msg_id": msg_id,
        "time": format_time(_millis(at)),
        "readings": [{"quantity": "temperature", "value": round(value_c, 2), "unit": "Cel"}],
    }
    return json.dumps(body, separators=(",", ":")).encode()


class DeviceLink:
    """One device's connection to the broker; open it with :meth:`connect`."""

    def __init__(self, broker: Broker, device_id: str, client: paho.Client) -> None:
        self.broker = broker
        self.device_id = device_id
        self.published = 0
        self._client = client
        self._loop = asyncio.get_running_loop()
        self._pending: dict[int, asyncio.Future[None]] = {}
        self._connected: asyncio.Future[None] = self._loop.create_future()

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(
        cls, broker: Broker, device_id: str, client_id: str
    ) -> AsyncIterator[DeviceLink]:
        """Connected, ``online`` announced; on exit a clean DISCONNECT (no Last Will)."""
        client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=MQTTProtocolVersion.MQTTv311,
        )
        link = cls(broker, device_id, client)
        client.will_set(broker.topic(device_id, "status"), b"offline", qos=QOS)
        client.on_connect = link._on_connect
        client.on_publish = link._on_publish
        where = f"{client_id}: cannot connect to {broker.host}:{broker.port}"
        try:
            await asyncio.to_thread(client.connect, broker.host, broker.port, 30)
        except OSError as exc:
            raise SimulatorError(f"{where}: {exc}") from None
        client.loop_start()
        try:
            await asyncio.wait_for(link._connected, CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            await asyncio.to_thread(client.loop_stop)
            raise SimulatorError(f"{where}: {exc or 'no CONNACK'}") from None
        try:
            await link.publish("status", b"online", count=False)
            yield link
        finally:
            client.disconnect()
            await asyncio.to_thread(client.loop_stop)
            for future in link._pending.values():
                future.cancel()

    async def publish(self, kind: str, payload: bytes, *, count: bool = True) -> None:
        """Publish to ``{prefix}/{site}/{device}/{kind}`` and wait for the broker's PUBACK."""
        topic = self.broker.topic(self.device_id, kind)
        info = self._client.publish(topic, payload, qos=QOS)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise SimulatorError(f"publish to {topic} failed: {paho.error_string(info.rc)}")
        # The PUBACK callback is scheduled on this loop, so it runs after this registration.
        future = self._pending[info.mid] = self._loop.create_future()
        try:
            await asyncio.wait_for(future, PUBACK_TIMEOUT_S)
        except TimeoutError:
            raise SimulatorError(f"no PUBACK for {topic} within {PUBACK_TIMEOUT_S:.0f} s") from None
        finally:
            self._pending.pop(info.mid, None)
        if count:
            self.published += 1

    # paho callbacks, on its network thread

    def _on_connect(self, _client: paho.Client, _userdata: Any, *args: Any) -> None:
        reason = args[1]
        self._loop.call_soon_threadsafe(self._connack, not reason.is_failure, str(reason))

    def _on_publish(self, _client: paho.Client, _userdata: Any, mid: int, *_: Any) -> None:
        self._loop.call_soon_threadsafe(self._acked, mid)

    def _connack(self, accepted: bool, reason: str) -> None:
        if self._connected.done():
            return
        if accepted:
            self._connected.set_result(None)
        else:
            self._connected.set_exception(OSError(f"broker refused: {reason}"))

    def _acked(self, mid: int) -> None:
        future = self._pending.get(mid)
        if future is not None and not future.done():
            future.set_result(None)
