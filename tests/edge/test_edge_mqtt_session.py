"""The paho bridge of the MQTT session, without a broker: what paho's thread hands the loop."""

from __future__ import annotations

import asyncio

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import MqttDevice
from edge.connectors import mqtt_session
from edge.connectors.mqtt_session import (
    INVALID_TOPIC_MARK,
    Inbound,
    MqttSession,
    PublishOutcome,
)
from edge.mqtt_topics import PayloadError, parse_topic


def received(topic: bytes, payload: bytes, mid: int) -> paho.MQTTMessage:
    message = paho.MQTTMessage(mid=mid, topic=topic)
    message.payload = payload
    message.qos = 1
    return message


async def test_a_topic_that_is_not_utf8_reaches_the_loop_as_a_topic_to_dead_letter() -> None:
    """paho raises UnicodeDecodeError on such a message's topic; raised in the callback, it
    would end paho's network thread and with it every later message."""
    device = MqttDevice(id="mqtt-1", type="mqtt", client_id="gw-1")
    session = MqttSession(device, ["retailedge/v1/+/+/telemetry"], asyncio.get_running_loop())
    client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    bad = received(b"retailedge/v1/dc-\xff/probe-7/telemetry", b"{}", 7)
    good = received(b"retailedge/v1/dc-1/probe-7/telemetry", b"[]", 8)
    for message in (bad, good):
        await asyncio.to_thread(session._paho_message, client, None, message)
    first = await asyncio.wait_for(session.messages.get(), 5)
    second = await asyncio.wait_for(session.messages.get(), 5)
    assert first == Inbound(
        INVALID_TOPIC_MARK + "b'retailedge/v1/dc-\\xff/probe-7/telemetry'", b"{}", 7, 1, False, 0
    )
    assert second == Inbound("retailedge/v1/dc-1/probe-7/telemetry", b"[]", 8, 1, False, 0)
    with pytest.raises(PayloadError, match=r"^topic \S\(topic not UTF-8\) .* is not under"):
        parse_topic(first.topic)


async def test_publishing_never_waits_for_the_broker_and_stops_queueing_at_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not connected, paho keeps a QoS 1 message for the next connect, up to the limit; one it
    cannot keep, or a topic it refuses, is reported dropped, not raised."""
    monkeypatch.setattr(mqtt_session, "MAX_QUEUED_PUBLISHES", 2)
    device = MqttDevice(id="mqtt-1", type="mqtt", client_id="gw-1")
    session = MqttSession(device, ["retailedge/v1/+/+/scan"], asyncio.get_running_loop())
    topic = "retailedge/v1/dc-1/hh-1/scan/answer"
    assert session.publish("retailedge/v1/+/hh-1/scan/answer", b"{}") is PublishOutcome.DROPPED
    assert [session.publish(topic, b"{}") for _ in range(3)] == [
        PublishOutcome.QUEUED,
        PublishOutcome.QUEUED,
        PublishOutcome.DROPPED,
    ]
