"""Send the buffer to the cloud, oldest first, one batch in flight, deleting only what was acked."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import httpx

from edge.batch import batch_body, clock_skew_s, gzip_body
from edge.buffer import Buffer, BufferedRecord
from edge.config import UplinkSettings
from edge.uplink_split import probe, suspects
from firmware_bridge.wire import parse_time

log = logging.getLogger(__name__)

INGEST_PATH = "/api/v1/ingest"
SUMMARY_EVERY_S = 5.0
MALFORMED = (400, 422)
QUARANTINE_STREAK_MAX = 50
"""Records refused one by one with no ack in between look like a version mismatch, not bad data:
beyond this many the uplink stops quarantining and backs off with the records kept."""


class Outcome(StrEnum):
    EMPTY = "empty"
    """Nothing to send."""
    WAITING = "waiting"
    """A batch is not full and its oldest record is younger than batch_max_age_s."""
    ACKED = "acked"
    """The cloud acknowledged at least one more record."""
    SPLIT = "split"
    """The batch was too large or malformed; the next one is smaller, retry without waiting."""
    QUARANTINED = "quarantined"
    """One record the cloud refuses was set aside; carry on without waiting."""
    FAILED = "failed"
    """Retry after a jittered exponential backoff."""
    UNAUTHORIZED = "unauthorized"
    """The token was refused; retry after the longest backoff."""


@dataclass
class UplinkStats:
    acknowledged: Counter[str] = field(default_factory=Counter)
    batches_sent: int = 0
    """Requests made, whatever their answer."""
    batches_acked: int = 0
    failed_attempts: int = 0
    consecutive_failures: int = 0
    rejected_by_cloud: int = 0
    """Records the cloud took in but stored as rejects (answered 200 with "rejected")."""
    quarantined: int = 0
    """Records set aside since start because the cloud refused them as malformed."""
    duplicates: int = 0
    malformed_batches: int = 0
    last_error: str | None = None
    last_ack_at: datetime | None = None
    last_ack_seq: int | None = None
    clock_skew_s: float | None = None
    """Gateway clock minus cloud clock, from the last answer carrying server_time."""
    state: str = "idle"


@dataclass(frozen=True, slots=True)
class _Exchange:
    response: httpx.Response
    sent_at: datetime
    received_at: datetime


def backoff_delay(
    failures: int, initial_s: float, max_s: float, rng: Callable[[], float] = random.random
) -> float:
    """Exponential in ``failures`` (>= 1), capped, with jitter in the upper half of the step."""
    step: float = min(max_s, initial_s * 2 ** min(failures - 1, 60))
    return step * (0.5 + 0.5 * rng())


class Uplink:
    def __init__(
        self,
        buffer: Buffer,
        client: httpx.AsyncClient,
        settings: UplinkSettings,
        *,
        gateway_id: str,
        cloud_url: str,
        token: str,
        health: Callable[[], Mapping[str, Any]] = dict,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: Callable[[], float] = random.random,
        now_s: Callable[[], float] = time.time,
    ) -> None:
        self._buffer = buffer
        self._client = client
        self._settings = settings
        self._gateway_id = gateway_id
        self._url = cloud_url.rstrip("/") + INGEST_PATH
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        }
        self._health = health
        self._clock = clock
        self._rng = rng
        self._now_s = now_s
        """Wall clock in epoch seconds, the scale of BufferedRecord.created_at."""
        self._in_flight = asyncio.Lock()
        self._stopping = asyncio.Event()
        self.batch_limit = settings.batch_max_records
        """Records per batch; halved on each 413."""
        self.stats = UplinkStats()
        self._suspect_upto: int | None = None
        """While set, the outbox records up to this seq hold one the cloud refuses."""
        self._quarantine_streak = 0
        self._wait_s = 0.0
        self._last_outcome = Outcome.EMPTY
        self._summary_at = -SUMMARY_EVERY_S  # the first ack is logged at once
        self._summary_records = 0
        self._summary_batches = 0

    def next_delay(self) -> float:
        """How long to wait before the next attempt, given the last outcome."""
        if self._last_outcome is Outcome.UNAUTHORIZED:
            return self._settings.backoff_max_s
        if self._last_outcome is Outcome.FAILED:
            return backoff_delay(
                self.stats.consecutive_failures,
                self._settings.backoff_initial_s,
                self._settings.backoff_max_s,
                self._rng,
            )
        if self._last_outcome is Outcome.EMPTY:
            return self._settings.interval_s
        if self._last_outcome is Outcome.WAITING:
            return self._wait_s
        return 0.0

    def stop(self) -> None:
        """Ask :meth:`run` to return after the batch in flight (never cancel it mid-ack)."""
        self._stopping.set()

    async def run(self) -> None:
        """Send until :meth:`stop`."""
        while not self._stopping.is_set():
            await self.send_once(wait_for_full=True)
            delay = self.next_delay()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)

    # A deadline parameter rather than asyncio.timeout(): cancelling mid-ack would abort a
    # buffer transaction, whereas the deadline only shortens each request.
    async def drain(self, timeout: float) -> bool:  # noqa: ASYNC109
        """Send until the buffer is empty (True) or ``timeout`` seconds passed (False)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (remaining := deadline - loop.time()) > 0:
            outcome = await self.send_once(request_timeout=remaining)
            if outcome is Outcome.EMPTY:
                return True
            delay = self.next_delay() if outcome is not Outcome.ACKED else 0.0
            if delay > 0:
                await asyncio.sleep(min(delay, max(0.0, deadline - loop.time())))
        return (await self._buffer.stats()).records == 0

    async def send_once(
        self, request_timeout: float | None = None, *, wait_for_full: bool = False
    ) -> Outcome:
        """Send the oldest batch once and apply the answer. With ``wait_for_full``, a batch that
        is neither full nor older than batch_max_age_s is held back (Outcome.WAITING)."""
        async with self._in_flight:
            if self._suspect_upto is not None:
                outcome = await self._send_probe(request_timeout)
            else:
                outcome = await self._send_oldest(request_timeout, wait_for_full)
        self._last_outcome = outcome
        if outcome in (Outcome.FAILED, Outcome.UNAUTHORIZED):
            self.stats.failed_attempts += 1
            self.stats.consecutive_failures += 1
            self.stats.state = "backing_off" if outcome is Outcome.FAILED else "unauthorized"
        elif outcome is Outcome.ACKED:
            self.stats.consecutive_failures = 0
            self.stats.state = "sending"
        elif outcome in (Outcome.EMPTY, Outcome.WAITING):
            self.stats.state = "idle" if outcome is Outcome.EMPTY else "batching"
        else:
            self.stats.state = "isolating"
        return outcome

    async def _send_oldest(self, request_timeout: float | None, wait_for_full: bool) -> Outcome:
        records = await self._buffer.peek(self.batch_limit, self._settings.batch_max_bytes)
        if not records:
            return Outcome.EMPTY
        if wait_for_full and await self._hold_back(records):
            return Outcome.WAITING
        exchange = await self._post(records, request_timeout)
        if isinstance(exchange, Outcome):
            return exchange
        if exchange.response.status_code in MALFORMED:
            return await self._malformed(exchange.response, records)
        return await self._apply(exchange, records)

    async def _hold_back(self, records: list[BufferedRecord]) -> bool:
        """True (and sets the wait) when ``records`` should wait for company."""
        max_age = self._settings.batch_max_age_s
        if max_age <= 0 or len(records) >= self.batch_limit:
            return False
        remaining = max_age - (self._now_s() - records[0].created_at)
        if remaining <= 0:
            return False
        if (await self._buffer.stats()).records > len(records):
            return False  # the peek stopped at batch_max_bytes: the batch is full by size
        # Poll at least every interval_s so a batch that fills up leaves without waiting out
        # the whole age bound.
        self._wait_s = min(remaining, self._settings.interval_s)
        return True

    async def _send_probe(self, request_timeout: float | None) -> Outcome:
        assert self._suspect_upto is not None
        oldest = await self._buffer.peek(
            self._settings.batch_max_records, self._settings.batch_max_bytes
        )
        candidates = suspects(oldest, self._suspect_upto)
        if not candidates:  # the refused record was evicted meanwhile
            self._suspect_upto = None
            return Outcome.SPLIT
        records = probe(candidates)
        exchange = await self._post(records, request_timeout)
        if isinstance(exchange, Outcome):
            return exchange
        if exchange.response.status_code in MALFORMED:
            return await self._malformed(exchange.response, records)
        if len(records) == len(candidates):
            # The whole suspect range went through: the refusal was not deterministic.
            self._suspect_upto = None
        return await self._apply(exchange, records)

    async def _post(
        self, records: list[BufferedRecord], request_timeout: float | None
    ) -> _Exchange | Outcome:
        sent_at = self._clock()
        body = batch_body(
            gateway_id=self._gateway_id,
            first_seq=self._buffer.last_acked_seq + 1,
            records=records,
            sent_at=sent_at,
            health=self._health(),
        )
        timeout = self._settings.request_timeout_s
        if request_timeout is not None:
            timeout = max(0.001, min(timeout, request_timeout))
        self.stats.batches_sent += 1
        try:
            response = await self._client.post(
                self._url, content=gzip_body(body), headers=self._headers, timeout=timeout
            )
        except httpx.TimeoutException:
            return self._failed(f"cloud did not answer within {timeout:.1f} s")
        except httpx.TransportError as exc:
            return self._failed(f"cannot reach {self._url}: {exc or type(exc).__name__}")
        return _Exchange(response, sent_at, self._clock())

    async def _malformed(self, response: httpx.Response, records: list[BufferedRecord]) -> Outcome:
        self.stats.malformed_batches += 1
        reason = f"{response.status_code}: {_error_message(response)}"
        if len(records) > 1:
            self._suspect_upto = records[-1].seq
            log.warning(
                "cloud refused batch %d..%d as malformed (%s); splitting it to find the record",
                records[0].seq,
                records[-1].seq,
                reason,
            )
            return Outcome.SPLIT
        self._suspect_upto = None
        record = records[0]
        if self._quarantine_streak >= QUARANTINE_STREAK_MAX:
            log.error(
                "cloud refused %d records in a row one by one; this looks like a gateway/cloud "
                "version mismatch rather than bad records, so seq %d stays buffered",
                self._quarantine_streak,
                record.seq,
            )
            return self._failed(f"{reason} (record {record.seq}, holding the stream)")
        await self._buffer.quarantine(record.seq, reason)
        self._quarantine_streak += 1
        self.stats.quarantined += 1
        log.error(
            "cloud refused record seq %d (%s from %s) as malformed (%s); moved it to the "
            "quarantine table of the buffer for inspection - please report it",
            record.seq,
            record.kind,
            record.device_id,
            reason,
        )
        return Outcome.QUARANTINED

    async def _apply(self, exchange: _Exchange, records: list[BufferedRecord]) -> Outcome:
        response = exchange.response
        status = response.status_code
        if status == 200:
            return await self._acknowledged(exchange, records)
        message = _error_message(response)
        if status == 413:
            return self._too_large(records, message)
        if status in (401, 403):
            self.stats.last_error = f"{status}: {message}"
            log.error(
                "cloud refused the token of gateway %r (%d: %s); fix [cloud] token/token_env/"
                "token_file in the config or re-issue the token in the cloud. Records stay "
                "buffered; retrying every %.0f s",
                self._gateway_id,
                status,
                message,
                self._settings.backoff_max_s,
            )
            return Outcome.UNAUTHORIZED
        return self._failed(f"{status}: {message}")

    async def _acknowledged(self, exchange: _Exchange, records: list[BufferedRecord]) -> Outcome:
        try:
            answer = exchange.response.json()
            ack_seq = answer["ack_seq"]
            if isinstance(ack_seq, bool) or not isinstance(ack_seq, int):
                raise TypeError("ack_seq is not an integer")
        except (ValueError, KeyError, TypeError) as exc:
            return self._failed(f"cloud answered 200 with an unreadable body: {exc}")
        self._read_clock(answer, exchange)
        before = self._buffer.last_acked_seq
        try:
            deleted = await self._buffer.ack_by_kind(ack_seq)
        except ValueError as exc:
            return self._failed(
                f"cloud acknowledged seq {ack_seq}, which this gateway never assigned ({exc}); "
                f"is another gateway using the id {self._gateway_id!r}?"
            )
        self._count_answer(answer)
        if ack_seq <= before:
            return self._failed(
                f"cloud stored nothing new (ack_seq {ack_seq}, batch {records[0].seq}.."
                f"{records[-1].seq})"
            )
        self._quarantine_streak = 0
        self.stats.acknowledged.update(deleted)
        self.stats.batches_acked += 1
        self.stats.last_ack_at = exchange.received_at
        self.stats.last_ack_seq = ack_seq
        self._summarize(sum(deleted.values()))
        return Outcome.ACKED

    def _read_clock(self, answer: Any, exchange: _Exchange) -> None:
        server_time = answer.get("server_time") if isinstance(answer, dict) else None
        if not isinstance(server_time, str):
            return
        try:
            cloud_now = parse_time(server_time)
        except ValueError:
            log.warning("cloud sent an unreadable server_time %r", server_time)
            return
        skew = clock_skew_s(exchange.sent_at, exchange.received_at, cloud_now)
        self.stats.clock_skew_s = round(skew, 3)

    def _count_answer(self, answer: Any) -> None:
        rejected = answer.get("rejected") or []
        duplicates = answer.get("duplicates")
        if isinstance(duplicates, int):
            self.stats.duplicates += duplicates
        if isinstance(rejected, list) and rejected:
            self.stats.rejected_by_cloud += len(rejected)
            shown = ", ".join(
                f"{item.get('seq')}: {item.get('error')}"
                for item in rejected[:5]
                if isinstance(item, dict)
            )
            log.warning("cloud stored %d records as rejects (%s)", len(rejected), shown)

    def _too_large(self, records: list[BufferedRecord], message: str) -> Outcome:
        if len(records) == 1:
            log.error(
                "record seq %d alone is too large for the cloud (413: %s); raise the cloud's "
                "request size limit. Retrying with backoff",
                records[0].seq,
                message,
            )
            return self._failed(f"413: record {records[0].seq} too large")
        self.batch_limit = max(1, len(records) // 2)
        log.warning(
            "cloud refused a batch of %d records as too large; now sending at most %d",
            len(records),
            self.batch_limit,
        )
        return Outcome.SPLIT

    def _failed(self, error: str) -> Outcome:
        if self.stats.consecutive_failures == 0 or error != self.stats.last_error:
            log.warning("uplink: %s; retrying with backoff", error)
        self.stats.last_error = error
        return Outcome.FAILED

    def _summarize(self, records: int) -> None:
        self._summary_records += records
        self._summary_batches += 1
        now = time.monotonic()
        if now - self._summary_at >= SUMMARY_EVERY_S:
            log.info(
                "uplink: %d records acknowledged in %d batches (ack seq %s)",
                self._summary_records,
                self._summary_batches,
                self.stats.last_ack_seq,
            )
            self._summary_at, self._summary_records, self._summary_batches = now, 0, 0


def _error_message(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        return f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return response.text[:200] or response.reason_phrase
