"""An in-process cloud answering ``POST /api/v1/ingest`` like the contract (httpx.MockTransport)."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from firmware_bridge.wire import format_time


def _error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message}})


@dataclass
class FakeCloud:
    token: str = "secret-token"
    max_records: int | None = None
    stored: dict[int, dict[str, Any]] = field(default_factory=dict)
    ack_seq: int = 0
    bodies: list[dict[str, Any]] = field(default_factory=list)
    headers: list[httpx.Headers] = field(default_factory=list)
    script: list[str] = field(default_factory=list)
    """Forced behaviours for the next requests: "500", "timeout", "refused", "stored-timeout"
    (store, then lose the answer), "ack-short" (ack one record less), "ack-beyond",
    "reject-first"."""
    malformed_seqs: set[int] = field(default_factory=set)
    """A batch carrying any of these seqs is refused whole with 422, like an envelope error."""
    answers: list[int] = field(default_factory=list)
    """Status code of every answered request with a readable body, in order."""
    clock: Callable[[], datetime] | None = None
    """The cloud's clock for server_time; None echoes the batch's sent_at."""

    latency_s: float | None = None
    """When set, each answer takes this long (an async transport), so a gateway can work
    while its request is in flight."""
    in_flight: Callable[[int], Awaitable[None]] | None = None
    """Awaited with the request's index after the latency, before the request is handled."""
    max_concurrent: int = 0
    _concurrent: int = 0
    downlink: dict[str, tuple[str, Any]] = field(default_factory=dict)
    """Downlink documents by path (``/api/v1/gateway/config``, ``/api/v1/catalogue/snapshot``):
    (ETag, body). GETs are answered apart from ``script``: 404 when absent, 304 on a match."""
    downlink_requests: list[httpx.Request] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        if self.latency_s is None:
            return httpx.MockTransport(self.handle)
        return httpx.MockTransport(self.handle_async)

    async def handle_async(self, request: httpx.Request) -> httpx.Response:
        index = len(self.answers)
        self._concurrent += 1
        self.max_concurrent = max(self.max_concurrent, self._concurrent)
        try:
            await asyncio.sleep(self.latency_s or 0.0)
            if self.in_flight is not None:
                await self.in_flight(index)
            return self.handle(request)
        finally:
            self._concurrent -= 1

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return self.handle_downlink(request)
        action = self.script.pop(0) if self.script else ""
        if action == "refused":
            raise httpx.ConnectError("connection refused", request=request)
        if action == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if action == "500":
            return _error(500, "internal", "database unavailable")
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return _error(401, "unauthorized", "unknown gateway token")
        if request.url.path != "/api/v1/ingest" or request.method != "POST":
            return _error(404, "not_found", request.url.path)
        try:
            body = json.loads(gzip.decompress(request.content))
        except ValueError as exc:
            self.answers.append(400)
            return _error(400, "invalid_json", f"body is not valid UTF-8 JSON ({exc})")
        self.bodies.append(body)
        self.headers.append(request.headers)
        records = body["records"]
        bad = [i for i, r in enumerate(records) if r["seq"] in self.malformed_seqs]
        if bad:
            self.answers.append(422)
            return _error(422, "invalid_batch", f"records[{bad[0]}].seq: refused")
        if self.max_records is not None and len(records) > self.max_records:
            self.answers.append(413)
            return _error(413, "too_large", f"at most {self.max_records} records")
        self.answers.append(200)
        duplicates = 0
        rejected = []
        for index, record in enumerate(records):
            if action == "reject-first" and index == 0:
                rejected.append({"seq": record["seq"], "error": "lat: out of range"})
            if record["seq"] in self.stored:
                duplicates += 1
            self.stored.setdefault(record["seq"], record)
        if body["first_seq"] <= self.ack_seq + 1:
            self.ack_seq = max(self.ack_seq, body["last_seq"])
        if action == "stored-timeout":
            raise httpx.ReadTimeout("answer lost", request=request)
        ack = self.ack_seq
        if action == "ack-short":
            ack -= 1
            self.ack_seq = ack
        if action == "ack-beyond":
            ack += 1000
        return httpx.Response(
            200,
            json={
                "ack_seq": ack,
                "stored": len(records) - duplicates,
                "duplicates": duplicates,
                "rejected": rejected,
                "gaps": [],
                "server_time": body["sent_at"] if self.clock is None else format_time(self.clock()),
            },
        )

    def handle_downlink(self, request: httpx.Request) -> httpx.Response:
        self.downlink_requests.append(request)
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return _error(401, "unauthorized", "unknown gateway token")
        document = self.downlink.get(request.url.path)
        if document is None:
            return _error(404, "no_config", f"nothing at {request.url.path}")
        etag, body = document
        if request.headers.get("if-none-match") == etag:
            return httpx.Response(304, headers={"ETag": etag})
        return httpx.Response(200, json=body, headers={"ETag": etag})
