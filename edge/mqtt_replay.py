"""The idempotency key of an MQTT message, under which the buffer stores its records once.

A message is the same message when it arrives again on the same topic (site and device) with the
same ``msg_id`` the device put in it; a device that sends no ``msg_id`` is identified by its
payload (which carries the device's time). The buffer writes the key in the transaction that
stores the records, so a message stored just before a crash, whose PUBACK never left, is
recognised when the broker redelivers it. Pure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Final, TypedDict

from edge.buffer import DEFAULT_DEDUPE_MAX_AGE_S, DEFAULT_DEDUPE_MAX_KEYS
from edge.config import MqttDevice

AGE_MARGIN_S: Final = 24 * 3600.0
"""Keys outlive the broker's session by this much: a redelivery comes from that session."""


class DedupeLimits(TypedDict):
    dedupe_max_keys: int
    dedupe_max_age_s: float


def dedupe_key(connector: str, topic: str, payload: bytes, msg_id: str | None) -> str:
    """``mqtt:<connector>:<topic>#id:<msg_id>``, or ``#h:<payload hash>`` without a msg_id."""
    if msg_id is not None:
        identity = f"id:{msg_id}"
    else:
        identity = "h:" + hashlib.blake2b(payload, digest_size=16).hexdigest()
    return f"mqtt:{connector}:{topic}#{identity}"


def dedupe_limits(devices: Iterable[object]) -> DedupeLimits:
    """The buffer's key limits for a gateway's devices: the MQTT connectors' ``replay_memory``
    added up, and their longest session expiry plus a day (defaults without MQTT devices)."""
    mqtt = [device for device in devices if isinstance(device, MqttDevice)]
    if not mqtt:
        return {
            "dedupe_max_keys": DEFAULT_DEDUPE_MAX_KEYS,
            "dedupe_max_age_s": DEFAULT_DEDUPE_MAX_AGE_S,
        }
    return {
        "dedupe_max_keys": sum(device.replay_memory for device in mqtt),
        "dedupe_max_age_s": max(device.session_expiry_s for device in mqtt) + AGE_MARGIN_S,
    }
