"""Pure ingest logic (body, envelope, plan) and the error shape of an unexpected failure."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx
import pytest

from cloud import Settings, create_app
from cloud.api_error import ApiError
from cloud.ingest.body import decode_body
from cloud.ingest.envelope import parse_batch
from cloud.ingest.plan import EVICTED, NOT_SENT, Gap, Reject, plan_batch, record_row
from cloud.ingest.rows import row_dict
from firmware_bridge.records import RecordKind
from tests.cloud.cloud_helpers import SCAN, batch, position, stored_row, wire


def test_decode_body_plain_and_gzip() -> None:
    assert decode_body(b'{"a": 1}', content_encoding=None, max_bytes=100) == {"a": 1}
    packed = gzip.compress(b'{"a": [1, 2]}')
    assert decode_body(packed, content_encoding="GZIP", max_bytes=100) == {"a": [1, 2]}


@pytest.mark.parametrize(
    ("raw", "encoding", "status", "code"),
    [
        (b"\xff\xfe", None, 400, "invalid_json"),
        (b"x" * 101, None, 413, "batch_too_large"),
        (gzip.compress(b"1" * 101, mtime=0), "gzip", 413, "batch_too_large"),
        (gzip.compress(b"1", mtime=0) + b"junk", "gzip", 400, "invalid_gzip"),
        (b"{}", "br", 415, "unsupported_encoding"),
    ],
)
def test_decode_body_errors(raw: bytes, encoding: str | None, status: int, code: str) -> None:
    with pytest.raises(ApiError) as caught:
        decode_body(raw, content_encoding=encoding, max_bytes=100)
    assert (caught.value.status, caught.value.code) == (status, code)


def test_plan_mixes_duplicates_rejects_and_gaps() -> None:
    bad = {"seq": 6, "kind": "teleport"}
    records = [wire(position("v", s), s) for s in (3, 4, 5)] + [bad, wire(SCAN, 8)]
    plan = plan_batch(parse_batch(batch("gw", 3, 9, records)), ack_seq=4)
    assert (plan.gateway_id, plan.ack_seq, plan.duplicates, plan.stored) == ("gw", 9, 2, 2)
    assert plan.rejects == [Reject(6, "teleport", "kind: unknown record kind 'teleport'", bad)]
    assert plan.gaps == [Gap(7, 7, EVICTED), Gap(9, 9, EVICTED)]
    as_dicts = {kind: [row_dict(kind, row) for row in rows] for kind, rows in plan.rows.items()}
    assert as_dicts == {
        RecordKind.POSITION: [stored_row(position("v", 5), seq=5)],
        RecordKind.SCAN: [stored_row(SCAN, seq=8)],
    }
    assert plan.newest_positions == {"v": as_dicts[RecordKind.POSITION][0]}


def test_plan_reports_unsent_range_and_all_duplicate_batches() -> None:
    plan = plan_batch(parse_batch(batch("gw", 10, 10, [wire(SCAN, 10)])), ack_seq=3)
    assert plan.gaps == [Gap(4, 9, NOT_SENT)]
    stale = plan_batch(parse_batch(batch("gw", 1, 2, [wire(SCAN, 2)])), ack_seq=7)
    assert (stale.ack_seq, stale.duplicates, stale.stored, stale.gaps) == (7, 1, 0, [])


def test_record_row_uses_enum_values_and_field_names() -> None:
    assert record_row(SCAN, gateway_id="gw", seq=1) == {
        "gateway_id": "gw",
        "seq": 1,
        "scanner_id": "hh-1",
        "operator": "op-7",
        "operation": "pick",
        "code": "09506000134352",
        "quantity": 2,
        "location": "A-01-03",
        "time": SCAN.time,
    }


def test_newest_position_per_device_wins_by_time() -> None:
    records = [wire(position("v", 9), 1), wire(position("v", 2), 2)]
    plan = plan_batch(parse_batch(batch("gw", 1, 2, records)), ack_seq=0)
    assert plan.newest_positions["v"]["seq"] == 1


async def test_unexpected_failure_is_json_500(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path))

    async def boom() -> None:
        raise RuntimeError("kaput")

    app.add_api_route("/boom", boom)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://cloud") as client:
        response = await client.get("/boom")
    await app.state.database.dispose()
    assert (response.status_code, response.json()) == (
        500,
        {
            "error": {
                "code": "internal_error",
                "message": "the server failed unexpectedly; retry, and check the server log",
            }
        },
    )
