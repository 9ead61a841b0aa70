"""Recognise a replayed MQTT message: same topic (device and kind) and same payload (which
carries the device's time) as one stored recently. Pure, bounded memory."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable

ReplayKey = tuple[str, bytes]


def replay_key(topic: str, payload: bytes) -> ReplayKey:
    return topic, hashlib.blake2b(payload, digest_size=16).digest()


class ReplayFilter:
    """The last ``capacity`` keys remembered, oldest forgotten first."""

    def __init__(self, capacity: int = 10_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._seen: OrderedDict[ReplayKey, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def seen(self, key: ReplayKey) -> bool:
        return key in self._seen

    def remember(self, keys: Iterable[ReplayKey]) -> None:
        """Call only once the messages are durable, so a lost write is not taken for a replay."""
        for key in keys:
            self._seen[key] = None
            self._seen.move_to_end(key)
        while len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
