"""Heartbeats: an idle gateway's sign of life to the cloud (its health, never records).

When the uplink has had no successful exchange with the cloud for ``[uplink] heartbeat_s``, it
posts ``{"gateway_id", "sent_at", "health"}`` to ``/api/v1/gateway/heartbeat``; the cloud
updates the gateway's last_seen, clock skew and health and answers ``{"server_time", "ack_seq"}``.
Here: when one is due (pure), the body, and one exchange read into a :class:`HeartbeatResult`.
The uplink sends it (so one request is in flight at a time) and applies the result.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import httpx

from firmware_bridge.wire import format_time, parse_time

HEARTBEAT_PATH = "/api/v1/gateway/heartbeat"


class HeartbeatStatus(StrEnum):
    ANSWERED = "answered"
    FAILED = "failed"
    """No answer, an error status or an unreadable answer: retry after the uplink's backoff."""
    UNAUTHORIZED = "unauthorized"
    UNSUPPORTED = "unsupported"
    """The cloud has no heartbeat route (an older cloud): stop heartbeating until restart."""


@dataclass(frozen=True, slots=True)
class HeartbeatReply:
    ack_seq: int
    server_time: datetime


@dataclass(frozen=True, slots=True)
class HeartbeatResult:
    status: HeartbeatStatus
    sent_at: datetime
    received_at: datetime
    reply: HeartbeatReply | None = None
    error: str | None = None
    """Why it failed, for the uplink's last_error and log."""


def heartbeat_wait_s(*, heartbeat_s: float, last_contact: float, now: float) -> float | None:
    """Seconds until a heartbeat is due (0.0: due now), counted from ``last_contact``, the
    monotonic time of the last successful exchange with the cloud (or of the uplink's start);
    None when heartbeats are off (``heartbeat_s`` 0)."""
    if heartbeat_s <= 0:
        return None
    return max(0.0, last_contact + heartbeat_s - now)


def heartbeat_body(*, gateway_id: str, sent_at: datetime, health: Mapping[str, Any]) -> bytes:
    """The gzip JSON body of a heartbeat."""
    document = {"gateway_id": gateway_id, "sent_at": format_time(sent_at), "health": health}
    return gzip.compress(json.dumps(document, separators=(",", ":")).encode("utf-8"), 6)


def read_reply(answer: Any) -> HeartbeatReply:
    """The cloud's 200 answer; ValueError naming what is wrong with it."""
    if not isinstance(answer, dict):
        raise ValueError("the answer is not a JSON object")
    ack_seq = answer.get("ack_seq")
    if isinstance(ack_seq, bool) or not isinstance(ack_seq, int) or ack_seq < 0:
        raise ValueError(f"ack_seq {ack_seq!r} is not a non-negative integer")
    server_time = answer.get("server_time")
    if not isinstance(server_time, str):
        raise ValueError("server_time is missing")
    return HeartbeatReply(ack_seq, parse_time(server_time))


def classify(status_code: int, error_code: str | None) -> HeartbeatStatus:
    """What a non-network answer means. A 404 is a missing route unless the cloud says the
    gateway itself is unknown (that is a failure to retry, like an unknown gateway's batch)."""
    if status_code == 200:
        return HeartbeatStatus.ANSWERED
    if status_code in (401, 403):
        return HeartbeatStatus.UNAUTHORIZED
    if status_code in (404, 405) and error_code != "gateway_not_found":
        return HeartbeatStatus.UNSUPPORTED
    return HeartbeatStatus.FAILED


async def send_heartbeat(
    client: httpx.AsyncClient,
    url: str,
    headers: Mapping[str, str],
    *,
    gateway_id: str,
    health: Mapping[str, Any],
    clock: Callable[[], datetime],
    request_timeout_s: float,
) -> HeartbeatResult:
    """Post one heartbeat and read the answer; network errors become a FAILED result."""
    sent_at = clock()
    body = heartbeat_body(gateway_id=gateway_id, sent_at=sent_at, health=health)
    try:
        response = await client.post(url, content=body, headers=headers, timeout=request_timeout_s)
    except httpx.TimeoutException:
        return HeartbeatResult(
            HeartbeatStatus.FAILED,
            sent_at,
            clock(),
            error=f"heartbeat: cloud did not answer within {request_timeout_s:.1f} s",
        )
    except httpx.TransportError as exc:
        return HeartbeatResult(
            HeartbeatStatus.FAILED,
            sent_at,
            clock(),
            error=f"heartbeat: cannot reach {url}: {exc or type(exc).__name__}",
        )
    received_at = clock()
    code, message = _error_of(response)
    status = classify(response.status_code, code)
    if status is not HeartbeatStatus.ANSWERED:
        return HeartbeatResult(
            status, sent_at, received_at, error=f"heartbeat: {response.status_code}: {message}"
        )
    try:
        reply = read_reply(response.json())
    except ValueError as exc:
        return HeartbeatResult(
            HeartbeatStatus.FAILED,
            sent_at,
            received_at,
            error=f"heartbeat: cloud answered 200 with an unreadable body: {exc}",
        )
    return HeartbeatResult(status, sent_at, received_at, reply=reply)


def _error_of(response: httpx.Response) -> tuple[str | None, str]:
    """The error code and a one-line message of an error answer."""
    if response.status_code == 200:
        return None, ""
    try:
        error = response.json()["error"]
        return str(error["code"]), f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return None, response.text[:200] or response.reason_phrase
