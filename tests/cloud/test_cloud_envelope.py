"""The batch envelope's record checks: the bulk path for contiguous seqs and the
record-by-record one must accept and refuse exactly the same batches."""

from __future__ import annotations

from typing import Any

import pytest

from cloud.api_error import ApiError
from cloud.ingest.envelope import parse_batch


def body(first: int, last: int, records: list[Any]) -> dict[str, Any]:
    return {
        "gateway_id": "gw",
        "first_seq": first,
        "last_seq": last,
        "sent_at": "2026-11-25T08:00:00Z",
        "records": records,
    }


def test_contiguous_records_keep_their_objects_in_order() -> None:
    records = [{"seq": seq, "kind": "scan"} for seq in range(5, 9)]
    batch = parse_batch(body(5, 10, records))
    assert batch.records == [(5, records[0]), (6, records[1]), (7, records[2]), (8, records[3])]
    assert all(pair[1] is record for pair, record in zip(batch.records, records, strict=True))


def test_records_with_holes_are_accepted_record_by_record() -> None:
    records = [{"seq": 2}, {"seq": 4}, {"seq": 7}]
    assert [seq for seq, _ in parse_batch(body(1, 7, records)).records] == [2, 4, 7]


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([{"seq": 1}, {"seq": True}], "records[1].seq must be an integer"),
        ([{"seq": 1.0}, {"seq": 2}], "records[0].seq must be an integer"),
        ([{"seq": 1}, [2]], "records[1] must be an object"),
        ([{"seq": 1}, {"kind": "scan"}], "records[1].seq must be an integer"),
        ([{"seq": 1}, {"seq": 2}, {"seq": 3}, {"seq": 4}], "records[3].seq 4 is outside 1..3"),
        ([{"seq": 2}, {"seq": 2}], "records[1].seq 2 is not above the previous seq 2"),
        ([{"seq": 0}, {"seq": 1}], "records[0].seq must be >= 1 (seqs start at 1)"),
    ],
)
def test_bad_records_are_named(records: list[Any], message: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_batch(body(1, 3, records))
    assert (caught.value.status, caught.value.code) == (422, "invalid_batch")
    assert caught.value.message == message
