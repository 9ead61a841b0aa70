"""An in-process cloud answering ``POST /api/v1/ingest`` like the contract (httpx.MockTransport)."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from typing import Any

import httpx


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

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
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
        body = json.loads(gzip.decompress(request.content))
        self.bodies.append(body)
        self.headers.append(request.headers)
        records = body["records"]
        if self.max_records is not None and len(records) > self.max_records:
            return _error(413, "too_large", f"at most {self.max_records} records")
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
                "server_time": body["sent_at"],
            },
        )
