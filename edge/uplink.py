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

from edge.batch import batch_body, gzip_body
from edge.buffer import Buffer, BufferedRecord
from edge.config import UplinkSettings

log = logging.getLogger(__name__)

INGEST_PATH = "/api/v1/ingest"
SUMMARY_EVERY_S = 5.0


class Outcome(StrEnum):
    EMPTY = "empty"
    """Nothing to send."""
    ACKED = "acked"
    """The cloud acknowledged at least one more record."""
    SPLIT = "split"
    """The batch was too large; the next one is smaller, retry without waiting."""
    FAILED = "failed"
    """Retry after a jittered exponential backoff."""
    UNAUTHORIZED = "unauthorized"
    """The token was refused; retry after the longest backoff."""


@dataclass
class UplinkStats:
    acknowledged: Counter[str] = field(default_factory=Counter)
    batches_acked: int = 0
    failed_attempts: int = 0
    consecutive_failures: int = 0
    rejected: int = 0
    duplicates: int = 0
    malformed_batches: int = 0
    last_error: str | None = None
    last_ack_at: datetime | None = None
    last_ack_seq: int | None = None
    state: str = "idle"


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
        self._in_flight = asyncio.Lock()
        self._stopping = asyncio.Event()
        self.batch_limit = settings.batch_max_records
        """Records per batch; halved on each 413."""
        self.stats = UplinkStats()
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
        return 0.0

    def stop(self) -> None:
        """Ask :meth:`run` to return after the batch in flight (never cancel it mid-ack)."""
        self._stopping.set()

    async def run(self) -> None:
        """Send until :meth:`stop`."""
        while not self._stopping.is_set():
            await self.send_once()
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

    async def send_once(self, request_timeout: float | None = None) -> Outcome:
        """Send the oldest batch once and apply the answer."""
        async with self._in_flight:
            outcome = await self._send_oldest(request_timeout)
        self._last_outcome = outcome
        if outcome in (Outcome.FAILED, Outcome.UNAUTHORIZED):
            self.stats.failed_attempts += 1
            self.stats.consecutive_failures += 1
            self.stats.state = "backing_off" if outcome is Outcome.FAILED else "unauthorized"
        elif outcome is Outcome.ACKED:
            self.stats.consecutive_failures = 0
            self.stats.state = "sending"
        elif outcome is Outcome.EMPTY:
            self.stats.state = "idle"
        return outcome

    async def _send_oldest(self, request_timeout: float | None) -> Outcome:
        records = await self._buffer.peek(self.batch_limit, self._settings.batch_max_bytes)
        if not records:
            return Outcome.EMPTY
        first_seq = self._buffer.last_acked_seq + 1
        body = batch_body(
            gateway_id=self._gateway_id,
            first_seq=first_seq,
            records=records,
            sent_at=self._clock(),
            health=self._health(),
        )
        timeout = self._settings.request_timeout_s
        if request_timeout is not None:
            timeout = max(0.001, min(timeout, request_timeout))
        try:
            response = await self._client.post(
                self._url, content=gzip_body(body), headers=self._headers, timeout=timeout
            )
        except httpx.TimeoutException:
            return self._failed(f"cloud did not answer within {timeout:.1f} s")
        except httpx.TransportError as exc:
            return self._failed(f"cannot reach {self._url}: {exc or type(exc).__name__}")
        return await self._apply(response, records)

    async def _apply(self, response: httpx.Response, records: list[BufferedRecord]) -> Outcome:
        status = response.status_code
        if status == 200:
            return await self._acknowledged(response, records)
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
        if status in (400, 422):
            self.stats.malformed_batches += 1
            log.error(
                "cloud rejected batch %d..%d as malformed (%d: %s); this is a bug in the gateway "
                "or a version mismatch with the cloud - please report it. Retrying with backoff",
                records[0].seq,
                records[-1].seq,
                status,
                message,
            )
        return self._failed(f"{status}: {message}")

    async def _acknowledged(
        self, response: httpx.Response, records: list[BufferedRecord]
    ) -> Outcome:
        try:
            answer = response.json()
            ack_seq = answer["ack_seq"]
            if isinstance(ack_seq, bool) or not isinstance(ack_seq, int):
                raise TypeError("ack_seq is not an integer")
        except (ValueError, KeyError, TypeError) as exc:
            return self._failed(f"cloud answered 200 with an unreadable body: {exc}")
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
        self.stats.acknowledged.update(deleted)
        self.stats.batches_acked += 1
        self.stats.last_ack_at = self._clock()
        self.stats.last_ack_seq = ack_seq
        self._summarize(sum(deleted.values()))
        return Outcome.ACKED

    def _count_answer(self, answer: Any) -> None:
        rejected = answer.get("rejected") or []
        duplicates = answer.get("duplicates")
        if isinstance(duplicates, int):
            self.stats.duplicates += duplicates
        if isinstance(rejected, list) and rejected:
            self.stats.rejected += len(rejected)
            shown = ", ".join(
                f"{item.get('seq')}: {item.get('error')}"
                for item in rejected[:5]
                if isinstance(item, dict)
            )
            log.warning("cloud quarantined %d records (%s)", len(rejected), shown)

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
