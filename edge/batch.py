"""Pure pieces of the ingest exchange: the request body from buffered payload strings, gzip,
and the clock skew read from the answer."""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping, Sequence
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


def gzip_body(body: bytes, level: int = 1) -> bytes:
    # Level 1: about 30 % less CPU than 4 for a 1 MB batch, about 20 % larger output.
    # mtime=0 keeps identical bodies byte-identical, which makes retries easy to compare.
    return gzip.compress(body, compresslevel=level, mtime=0)


def clock_skew_s(sent_at: datetime, received_at: datetime, server_time: datetime) -> float:
    """Gateway clock minus cloud clock, NTP-style: the cloud stamped ``server_time`` at about the
    midpoint of the round trip, as measured on the gateway's clock."""
    midpoint = sent_at + (received_at - sent_at) / 2
    return (midpoint - server_time).total_seconds()
