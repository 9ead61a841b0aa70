"""Server-Sent Events for the console: one stream per page, a snapshot first, then deltas at 1 Hz.

The pure part (:func:`diff`, :func:`frame`, :func:`events`, :class:`ResumeCache`) is separate
from the database reads (the route's ``read``), so the stream logic is tested without a clock
or a database."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import orjson

State = dict[str, Any]
Keyed = Mapping[str, Any]


def diff(previous: Keyed, current: Keyed) -> dict[str, Any] | None:
    """What changed between two id → object maps: ``{"set": {...}, "del": [...]}``, or None."""
    changed = {key: value for key, value in current.items() if previous.get(key) != value}
    removed = sorted(key for key in previous if key not in current)
    if not changed and not removed:
        return None
    return {"set": changed, "del": removed}


def delta(previous: State, current: State, keyed: frozenset[str]) -> State:
    """Per section: a keyed diff for ``keyed`` sections (vehicles), the whole value for the rest
    (alarms, gateways, counts) when it changed; sections that did not change are left out."""
    out: State = {}
    for section, value in current.items():
        if section in keyed:
            change = diff(previous.get(section, {}), value)
            if change is not None:
                out[section] = change
        elif previous.get(section) != value:
            out[section] = value
    return out


def frame(event: str, data: Any, event_id: str | None = None) -> bytes:
    """One SSE message; with an id, the browser sends it back as ``Last-Event-ID`` on reconnect."""
    head = b"id: " + event_id.encode() + b"\n" if event_id is not None else b""
    return head + b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class Cadence:
    """A ``sleep`` for :func:`events` that keeps ticks on a fixed schedule: reading the state
    takes time, and a plain ``sleep(interval)`` after it would stretch 1 Hz to ~0.9 Hz. Never
    sleeps less than half an interval, so slow reads cannot turn into a busy loop."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._next: float | None = None

    async def __call__(self, seconds: float) -> None:
        now = self._clock()
        start = now if self._next is None else self._next
        self._next = max(start + seconds, now + seconds / 2)
        await self._sleep(self._next - now)


class ResumeCache:
    """The last state of each stream that ended on schedule, under its last event id, so the
    browser's reconnect continues with a delta instead of a whole snapshot.

    Bounded: at most ``max_entries`` (the oldest go first), each kept ``ttl_s``; a state is
    taken once, and only by the same user. States are kept serialized (compact, immutable)."""

    def __init__(
        self,
        *,
        max_entries: int = 64,
        ttl_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._clock = clock
        self._kept: OrderedDict[str, tuple[str, float, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._kept)

    def put(self, event_id: str, owner: str, state: State) -> None:
        self._expire()
        self._kept[event_id] = (owner, self._clock() + self.ttl_s, orjson.dumps(state))
        while len(self._kept) > self.max_entries:
            self._kept.popitem(last=False)

    def take(self, event_id: str, owner: str) -> State | None:
        self._expire()
        found = self._kept.get(event_id)
        if found is None or found[0] != owner:
            return None
        del self._kept[event_id]
        state: State = orjson.loads(found[2])
        return state

    def _expire(self) -> None:
        now = self._clock()
        for key in [k for k, (_, expires, _) in self._kept.items() if expires <= now]:
            del self._kept[key]


async def events(
    read: Callable[[], Awaitable[State]],
    *,
    keyed: frozenset[str],
    interval_s: float,
    stopped: Callable[[], Awaitable[bool]],
    max_ticks: int | None = None,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    retry_ms: int = 2000,
    stream_id: str | None = None,
    resume_from: State | None = None,
    keep: Callable[[str, State], None] | None = None,
) -> AsyncIterator[bytes]:
    """``snapshot`` once, then a ``delta`` whenever something changed, else a keep-alive comment
    every tick (so proxies and the browser see the connection is alive). After ``max_ticks`` the
    stream ends and the browser reconnects ``retry_ms`` later: a server shutting down waits for
    open responses, so no stream may stay open for long.

    With a ``stream_id`` every message carries an id; a stream that ends on schedule hands its
    last id and state to ``keep`` and says ``bye``, and a stream started with ``resume_from``
    (the state the browser already has) opens with a ``resume`` delta instead of a snapshot."""
    yield b"retry: " + str(retry_ms).encode() + b"\n\n"
    sent = 0

    def next_id() -> str | None:
        nonlocal sent
        sent += 1
        return None if stream_id is None else f"{stream_id}.{sent}"

    last_id = next_id()
    state = await read()
    if resume_from is None:
        yield frame("snapshot", state, last_id)
    else:
        yield frame("resume", delta(resume_from, state, keyed), last_id)
    ticks = 0
    while not await stopped():
        if max_ticks is not None and ticks >= max_ticks:
            if stream_id is not None and last_id is not None:
                if keep is not None:
                    keep(last_id, state)
                yield frame("bye", {"retry_ms": retry_ms})
            return
        ticks += 1
        await sleep(interval_s)
        current = await read()
        change = delta(state, current, keyed)
        state = current
        if change:
            last_id = next_id()
            yield frame("delta", change, last_id)
        else:
            yield b": tick\n\n"
