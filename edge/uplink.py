"""Send the buffer to the cloud, oldest first, one batch in flight, deleting only what was acked.

Pipelined: while a request is in flight the next batch (the records after it) is peeked, encoded
and compressed, and the local delete of the previous acknowledged batch runs. The prepared batch
is sent only when the cloud acknowledged the whole batch before it and the buffer lost nothing
meanwhile (no eviction, no quarantine); then it is exactly what a fresh peek would give. Any other
answer throws it away and the next batch is peeked afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import httpx

from edge.batch import PackedRecords, clock_skew_s, pack_records, seal_body, take_batch
from edge.buffer import Buffer, BufferedRecord, BufferStats
from edge.config import UplinkSettings
from edge.heartbeat import (
    HEARTBEAT_PATH,
    HeartbeatResult,
    HeartbeatStatus,
    heartbeat_wait_s,
    send_heartbeat,
)
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
    heartbeats_sent: int = 0
    """Heartbeat requests made, whatever their answer."""
    last_heartbeat_at: datetime | None = None
    """When the cloud last answered a heartbeat."""
    state: str = "idle"


@dataclass(frozen=True, slots=True)
class _Exchange:
    response: httpx.Response
    sent_at: datetime
    received_at: datetime


@dataclass(frozen=True, slots=True)
class _Losses:
    """The buffer's counters of records removed other than by an ack: a batch peeked under
    the same counters as now still holds every record it peeked."""

    evicted: tuple[tuple[str, int], ...]
    quarantined: int

    @classmethod
    def of(cls, stats: BufferStats) -> _Losses:
        return cls(tuple(sorted(stats.evicted.items())), stats.quarantined)


@dataclass(frozen=True, slots=True)
class _Batch:
    records: list[BufferedRecord]
    packed: PackedRecords
    losses: _Losses
    """The buffer's loss counters before the peek."""

    @property
    def last_seq(self) -> int:
        return self.records[-1].seq


@dataclass(frozen=True, slots=True)
class _Prepared:
    batch: _Batch
    after_seq: int
    limit: int


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
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._buffer = buffer
        self._client = client
        self._settings = settings
        self._gateway_id = gateway_id
        self._url = cloud_url.rstrip("/") + INGEST_PATH
        self._heartbeat_url = cloud_url.rstrip("/") + HEARTBEAT_PATH
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
        self._monotonic = monotonic
        self._last_contact = monotonic()
        """When the cloud last answered 200 (a batch or a heartbeat), or when the uplink began."""
        self._heartbeats_on = settings.heartbeat_s > 0
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
        self._prepared: asyncio.Task[_Prepared | None] | None = None
        """The batch after the one in flight, being prepared."""
        self._unapplied: tuple[int, _Batch] | None = None
        """A whole batch the cloud acknowledged (ack seq, batch) not yet deleted locally."""
        self._deleting: asyncio.Task[None] | None = None
        self.prepared_sent = 0
        """Batches sent as prepared during the previous request."""
        self.prepared_discarded = 0

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

    def heartbeat_wait_s(self) -> float | None:
        """Seconds until a heartbeat is due (0.0: now); None when heartbeats are off."""
        if not self._heartbeats_on:
            return None
        return heartbeat_wait_s(
            heartbeat_s=self._settings.heartbeat_s,
            last_contact=self._last_contact,
            now=self._monotonic(),
        )

    def stop(self) -> None:
        """Ask :meth:`run` to return after the batch in flight (never cancel it mid-ack)."""
        self._stopping.set()

    async def run(self) -> None:
        """Send until :meth:`stop`; while there is nothing to send, keep the gateway visible
        with a heartbeat every ``heartbeat_s``."""
        try:
            while not self._stopping.is_set():
                outcome = await self._step(None, wait_for_full=True)
                delay = self.next_delay()
                if outcome in (Outcome.EMPTY, Outcome.WAITING):
                    heartbeat_in = self.heartbeat_wait_s()
                    if heartbeat_in == 0.0 and not self._stopping.is_set():
                        await self._settle()
                        await self.send_heartbeat()
                        delay = self.next_delay()
                    elif heartbeat_in is not None:
                        delay = min(delay, heartbeat_in)
                if delay > 0:
                    await self._settle()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), delay)
        finally:
            await self._settle()

    # A deadline parameter rather than asyncio.timeout(): cancelling mid-ack would abort a
    # buffer transaction, whereas the deadline only shortens each request.
    async def drain(self, timeout: float) -> bool:  # noqa: ASYNC109
        """Send until the buffer is empty (True) or ``timeout`` seconds passed (False)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while (remaining := deadline - loop.time()) > 0:
                outcome = await self._step(remaining, wait_for_full=False)
                if outcome is Outcome.EMPTY:
                    return True
                delay = self.next_delay() if outcome is not Outcome.ACKED else 0.0
                if delay > 0:
                    await self._settle()
                    await asyncio.sleep(min(delay, max(0.0, deadline - loop.time())))
        finally:
            await self._settle()
        return (await self._buffer.stats()).records == 0

    async def send_once(
        self, request_timeout: float | None = None, *, wait_for_full: bool = False
    ) -> Outcome:
        """Send the oldest batch once and apply the answer, the local delete included. With
        ``wait_for_full``, a batch that is neither full nor older than batch_max_age_s is held
        back (Outcome.WAITING). :meth:`run` and :meth:`drain` pipeline; this does not."""
        try:
            return await self._step(request_timeout, wait_for_full=wait_for_full)
        finally:
            await self._settle()

    async def _settle(self) -> None:
        """Drop the prepared batch and finish the pending local delete."""
        await self._discard_prepared()
        await self._apply_pending_delete()

    async def _step(self, request_timeout: float | None, *, wait_for_full: bool) -> Outcome:
        async with self._in_flight:
            try:
                if self._suspect_upto is not None:
                    await self._settle()
                    outcome = await self._send_probe(request_timeout)
                else:
                    outcome = await self._send_oldest(request_timeout, wait_for_full)
            except BaseException:
                await self._discard_prepared()
                raise
        self._count_outcome(outcome)
        return outcome

    def _count_outcome(self, outcome: Outcome) -> None:
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

    async def send_heartbeat(self) -> HeartbeatStatus:
        """Send one heartbeat (health, no records) and apply the answer: clock skew, the
        cloud's ack_seq, or a failure that backs off like a batch's. After an UNSUPPORTED
        answer (an older cloud without the route) :meth:`run` sends no more."""
        async with self._in_flight:
            self.stats.heartbeats_sent += 1
            result = await send_heartbeat(
                self._client,
                self._heartbeat_url,
                self._headers,
                gateway_id=self._gateway_id,
                health=self._health(),
                clock=self._clock,
                request_timeout_s=self._settings.request_timeout_s,
            )
            outcome = await self._apply_heartbeat(result)
        if outcome is not None:
            self._count_outcome(outcome)
        return result.status

    async def _apply_heartbeat(self, result: HeartbeatResult) -> Outcome | None:
        """The outcome to count, or None when the heartbeat leaves the uplink's state as is."""
        if result.status is HeartbeatStatus.UNSUPPORTED:
            self._heartbeats_on = False
            log.warning(
                "%s: this cloud has no heartbeat route; heartbeats stop until restart, so "
                "while it sends no records gateway %r looks offline in the console",
                result.error,
                self._gateway_id,
            )
            return None
        if result.status is HeartbeatStatus.UNAUTHORIZED:
            self.stats.last_error = result.error
            log.error(
                "cloud refused the token of gateway %r (%s); fix [cloud] token/token_env/"
                "token_file in the config or re-issue the token in the cloud",
                self._gateway_id,
                result.error,
            )
            return Outcome.UNAUTHORIZED
        if result.reply is None:
            return self._failed(result.error or "heartbeat failed")
        self._last_contact = self._monotonic()
        self.stats.last_heartbeat_at = result.received_at
        skew = clock_skew_s(result.sent_at, result.received_at, result.reply.server_time)
        self.stats.clock_skew_s = round(skew, 3)
        ack_seq = result.reply.ack_seq
        if ack_seq > self._buffer.last_acked_seq:
            # The cloud stored records whose ack this gateway never saw (a crash between the
            # cloud's commit and the local delete): they are safe there, so delete them here.
            try:
                deleted = await self._buffer.ack_by_kind(ack_seq)
            except ValueError as exc:
                return self._failed(
                    f"heartbeat: cloud's ack_seq is {ack_seq}, which this gateway never "
                    f"assigned ({exc}); is another gateway using the id {self._gateway_id!r}?"
                )
            self._count_acked(deleted)
            log.info("heartbeat: the cloud already holds seq up to %d; deleted them here", ack_seq)
        self.stats.consecutive_failures = 0
        return None

    async def _send_oldest(self, request_timeout: float | None, wait_for_full: bool) -> Outcome:
        batch = await self._take_prepared()
        if batch is not None:
            # The delete of the batch acknowledged last runs while this request is in flight.
            self._start_pending_delete()
            self.prepared_sent += 1
        else:
            await self._apply_pending_delete()
            losses = await self._losses()
            records = await self._buffer.peek(self.batch_limit, self._settings.batch_max_bytes)
            if not records:
                return Outcome.EMPTY
            if wait_for_full and await self._hold_back(records):
                return Outcome.WAITING
            batch = _Batch(records, pack_records(records), losses)
        first_seq = self._buffer.last_acked_seq + 1
        if self._unapplied is not None:
            first_seq = self._unapplied[0] + 1
        self._prepared = asyncio.create_task(
            self._prepare_after(batch, self._deleting, self.batch_limit), name="uplink-prepare"
        )
        exchange = await self._post(batch.packed, first_seq, request_timeout)
        await self._apply_pending_delete()
        outcome = await self._answer(exchange, batch)
        if self._unapplied is None or self._unapplied[1] is not batch:
            await self._discard_prepared()  # anything but a whole-batch ack
        return outcome

    async def _answer(self, exchange: _Exchange | Outcome, batch: _Batch) -> Outcome:
        if isinstance(exchange, Outcome):
            return exchange
        if exchange.response.status_code in MALFORMED:
            return await self._malformed(exchange.response, batch.records)
        return await self._apply(exchange, batch)

    async def _losses(self) -> _Losses:
        return _Losses.of(await self._buffer.stats())

    async def _prepare_after(
        self, batch: _Batch, deleting: asyncio.Task[None] | None, limit: int
    ) -> _Prepared | None:
        """The batch a peek would give once ``batch`` is deleted, if it is full."""
        if deleting is not None:
            await asyncio.wait([deleting])  # its failure is reported by the request's step
            if deleting.cancelled() or deleting.exception() is not None:
                return None
        losses = await self._losses()
        # Records up to batch.last_seq may still be stored (its delete waits for its ack).
        after = await self._buffer.peek(limit, sys.maxsize, after_seq=batch.last_seq)
        records = take_batch(after, limit, self._settings.batch_max_bytes)
        if len(records) < limit and len(records) == len(after):
            return None  # not full: a later peek may find more, so let the next step peek
        return _Prepared(_Batch(records, pack_records(records), losses), batch.last_seq, limit)

    async def _take_prepared(self) -> _Batch | None:
        """The prepared batch when it is what a fresh peek would give now, else None."""
        task, self._prepared = self._prepared, None
        if task is None:
            return None
        unapplied = self._unapplied
        try:
            prepared = await task
        except Exception:  # a failed preparation only costs a fresh peek
            log.debug("uplink: preparing the next batch failed", exc_info=True)
            prepared = None
        if (
            prepared is None
            or unapplied is None
            or unapplied[0] != prepared.after_seq
            or prepared.limit != self.batch_limit
            or await self._losses() != prepared.batch.losses
        ):
            if prepared is not None:
                self.prepared_discarded += 1
            return None
        return prepared.batch

    async def _discard_prepared(self) -> None:
        task, self._prepared = self._prepared, None
        if task is None:
            return
        task.cancel()
        await asyncio.wait([task])
        if not task.cancelled() and task.exception() is None and task.result() is not None:
            self.prepared_discarded += 1

    def _start_pending_delete(self) -> None:
        if self._unapplied is not None and self._deleting is None:
            ack_seq, batch = self._unapplied
            self._deleting = asyncio.create_task(
                self._delete_acked(ack_seq, batch), name="uplink-ack-delete"
            )

    async def _apply_pending_delete(self) -> None:
        """Finish the local delete of the last acknowledged batch; its errors surface here."""
        self._start_pending_delete()
        task = self._deleting
        if task is None:
            return
        try:
            await asyncio.shield(task)
        finally:
            if task.done():
                self._deleting = None
                self._unapplied = None

    async def _delete_acked(self, ack_seq: int, batch: _Batch) -> None:
        """Delete the acknowledged ``batch`` and count it per kind: from the records sent when
        the buffer lost none of them meanwhile, else from the buffer (a GROUP BY)."""
        before = await self._buffer.stats()
        if _Losses.of(before) != batch.losses:
            self._count_acked(await self._buffer.ack_by_kind(ack_seq))
            return
        deleted = await self._buffer.ack(ack_seq)
        kinds = Counter(record.kind for record in batch.records)
        if deleted != len(batch.records):
            # Telemetry was evicted between the check and the delete: take it off the counts.
            after = await self._buffer.stats()
            kinds -= Counter(after.evicted) - Counter(before.evicted)
            if sum(kinds.values()) != deleted:
                log.debug("uplink: per-kind ack counts approximate after a concurrent eviction")
        self._count_acked(kinds)

    def _count_acked(self, deleted: Mapping[str, int]) -> None:
        self.stats.acknowledged.update(deleted)
        self._summarize(sum(deleted.values()))

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
        batch = _Batch(records, pack_records(records), _Losses((), -1))  # never counted as sent
        exchange = await self._post(batch.packed, self._buffer.last_acked_seq + 1, request_timeout)
        if isinstance(exchange, Outcome):
            return exchange
        if exchange.response.status_code in MALFORMED:
            return await self._malformed(exchange.response, records)
        if len(records) == len(candidates):
            # The whole suspect range went through: the refusal was not deterministic.
            self._suspect_upto = None
        return await self._apply(exchange, batch, pipelined=False)

    async def _post(
        self, packed: PackedRecords, first_seq: int, request_timeout: float | None
    ) -> _Exchange | Outcome:
        sent_at = self._clock()
        body = seal_body(
            packed,
            gateway_id=self._gateway_id,
            first_seq=first_seq,
            sent_at=sent_at,
            health=self._health(),
        )
        timeout = self._settings.request_timeout_s
        if request_timeout is not None:
            timeout = max(0.001, min(timeout, request_timeout))
        self.stats.batches_sent += 1
        try:
            response = await self._client.post(
                self._url, content=body, headers=self._headers, timeout=timeout
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

    async def _apply(
        self, exchange: _Exchange, batch: _Batch, *, pipelined: bool = True
    ) -> Outcome:
        response = exchange.response
        status = response.status_code
        if status == 200:
            self._last_contact = self._monotonic()
            return await self._acknowledged(exchange, batch, pipelined)
        message = _error_message(response)
        if status == 413:
            return self._too_large(batch.records, message)
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

    async def _acknowledged(self, exchange: _Exchange, batch: _Batch, pipelined: bool) -> Outcome:
        try:
            answer = exchange.response.json()
            ack_seq = answer["ack_seq"]
            if isinstance(ack_seq, bool) or not isinstance(ack_seq, int):
                raise TypeError("ack_seq is not an integer")
        except (ValueError, KeyError, TypeError) as exc:
            return self._failed(f"cloud answered 200 with an unreadable body: {exc}")
        self._read_clock(answer, exchange)
        before = self._buffer.last_acked_seq
        records = batch.records
        if pipelined and ack_seq == batch.last_seq and ack_seq > before:
            # The whole batch: its delete runs with the next request, whose batch is prepared.
            self._unapplied = (ack_seq, batch)
        else:
            await self._discard_prepared()
            try:
                self._count_acked(await self._buffer.ack_by_kind(ack_seq))
            except ValueError as exc:
                return self._failed(
                    f"cloud acknowledged seq {ack_seq}, which this gateway never assigned "
                    f"({exc}); is another gateway using the id {self._gateway_id!r}?"
                )
        self._count_answer(answer)
        if ack_seq <= before:
            return self._failed(
                f"cloud stored nothing new (ack_seq {ack_seq}, batch {records[0].seq}.."
                f"{records[-1].seq})"
            )
        self._quarantine_streak = 0
        self.stats.batches_acked += 1
        self.stats.last_ack_at = exchange.received_at
        self.stats.last_ack_seq = ack_seq
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
