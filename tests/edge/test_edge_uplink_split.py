"""A batch the cloud refuses as malformed is bisected until the bad record is quarantined."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.buffer import Buffer, BufferedRecord
from edge.config import UplinkSettings
from edge.uplink import Outcome, Uplink
from edge.uplink_split import probe, suspects
from tests.edge.edge_factories import position, scan
from tests.edge.fake_cloud import FakeCloud

SENT_AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
FAST = UplinkSettings(
    batch_max_records=1000, interval_s=0.01, backoff_initial_s=0.01, backoff_max_s=0.02
)
REFUSED = "422: invalid_batch: records[0].seq: refused"


@pytest.fixture
async def buf(tmp_path: Path) -> AsyncIterator[Buffer]:
    async with Buffer.open(tmp_path / "outbox.db") as opened:
        yield opened


def make_uplink(buf: Buffer, cloud: FakeCloud) -> Uplink:
    return Uplink(
        buf,
        httpx.AsyncClient(transport=cloud.transport()),
        FAST,
        gateway_id="gw-1",
        cloud_url="https://cloud.example",
        token="secret-token",
        clock=lambda: SENT_AT,
        rng=lambda: 1.0,
    )


def requests(cloud: FakeCloud) -> list[tuple[int, list[int], int]]:
    """(first_seq, record seqs, answer) of every request the cloud read."""
    return [
        (body["first_seq"], [r["seq"] for r in body["records"]], status)
        for body, status in zip(cloud.bodies, cloud.answers, strict=True)
    ]


def quarantine_rows(path: Path) -> list[tuple[Any, ...]]:
    """The quarantine table's rows; none when the table was never needed."""
    with sqlite3.connect(path) as db:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'quarantine'").fetchall():
            return []
        return db.execute("SELECT seq, kind, reason FROM quarantine ORDER BY seq").fetchall()


def outbox_seqs(path: Path) -> list[int]:
    with sqlite3.connect(path) as db:
        return [seq for (seq,) in db.execute("SELECT seq FROM outbox ORDER BY seq")]


EIGHT = list(range(1, 9))


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        pytest.param(
            1,
            [
                (1, EIGHT, 422),
                (1, [1, 2, 3, 4], 422),
                (1, [1, 2], 422),
                (1, [1], 422),
                (1, [2, 3, 4, 5, 6, 7, 8], 200),
            ],
            id="start",
        ),
        pytest.param(
            5,
            [
                (1, EIGHT, 422),
                (1, [1, 2, 3, 4], 200),
                (5, [5, 6], 422),
                (5, [5], 422),
                (5, [6, 7, 8], 200),
            ],
            id="middle",
        ),
        pytest.param(
            8,
            [
                (1, EIGHT, 422),
                (1, [1, 2, 3, 4], 200),
                (5, [5, 6], 200),
                (7, [7], 200),
                (8, [8], 422),
            ],
            id="end",
        ),
    ],
)
async def test_one_bad_record_is_isolated_in_log2_requests_and_quarantined(
    buf: Buffer, tmp_path: Path, bad: int, expected: list[tuple[int, list[int], int]]
) -> None:
    await buf.append([position(i) for i in range(8)])
    cloud = FakeCloud(malformed_seqs={bad})
    uplink = make_uplink(buf, cloud)

    assert await uplink.drain(5.0) is True

    assert requests(cloud) == expected
    assert sorted(cloud.stored) == [seq for seq in EIGHT if seq != bad]
    assert quarantine_rows(tmp_path / "outbox.db") == [(bad, "position", REFUSED)]
    assert outbox_seqs(tmp_path / "outbox.db") == []
    refusals = sum(1 for _, _, status in expected if status == 422)
    assert (uplink.stats.quarantined, uplink.stats.malformed_batches) == (1, refusals)
    assert uplink.stats.acknowledged == {"position": 7}
    assert (await buf.stats()).records == 0


async def test_two_bad_records_in_one_batch_are_both_quarantined(
    buf: Buffer, tmp_path: Path
) -> None:
    await buf.append([position(i) for i in range(8)])
    cloud = FakeCloud(malformed_seqs={3, 6})
    uplink = make_uplink(buf, cloud)

    assert await uplink.drain(5.0) is True

    assert requests(cloud) == [
        (1, EIGHT, 422),
        (1, [1, 2, 3, 4], 422),
        (1, [1, 2], 200),
        (3, [3], 422),
        (3, [4, 5, 6, 7, 8], 422),
        (3, [4, 5], 200),
        (6, [6], 422),
        (6, [7, 8], 200),
    ]
    assert sorted(cloud.stored) == [1, 2, 4, 5, 7, 8]
    assert [row[0] for row in quarantine_rows(tmp_path / "outbox.db")] == [3, 6]
    assert uplink.stats.quarantined == 2


async def test_a_corrupt_payload_is_quarantined_with_the_clouds_reason(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outbox.db"
    async with Buffer.open(path) as buf:
        await buf.append([scan(0), scan(1), scan(2)])
    with sqlite3.connect(path) as db:
        db.execute('UPDATE outbox SET payload = \'{"kind":"scan",\' WHERE seq = 2')
    cloud = FakeCloud()
    async with Buffer.open(path) as buf:
        uplink = make_uplink(buf, cloud)
        assert await uplink.drain(5.0) is True
        assert (await buf.stats()).records == 0

    assert cloud.answers == [400, 200, 400, 200]
    assert sorted(cloud.stored) == [1, 3]
    assert cloud.bodies[-1]["first_seq"] == 2
    ((seq, kind, reason),) = quarantine_rows(path)
    assert (seq, kind) == (2, "scan")
    assert reason.startswith("400: invalid_json: body is not valid UTF-8 JSON")


async def test_a_transient_failure_during_isolation_resumes_the_bisection(
    buf: Buffer, tmp_path: Path
) -> None:
    await buf.append([position(i) for i in range(4)])
    cloud = FakeCloud(malformed_seqs={4}, script=["", "500"])
    uplink = make_uplink(buf, cloud)

    assert await uplink.send_once() is Outcome.SPLIT
    assert await uplink.send_once() is Outcome.FAILED  # the probe [1, 2] met a 500
    assert await remaining_seqs_after_drain(uplink, buf) == []

    assert requests(cloud) == [
        (1, [1, 2, 3, 4], 422),
        (1, [1, 2], 200),
        (3, [3], 200),
        (4, [4], 422),
    ]
    assert [row[0] for row in quarantine_rows(tmp_path / "outbox.db")] == [4]


async def remaining_seqs_after_drain(uplink: Uplink, buf: Buffer) -> list[int]:
    assert await uplink.drain(5.0) is True
    return [r.seq for r in await buf.peek(100, 10**6)]


async def test_records_rejected_in_a_200_answer_are_counted_not_quarantined(
    buf: Buffer, tmp_path: Path
) -> None:
    await buf.append([position(0), position(1)])
    cloud = FakeCloud(script=["reject-first"])
    uplink = make_uplink(buf, cloud)
    assert await uplink.send_once() is Outcome.ACKED
    assert (uplink.stats.rejected_by_cloud, uplink.stats.quarantined) == (1, 0)
    assert quarantine_rows(tmp_path / "outbox.db") == []
    assert outbox_seqs(tmp_path / "outbox.db") == []


async def test_a_cloud_refusing_everything_stops_quarantining_and_backs_off(
    buf: Buffer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("edge.uplink.QUARANTINE_STREAK_MAX", 2)
    await buf.append([position(i) for i in range(4)])
    cloud = FakeCloud(malformed_seqs={1, 2, 3, 4})
    uplink = make_uplink(buf, cloud)

    outcomes = [await uplink.send_once() for _ in range(7)]

    assert outcomes == [
        Outcome.SPLIT,
        Outcome.SPLIT,
        Outcome.QUARANTINED,
        Outcome.SPLIT,
        Outcome.QUARANTINED,
        Outcome.SPLIT,
        Outcome.FAILED,
    ]
    assert [row[0] for row in quarantine_rows(tmp_path / "outbox.db")] == [1, 2]
    assert outbox_seqs(tmp_path / "outbox.db") == [3, 4]
    assert uplink.stats.last_error == f"{REFUSED} (record 3, holding the stream)"


def test_probe_is_the_older_smaller_half_and_suspects_stop_at_the_refused_batch() -> None:
    records = [BufferedRecord(seq, "position", "van", 0.0, "{}") for seq in (3, 5, 6, 9, 10)]
    assert [r.seq for r in suspects(records, 6)] == [3, 5, 6]
    assert [r.seq for r in probe(records)] == [3, 5]
    assert [r.seq for r in probe(records[:1])] == [3]
    assert probe([]) == []
