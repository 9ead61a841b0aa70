"""A switchable, fault-injecting HTTP reverse proxy between a gateway and the cloud.

It runs its own asyncio loop in a daemon thread, so a test drives it with plain method calls:

    with FaultProxy(cloud.url) as proxy:          # listens on proxy.url, passes everything
        proxy.down()                              # connection refused (nothing listens)
        proxy.flaky(0.3, seed=7)                  # 30 % of requests: 500 or held until timeout
        proxy.commit_then_drop(kill_the_gateway)  # forward, cloud commits, kill, never answer
        proxy.pass_through()

Every request is logged as an :class:`Exchange` (batch seqs, the cloud's answer, what the proxy
did with it), so a test can prove the fault it wanted really happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Any

import httpx

from retailedge.processes import free_port

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "te", "upgrade"}
)
HOLD_MAX_S = 120.0
SETTLE_MAX_S = 20.0
"""How long going down waits for requests already forwarded to the cloud to be answered."""


class Fate(StrEnum):
    PASSED = "passed"
    ERROR_BEFORE = "500_before_forwarding"
    ERROR_AFTER = "500_after_cloud_answered"
    HELD_BEFORE = "held_before_forwarding"
    HELD_AFTER = "held_after_cloud_answered"
    DROPPED_AFTER_COMMIT = "dropped_after_commit"
    UPSTREAM_FAILED = "upstream_failed"


class Mode(StrEnum):
    PASS = "pass"
    DOWN = "down"
    FLAKY = "flaky"
    COMMIT_THEN_DROP = "commit_then_drop"


@dataclass
class Exchange:
    """One request through the proxy. Batch fields are None for requests that are not batches."""

    method: str
    path: str
    fate: Fate
    first_seq: int | None = None
    last_seq: int | None = None
    seqs: list[int] = field(default_factory=list)
    status: int | None = None
    """What the cloud answered; None when the request never reached it."""
    answer: dict[str, Any] | None = None
    at: float = field(default_factory=time.monotonic)

    @property
    def forwarded(self) -> bool:
        return self.status is not None

    @property
    def ack_seq(self) -> int | None:
        value = (self.answer or {}).get("ack_seq")
        return value if isinstance(value, int) else None


@dataclass(frozen=True)
class _Request:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class _Flakiness:
    fraction: float
    timeout_share: float
    after_share: float


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = [
        (name.strip(), value.strip())
        for name, _, value in (line.partition(":") for line in lines[1:] if line)
    ]
    length = next((int(v) for k, v in headers if k.lower() == "content-length"), 0)
    if any(k.lower() == "transfer-encoding" for k, _ in headers):
        raise ValueError("chunked requests are not supported by the fault proxy")
    body = await reader.readexactly(length) if length else b""
    return _Request(method, target, headers, body)


def _batch_fields(request: _Request) -> dict[str, Any]:
    """first_seq, last_seq and the carried seqs of a gateway batch, when the body is one."""
    body = request.body
    if any(k.lower() == "content-encoding" and v == "gzip" for k, v in request.headers):
        body = gzip.decompress(body)
    try:
        batch = json.loads(body)
        records = batch["records"]
        return {
            "first_seq": int(batch["first_seq"]),
            "last_seq": int(batch["last_seq"]),
            "seqs": [int(r["seq"]) for r in records],
        }
    except (ValueError, KeyError, TypeError):
        return {}


def _response_bytes(status: int, headers: list[tuple[str, str]], body: bytes) -> bytes:
    reason = httpx.codes.get_reason_phrase(status) or "Unknown"
    head = [f"HTTP/1.1 {status} {reason}"]
    head += [f"{k}: {v}" for k, v in headers if k.lower() not in HOP_BY_HOP]
    head.append(f"content-length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


INJECTED_500 = _response_bytes(
    500,
    [("content-type", "application/json")],
    b'{"error":{"code":"injected_fault","message":"fault proxy answered 500"}}',
)


class FaultProxy:
    """Reverse proxy to ``upstream`` on ``127.0.0.1:port`` (a free port when not given)."""

    def __init__(self, upstream: str, port: int | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []
        self._mode = Mode.PASS
        self._rng = random.Random(0)
        self._flakiness = _Flakiness(0.0, 0.0, 0.0)
        self._on_commit: Callable[[Exchange], None] | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="proxy")
        self._server: asyncio.Server | None = None
        self._client: httpx.AsyncClient | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[Any]] = set()

    # -- lifecycle, called from the test's thread ------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread.start()
        self._call(self._start())
        return self

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- modes -----------------------------------------------------------------------------------

    def pass_through(self) -> None:
        """Forward everything; start listening again if the proxy was down."""
        self._set_mode(Mode.PASS)
        self._call(self._listen())

    def down(self) -> None:
        """Stop listening and cut open connections: the gateway sees connection refused.

        Returns once requests already forwarded have had the cloud's answer, so what the cloud
        stored no longer changes after this call."""
        self._set_mode(Mode.DOWN)
        self._call(self._stop_listening())

    def flaky(
        self,
        fraction: float,
        *,
        seed: int,
        timeout_share: float = 0.5,
        after_share: float = 0.5,
    ) -> None:
        """A seeded ``fraction`` of requests fail: ``timeout_share`` of those are held until the
        client gives up (the rest answered 500), and ``after_share`` of each fail only after the
        cloud answered (so the cloud committed a batch the gateway believes failed)."""
        with self._lock:
            self._rng = random.Random(seed)
            self._flakiness = _Flakiness(fraction, timeout_share, after_share)
        self._set_mode(Mode.FLAKY)
        self._call(self._listen())

    def commit_then_drop(self, on_commit: Callable[[Exchange], None]) -> None:
        """Forward the next batch; once the cloud answered 200 call ``on_commit`` (which kills
        the gateway) and close the connection without answering. Then back to pass-through."""
        with self._lock:
            self._on_commit = on_commit
        self._set_mode(Mode.COMMIT_THEN_DROP)
        self._call(self._listen())

    # -- observation -----------------------------------------------------------------------------

    @property
    def mode(self) -> Mode:
        with self._lock:
            return self._mode

    def exchanges(self) -> list[Exchange]:
        with self._lock:
            return list(self._exchanges)

    def fates(self) -> dict[Fate, int]:
        counts: dict[Fate, int] = {}
        for exchange in self.exchanges():
            counts[exchange.fate] = counts.get(exchange.fate, 0) + 1
        return counts

    # -- inside the proxy's loop -----------------------------------------------------------------

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    def _set_mode(self, mode: Mode) -> None:
        with self._lock:
            self._mode = mode

    async def _start(self) -> None:
        self._client = httpx.AsyncClient(base_url=self.upstream, timeout=HOLD_MAX_S)
        await self._listen()

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._serve, "127.0.0.1", self.port, reuse_address=True
            )

    async def _stop_listening(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._connections):
            writer.transport.abort()
        handlers = [task for task in self._handlers if task is not asyncio.current_task()]
        if handlers:
            await asyncio.wait(handlers, timeout=SETTLE_MAX_S)
        if server is not None:
            await server.wait_closed()

    async def _close(self) -> None:
        await self._stop_listening()
        if self._client is not None:
            await self._client.aclose()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        handler = asyncio.current_task()
        if handler is not None:
            self._handlers.add(handler)
        try:
            while (request := await _read_request(reader)) is not None:
                if not await self._handle(request, reader, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            self._connections.discard(writer)
            if handler is not None:
                self._handlers.discard(handler)
            writer.transport.abort()

    def _choose_fate(self) -> tuple[Mode, Fate]:
        with self._lock:
            mode, flaky, rng = self._mode, self._flakiness, self._rng
            if mode is not Mode.FLAKY or rng.random() >= flaky.fraction:
                return mode, Fate.PASSED
            held = rng.random() < flaky.timeout_share
            after = rng.random() < flaky.after_share
        if held:
            return mode, Fate.HELD_AFTER if after else Fate.HELD_BEFORE
        return mode, Fate.ERROR_AFTER if after else Fate.ERROR_BEFORE

    async def _handle(
        self, request: _Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Apply the current mode to one request; False closes the connection."""
        mode, fate = self._choose_fate()
        exchange = Exchange(request.method, request.target, fate, **_batch_fields(request))
        self._log(exchange)
        if fate is Fate.ERROR_BEFORE:
            writer.write(INJECTED_500)
            await writer.drain()
            return True
        if fate is Fate.HELD_BEFORE:
            await self._hold(reader)
            return False
        try:
            status, headers, body = await self._forward(request)
        except httpx.HTTPError:
            exchange.fate = Fate.UPSTREAM_FAILED
            return False
        exchange.status = status
        with contextlib.suppress(ValueError, OSError):
            encoded = any(k.lower() == "content-encoding" and v == "gzip" for k, v in headers)
            answer = json.loads(gzip.decompress(body) if encoded else body)
            exchange.answer = answer if isinstance(answer, dict) else None
        if fate is Fate.ERROR_AFTER:
            writer.write(INJECTED_500)
            await writer.drain()
            return True
        if fate is Fate.HELD_AFTER:
            await self._hold(reader)
            return False
        is_batch = exchange.first_seq is not None
        if mode is Mode.COMMIT_THEN_DROP and is_batch and status == 200 and self._disarm(exchange):
            exchange.fate = Fate.DROPPED_AFTER_COMMIT
            return False
        writer.write(_response_bytes(status, headers, body))
        await writer.drain()
        return True

    def _disarm(self, exchange: Exchange) -> bool:
        """Run the commit callback once; the proxy passes everything afterwards."""
        with self._lock:
            on_commit, self._on_commit = self._on_commit, None
            self._mode = Mode.PASS
        if on_commit is None:
            return False
        on_commit(exchange)
        return True

    def _log(self, exchange: Exchange) -> None:
        with self._lock:
            self._exchanges.append(exchange)

    async def _hold(self, reader: asyncio.StreamReader) -> None:
        """Answer nothing until the client hangs up (its timeout) or the proxy goes down."""
        with contextlib.suppress(TimeoutError, ConnectionError):
            await asyncio.wait_for(reader.read(), HOLD_MAX_S)

    async def _forward(self, request: _Request) -> tuple[int, list[tuple[str, str]], bytes]:
        assert self._client is not None
        headers = [(k, v) for k, v in request.headers if k.lower() not in HOP_BY_HOP]
        outgoing = self._client.build_request(
            request.method, request.target, headers=headers, content=request.body
        )
        response = await self._client.send(outgoing, stream=True)
        try:
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
        finally:
            await response.aclose()
        return response.status_code, list(response.headers.multi_items()), raw
