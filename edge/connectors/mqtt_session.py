"""A paho-mqtt 2 client whose network loop runs in paho's thread, bridged to asyncio.

Every paho callback only hands its data to the event loop (``call_soon_threadsafe``); all state
lives on the loop. The session is persistent (MQTT 5: clean_start False and a session expiry;
3.1.1: clean_session False), subscriptions are QoS 1 and renewed on every (re)connect, paho
reconnects with exponential backoff, and messages are acknowledged manually (:meth:`ack`) once
the caller made them durable. A message not acknowledged is redelivered by the broker after the
next connect. :meth:`publish` (the gateway's answers to scanners) never waits: while disconnected
paho keeps up to :data:`MAX_QUEUED_PUBLISHES` messages and sends them after the next connect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, ParamSpec

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.config import MqttDevice

log = logging.getLogger(__name__)

P = ParamSpec("P")
QOS: Final = 1
INVALID_TOPIC_MARK: Final = "(topic not UTF-8) "
MAX_QUEUED_PUBLISHES: Final = 5_000
"""Outgoing messages paho holds (in flight or waiting for a connection); beyond, they are
dropped rather than filling the memory while the broker is away."""


class PublishOutcome(StrEnum):
    SENT = "sent"
    """Handed to the connection (QoS 1: paho resends it until the broker's PUBACK)."""
    QUEUED = "queued"
    """Not connected: paho sends it after the next connect."""
    DROPPED = "dropped"
    """Not sent and never will be (queue full, or a topic paho refuses)."""


@dataclass(frozen=True, slots=True)
class Inbound:
    topic: str
    payload: bytes
    mid: int
    qos: int
    retain: bool
    connection: int
    """Which connection (counted from 1) delivered it; an ack is only valid on that one."""


class MqttSession:
    """Create with :meth:`open`; read :attr:`messages`, then :meth:`ack` each one."""

    def __init__(
        self, device: MqttDevice, topics: Sequence[str], loop: asyncio.AbstractEventLoop
    ) -> None:
        self._device = device
        self._topics = list(topics)
        self._loop = loop
        self.messages: asyncio.Queue[Inbound] = asyncio.Queue()
        self.connection = 0
        self.connected = False
        self.subscribed = asyncio.Event()
        """Set once the broker granted the subscriptions of the current connection."""
        self.session_present = False
        self.connects = 0
        self.disconnects = 0
        self.last_error: str | None = None
        self._client = self._make_client()

    @classmethod
    @asynccontextmanager
    async def open(cls, device: MqttDevice, topics: Sequence[str]) -> AsyncIterator[MqttSession]:
        """Start connecting in the background; disconnect (keeping the broker's session) and
        join paho's thread on exit."""
        session = cls(device, topics, asyncio.get_running_loop())
        session._start()
        try:
            yield session
        finally:
            await session._close()

    def ack(self, message: Inbound) -> bool:
        """PUBACK ``message`` if its connection is still the current one (after a reconnect the
        broker redelivers it instead); True when sent."""
        if message.qos == 0 or message.connection != self.connection or not self.connected:
            return False
        return bool(self._client.ack(message.mid, message.qos) == MQTTErrorCode.MQTT_ERR_SUCCESS)

    def publish(self, topic: str, payload: bytes) -> PublishOutcome:
        """Publish with QoS 1, not retained, without waiting for the broker."""
        try:
            info = self._client.publish(topic, payload, qos=QOS, retain=False)
        except ValueError as exc:  # paho refuses the topic or the payload
            log.error("%s: cannot publish to %r: %s", self._device.id, topic, exc)
            return PublishOutcome.DROPPED
        if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
            return PublishOutcome.SENT
        if info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN:
            return PublishOutcome.QUEUED
        return PublishOutcome.DROPPED

    def _make_client(self) -> paho.Client:
        dev = self._device
        v5 = dev.protocol == "5"
        client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=dev.client_id,
            protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
            clean_session=None if v5 else False,
            manual_ack=True,
        )
        if dev.username is not None:
            password = None if dev.password is None else dev.password.get_secret_value()
            client.username_pw_set(dev.username, password)
        client.reconnect_delay_set(dev.reconnect_initial_s, dev.reconnect_max_s)
        client.max_queued_messages_set(MAX_QUEUED_PUBLISHES)
        client.on_connect = self._paho_connect
        client.on_disconnect = self._paho_disconnect
        client.on_connect_fail = self._paho_connect_fail
        client.on_subscribe = self._paho_subscribe
        client.on_message = self._paho_message
        return client

    def _start(self) -> None:
        dev = self._device
        properties: Properties | None = None
        if dev.protocol == "5":
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = dev.session_expiry_s
            self._client.connect_async(
                dev.host, dev.port, dev.keepalive_s, clean_start=False, properties=properties
            )
        else:
            self._client.connect_async(dev.host, dev.port, dev.keepalive_s)
        self._client.loop_start()

    async def _close(self) -> None:
        # A normal DISCONNECT keeps the session: the expiry was set at CONNECT.
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)
        self.connected = False
        self.subscribed.clear()

    # --- paho's thread: hand everything to the event loop, touch nothing else ---

    def _to_loop(self, fn: Callable[P, None], *args: P.args, **kwargs: P.kwargs) -> None:
        # A closed loop raises RuntimeError: nobody is left to tell.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(lambda: fn(*args, **kwargs))

    def _paho_connect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: paho.ConnectFlags,
        reason: Any,
        properties: Any,
    ) -> None:
        if reason.is_failure:
            self._to_loop(self._on_refused, str(reason))
            return
        # Subscribing from the callback puts SUBSCRIBE before any later PUBACK we send.
        client.subscribe([(topic, QOS) for topic in self._topics])
        self._to_loop(self._on_connected, flags.session_present)

    def _paho_disconnect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        self._to_loop(self._on_disconnected, str(reason), bool(reason.is_failure))

    def _paho_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        self._to_loop(self._on_refused, "cannot reach the broker")

    def _paho_subscribe(
        self, client: paho.Client, userdata: Any, mid: int, reasons: list[Any], properties: Any
    ) -> None:
        refused = [str(r) for r in reasons if r.is_failure]
        self._to_loop(self._on_subscribed, refused)

    def _paho_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        # An exception here would end paho's network thread. A topic that is not UTF-8 (a broker
        # should refuse it, MQTT requires UTF-8) is handed on readable, to be dead-lettered as a
        # topic outside the prefix.
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = f"{INVALID_TOPIC_MARK}{message._topic!r}"
        self._to_loop(self._on_message, topic, bytes(message.payload), message.mid,
                      message.qos, message.retain)  # fmt: skip

    # --- the event loop ---

    def _on_refused(self, reason: str) -> None:
        self.last_error = f"cannot connect to {self._device.host}:{self._device.port}: {reason}"
        log.warning("%s: %s", self._device.id, self.last_error)

    def _on_connected(self, session_present: bool) -> None:
        self.connection += 1
        self.connects += 1
        self.connected = True
        self.session_present = session_present
        self.subscribed.clear()
        log.info(
            "%s: connected to %s:%d (MQTT %s, session %s)",
            self._device.id,
            self._device.host,
            self._device.port,
            self._device.protocol,
            "resumed" if session_present else "new",
        )

    def _on_disconnected(self, reason: str, failure: bool) -> None:
        if self.connected:
            self.disconnects += 1
        self.connected = False
        self.subscribed.clear()
        if failure:
            self.last_error = f"disconnected: {reason}"
            log.warning(
                "%s: %s; reconnecting every %d-%d s",
                self._device.id,
                self.last_error,
                self._device.reconnect_initial_s,
                self._device.reconnect_max_s,
            )

    def _on_subscribed(self, refused: list[str]) -> None:
        if refused:
            self.last_error = f"subscription refused: {', '.join(refused)}"
            log.error("%s: %s - check the broker's ACL", self._device.id, self.last_error)
            return
        self.subscribed.set()

    def _on_message(self, topic: str, payload: bytes, mid: int, qos: int, retain: bool) -> None:
        self.messages.put_nowait(Inbound(topic, payload, mid, qos, retain, self.connection))
