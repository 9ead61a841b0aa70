"""The console's event stream ends on schedule and resumes without a snapshot; what it keeps
for that is bounded. The page's CSP lets tiles come from exactly the configured origin."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cloud.console.csp import content_security_policy, tile_origin
from cloud.console.stream import Cadence, ResumeCache, events
from tests.cloud.cloud_helpers import Cloud
from tests.console.console_helpers import give_password, log_in


async def _collect(**kwargs: Any) -> list[bytes]:
    states = iter(kwargs.pop("states"))

    async def read() -> dict[str, Any]:
        return dict(next(states))

    async def never() -> bool:
        return False

    async def sleep(seconds: float) -> None:
        return None

    return [
        chunk
        async for chunk in events(
            read,
            keyed=frozenset({"vehicles"}),
            interval_s=1.0,
            stopped=never,
            sleep=sleep,
            **kwargs,
        )
    ]


async def test_a_stream_ends_with_bye_keeps_its_state_and_the_next_one_resumes() -> None:
    kept: dict[str, Any] = {}
    first = await _collect(
        states=[
            {"vehicles": {"v": {"lat": 1}}, "plan": "p1"},
            {"vehicles": {"v": {"lat": 2}}, "plan": "p1"},
            {"vehicles": {"v": {"lat": 2}}, "plan": "p1"},
        ],
        max_ticks=2,
        retry_ms=250,
        stream_id="s1",
        keep=kept.__setitem__,
    )
    assert first == [
        b"retry: 250\n\n",
        b'id: s1.1\nevent: snapshot\ndata: {"vehicles":{"v":{"lat":1}},"plan":"p1"}\n\n',
        b'id: s1.2\nevent: delta\ndata: {"vehicles":{"set":{"v":{"lat":2}},"del":[]}}\n\n',
        b": tick\n\n",
        b'event: bye\ndata: {"retry_ms":250}\n\n',
    ]
    assert kept == {"s1.2": {"vehicles": {"v": {"lat": 2}}, "plan": "p1"}}

    second = await _collect(
        states=[{"vehicles": {"v": {"lat": 2}, "w": {"lat": 5}}, "plan": "p2"}],
        max_ticks=0,
        retry_ms=250,
        stream_id="s2",
        resume_from=kept["s1.2"],
    )
    assert second[1] == (
        b"id: s2.1\nevent: resume\n"
        b'data: {"vehicles":{"set":{"w":{"lat":5}},"del":[]},"plan":"p2"}\n\n'
    )
    unchanged = await _collect(
        states=[kept["s1.2"]], max_ticks=0, stream_id="s3", resume_from=kept["s1.2"]
    )
    assert unchanged[1] == b"id: s3.1\nevent: resume\ndata: {}\n\n"


async def test_the_cadence_keeps_ticks_on_schedule_whatever_the_reads_take() -> None:
    clock = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))
        clock[0] += seconds

    cadence = Cadence(clock=lambda: clock[0], sleep=sleep)
    for read_s in (0.2, 0.3, 0.9, 0.0, 0.05):
        clock[0] += read_s
        await cadence(1.0)
    # Ticks at 1.2 and 2.2 (the 0.3 s read absorbed); after a 0.9 s read at least half an
    # interval (3.6), and the schedule goes on from there: 4.6, 5.6.
    assert slept == [1.0, 0.7, 0.5, 1.0, 0.95]
    assert clock[0] == pytest.approx(5.6)


def test_the_resume_cache_is_bounded_expires_and_serves_only_its_owner_once() -> None:
    clock = [100.0]
    cache = ResumeCache(max_entries=2, ttl_s=30.0, clock=lambda: clock[0])
    cache.put("a.1", "operator:ops", {"orders": {"x": 1}})
    assert cache.take("a.1", "operator:eve") is None  # someone else's
    assert cache.take("a.1", "operator:ops") == {"orders": {"x": 1}}
    assert cache.take("a.1", "operator:ops") is None  # once
    for n in range(3):
        cache.put(f"b.{n}", "operator:ops", {"n": n})
    assert len(cache) == 2 and cache.take("b.0", "operator:ops") is None  # the oldest went
    clock[0] += 30.0
    assert cache.take("b.2", "operator:ops") is None and len(cache) == 0  # expired


def test_the_tile_origin_is_the_only_extra_image_source() -> None:
    assert tile_origin("http://127.0.0.1:8089/tiles/{z}/{x}/{y}.png") == "http://127.0.0.1:8089"
    assert tile_origin("https://tiles.example.com/{z}/{x}/{y}.png") == "https://tiles.example.com"
    assert tile_origin("https://tiles.example.com:443/{z}/{x}/{y}.png") == (
        "https://tiles.example.com"
    )
    assert tile_origin("http://[::1]:9000/{z}/{x}/{y}.png") == "http://[::1]:9000"
    assert tile_origin(None) is None
    with pytest.raises(ValueError, match="fixed host"):
        tile_origin("https://{s}.tile.example.com/{z}/{x}/{y}.png")
    policy = content_security_policy("http://127.0.0.1:8089/{z}/{x}/{y}.png")
    assert "img-src 'self' data: http://127.0.0.1:8089;" in policy
    assert "https:" not in content_security_policy(None)
    assert "img-src 'self' data:;" in content_security_policy(None)


async def test_the_stream_route_resumes_from_the_last_event_id(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cloud.console import routes

    monkeypatch.setattr(routes._settings, "stream_interval_s", 0.01)
    monkeypatch.setattr(routes._settings, "stream_lifetime_s", 0.02)
    await give_password(cloud.database, "operator")
    await log_in(cloud.client, "operator")

    async def messages(headers: dict[str, str] | None = None) -> list[tuple[str, str, Any]]:
        response = await cloud.client.get("/console/api/stream", headers=headers or {})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        found = []
        for block in response.text.split("\n\n"):
            fields = dict(
                line.split(": ", 1) for line in block.splitlines() if not line.startswith(":")
            )
            if "event" in fields:
                found.append((fields.get("id", ""), fields["event"], orjson.loads(fields["data"])))
        return found

    first = await messages()
    assert first[0][1] == "snapshot" and first[-1][1] == "bye"
    assert set(first[0][2]) == {"orders", "vehicles", "alarms", "gateways", "plan"}
    last_id = [m[0] for m in first if m[0]][-1]
    resumed = await messages({"Last-Event-ID": last_id})
    assert resumed[0][1] == "resume" and "vehicles" not in resumed[0][2]
    again = await messages({"Last-Event-ID": last_id})  # taken once: a fresh snapshot
    assert again[0][1] == "snapshot"
    forged = await messages({"Last-Event-ID": "nope.1"})
    assert forged[0][1] == "snapshot"
    cloud.client.cookies.clear()
    assert (await cloud.client.get("/console/api/stream")).status_code == 401
