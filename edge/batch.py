"""Pure pieces of the ingest exchange: the request body from buffered payload strings, gzip,
and the clock skew read from the answer."""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edge.buffer import BufferedRecord
from firmware_bridge.wire import format_time


def record_json(record: BufferedRecord) -> str:
    """The stored payload with ``seq`` injected first; payloads always start with ``{"kind"``."""
    return f'{{"seq":{record.seq},{record.payload[1:]}'


def batch_body(
    *,
    gateway_id: str,
    first_seq: int,
    records: Sequence[BufferedRecord],
    sent_at: datetime,
    health: Mapping[str, Any],
) -> bytes:
    """The JSON body of ``POST /api/v1/ingest``, built by joining strings, not re-encoding."""
    if not records:
        raise ValueError("a batch carries at least one record")
    head = json.dumps(
        {
            "gateway_id": gateway_id,
            "first_seq": first_seq,
            "last_seq": records[-1].seq,
            "sent_at": format_time(sent_at),
            "health": health,
        },
        separators=(",", ":"),
    )
    body = head[:-1] + ',"records":[' + ",".join(map(record_json, records)) + "]}"
    return body.encode("utf-8")


@dataclass(frozen=True, slots=True)
class PackedRecords:
    """The records of a batch, JSON-encoded and gzip-compressed ahead of the envelope, so the
    costly part of a request body can be made while an earlier request is in flight and the
    envelope (first_seq, sent_at, health) is added just before sending."""

    last_seq: int
    prefix: bytes
    """Compressed output so far."""
    compressor: zlib._Compress
    """Holds the rest of the stream; copied by :func:`seal_body`, never consumed."""


def pack_records(records: Sequence[BufferedRecord], level: int = 1) -> PackedRecords:
    """Start a gzip body with ``{"records":[...],``; :func:`seal_body` completes it."""
    if not records:
        raise ValueError("a batch carries at least one record")
    # wbits 16 + MAX_WBITS: a gzip member (header mtime 0) rather than a bare zlib stream.
    compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    text = '{"records":[' + ",".join(map(record_json, records)) + "],"
    return PackedRecords(records[-1].seq, compressor.compress(text.encode("utf-8")), compressor)


def seal_body(
    packed: PackedRecords,
    *,
    gateway_id: str,
    first_seq: int,
    sent_at: datetime,
    health: Mapping[str, Any],
) -> bytes:
    """The gzip body of ``POST /api/v1/ingest`` (same JSON as :func:`batch_body`, records
    first); ``packed`` stays reusable."""
    envelope = json.dumps(
        {
            "gateway_id": gateway_id,
            "first_seq": first_seq,
            "last_seq": packed.last_seq,
            "sent_at": format_time(sent_at),
            "health": health,
        },
        separators=(",", ":"),
    )
    compressor = packed.compressor.copy()
    tail = compressor.compress(envelope[1:].encode("utf-8")) + compressor.flush()
    return packed.prefix + tail


def take_batch(
    records: Sequence[BufferedRecord], max_records: int, max_bytes: int
) -> list[BufferedRecord]:
    """The leading records a :meth:`Buffer.peek` of ``max_records`` and ``max_bytes`` returns
    when ``records`` is the oldest part of the outbox: at least one, then while within both."""
    out: list[BufferedRecord] = []
    total = 0
    for record in records[:max_records]:
        if out and total + record.size > max_bytes:
            break
        out.append(record)
        total += record.size
    return out


def clock_skew_s(sent_at: datetime, received_at: datetime, server_time: datetime) -> float:
    """Gateway clock minus cloud clock, NTP-style: the cloud stamped ``server_time`` at about the
    midpoint of the round trip, as measured on the gateway's clock."""
    midpoint = sent_at + (received_at - sent_at) / 2
    return (midpoint - server_time).total_seconds()
