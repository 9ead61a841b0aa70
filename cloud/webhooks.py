"""The order status webhook sender: a background task of the API process.

It claims due deliveries from the ``webhook_deliveries`` outbox (see
:mod:`cloud.services.webhook_outbox`), POSTs each payload as JSON with an HMAC-SHA256
signature of the body under the channel's ``webhook_secret``, and records the outcome: a 2xx
answer marks it delivered; anything else (another status, a timeout, a refused connection) is
retried after a jittered exponential delay, and after the last attempt it is marked failed
(``GET /api/v1/webhooks?status=failed``). Delivery is at least once: receivers deduplicate on
``X-RetailEdge-Delivery`` and order by the payload's ``version``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.db import Database, is_sqlite
from cloud.services.webhook_outbox import (
    Claimed,
    claim_due,
    record_delivered,
    record_failed_attempt,
)
from cloud.settings import Settings
from cloud.webhook_policy import (
    ATTEMPT_HEADER,
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    RetryPolicy,
    body_bytes,
    retry_delay_s,
    signature,
)

log = logging.getLogger(__name__)
USER_AGENT = "RetailEdge-Webhooks/0.1"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def sender_for(settings: Settings, database: Database) -> WebhookSender:
    """The sender the API process runs, with the attempts from ``settings``."""
    return WebhookSender(
        database.sessions,
        RetryPolicy(max_attempts=settings.webhook_max_attempts),
        sqlite=is_sqlite(database.url),
    )


class WebhookSender:
    """``async with WebhookSender(sessions, policy):`` runs the sender until the block ends;
    :meth:`send_due` does one round (tests and the CLI call it directly)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        policy: RetryPolicy,
        *,
        poll_s: float = 0.5,
        clock: Callable[[], datetime] = _utc_now,
        rng: random.Random | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sqlite: bool = False,
    ) -> None:
        self._sessions = sessions
        # SQLite: claim under BEGIN IMMEDIATE, so a claim that reads and then writes waits for
        # another writer instead of failing with SQLITE_BUSY when its snapshot went stale.
        self._sqlite = sqlite
        self.policy = policy
        self._poll_s = poll_s
        self._clock = clock
        self._rng = rng or random.Random()
        self._client = httpx.AsyncClient(
            timeout=policy.timeout_s,
            transport=transport,
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,
        )
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def send_due(self) -> int:
        """Claim and send one batch of due deliveries; the number of attempts made."""
        async with self._sessions.begin() as session:
            if self._sqlite:
                await session.execute(text("BEGIN IMMEDIATE"))
            claims = await claim_due(
                session=session,
                now=self._clock(),
                lease_s=self.policy.lease_s,
                limit=self.policy.batch,
            )
        # Each claim is the oldest pending delivery of its order, so they may go in parallel.
        await asyncio.gather(*(self._attempt(claim) for claim in claims))
        return len(claims)

    async def _attempt(self, claim: Claimed) -> None:
        error = await self._post(claim)
        now = self._clock()
        async with self._sessions.begin() as session:
            if error is None:
                kept = await record_delivered(session=session, claim=claim, now=now)
            else:
                retry_at = None
                if claim.attempt < self.policy.max_attempts:
                    delay = retry_delay_s(claim.attempt, self.policy, self._rng)
                    retry_at = now + timedelta(seconds=delay)
                kept = await record_failed_attempt(
                    session=session, claim=claim, error=error, retry_at=retry_at
                )
                if retry_at is None:
                    log.warning(
                        "webhook delivery %d for order %s failed after %d attempts: %s",
                        claim.id,
                        claim.order_id,
                        claim.attempt,
                        error,
                    )
        if not kept:
            log.info("webhook delivery %d was taken over by another sender", claim.id)

    async def _post(self, claim: Claimed) -> str | None:
        """None when the receiver answered 2xx, else what went wrong."""
        body = body_bytes(claim.payload)
        headers = {
            "Content-Type": "application/json",
            DELIVERY_HEADER: str(claim.id),
            ATTEMPT_HEADER: str(claim.attempt),
        }
        if claim.secret:
            headers[SIGNATURE_HEADER] = signature(claim.secret, body)
        try:
            response = await self._client.post(claim.url, content=body, headers=headers)
        except httpx.TimeoutException:
            return f"timed out after {self.policy.timeout_s:g} s"
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}: {response.text[:200]}"

    async def run(self) -> None:
        """Send until :meth:`stop`; a full batch is followed at once by the next one."""
        while not self._stop.is_set():
            try:
                sent = await self.send_due()
            except Exception:  # the database may be briefly away; the loop must survive it
                log.exception("webhook sender round failed; trying again")
                sent = 0
            if sent >= self.policy.batch:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self._poll_s)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self._client.aclose()

    def start(self) -> None:
        """Run :meth:`run` as a background task (the app lifespan calls this)."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="webhook-sender")

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
