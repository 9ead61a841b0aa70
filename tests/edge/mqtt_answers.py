"""A handheld's ear on the broker: collects the gateway's answers to scans, with the QoS and
retain flag they were delivered with."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from tests.edge.mqtt_helpers import TIMEOUT, until


@dataclass(frozen=True, slots=True)
class Answer:
    topic: str
    body: dict[str, Any]
    qos: int
    retain: bool


class AnswerListener:
    """Subscribed (QoS 1) to ``topic_filter`` once constructed; :meth:`close` when done.

    ``client_id`` and ``clean`` False keep a session on the broker across its restarts (paho
    reconnects by itself)."""

    def __init__(
        self,
        broker: tuple[str, int],
        topic_filter: str,
        *,
        client_id: str | None = None,
        clean: bool = True,
    ) -> None:
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._filter = topic_filter
        self.client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id or f"ear-{uuid.uuid4().hex[:12]}",
            protocol=MQTTProtocolVersion.MQTTv311,
            clean_session=clean,
        )
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(*broker)
        self.client.loop_start()
        assert self._subscribed.wait(TIMEOUT), f"no SUBACK for {topic_filter}"

    def _on_connect(self, client: paho.Client, *_: Any) -> None:
        client.subscribe(self._filter, qos=1)

    def _on_message(self, _client: paho.Client, _userdata: Any, message: paho.MQTTMessage) -> None:
        answer = Answer(message.topic, json.loads(message.payload), message.qos, message.retain)
        with self._lock:
            self.answers.append(answer)

    def received(self) -> list[Answer]:
        with self._lock:
            return list(self.answers)

    async def wait_for(self, count: int) -> list[Answer]:
        await until(lambda: len(self.received()) >= count)
        return self.received()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
