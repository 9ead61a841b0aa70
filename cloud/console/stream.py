"""Server-Sent Events for the console: one stream per page, a snapshot first, then deltas at 1 Hz.

The pure part (:func:`diff`, :func:`frame`, :func:`events`) is separate from the database reads
(:class:`Source`), so the stream logic is tested without a clock or a database."""

from __future__ import annotations

import asyncio
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


def frame(event: str, data: Any) -> bytes:
    """One SSE message."""
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


async def events(
    read: Callable[[], Awaitable[State]],
    *,
    keyed: frozenset[str],
    interval_s: float,
    stopped: Callable[[], Awaitable[bool]],
    max_ticks: int | None = None,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> AsyncIterator[bytes]:
    """``snapshot`` once, then a ``delta`` whenever something changed, else a keep-alive comment
    every tick (so proxies and the browser see the connection is alive). After ``max_ticks`` the
    stream ends and the browser reconnects (2 s later) for a fresh snapshot: a server shutting
    down waits for open responses, so no stream may stay open for long."""
    yield b"retry: 2000\n\n"
    state = await read()
    yield frame("snapshot", state)
    ticks = 0
    while not await stopped() and (max_ticks is None or ticks < max_ticks):
        ticks += 1
        await sleep(interval_s)
        current = await read()
        change = delta(state, current, keyed)
        state = current
        yield frame("delta", change) if change else b": tick\n\n"
