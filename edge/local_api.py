"""The gateway's local producer API: handheld scanners and local services post records here.

``POST /api/v1/records`` answers only once the records are durable in the buffer, so a 200 means
accepted for good; any error means nothing of the request was stored. Served by a uvicorn server
running inside the gateway's own event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any, Final

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from edge.buffer import BufferFullError
from edge.pipeline import BufferWriteError, PipelineStoppedError
from edge.scanner_api import SCANNER_PAGE_PATH, CatalogueSource, PendingScans, scanner_router
from firmware_bridge.records import Record
from firmware_bridge.wire import RecordFormatError, record_from_wire

log = logging.getLogger(__name__)

MAX_RECORDS_PER_REQUEST: Final = 10_000
RETRY_AFTER_S: Final = 5

Put = Callable[[Sequence[Record]], Awaitable[list[int]]]
Health = Callable[[], Mapping[str, Any]]


RETRY_LATER: Final = {"Retry-After": str(RETRY_AFTER_S)}


def error(
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    index: int | None = None,
) -> JSONResponse:
    """The API's error body: ``{"error": {"code", "message"[, "index"]}}``."""
    extra = {} if index is None else {"index": index}
    return JSONResponse(
        {"error": {"code": code, "message": message, **extra}},
        status_code=status,
        headers=dict(headers or {}),
    )


class InvalidRecordsError(ValueError):
    def __init__(
        self, message: str, *, index: int | None = None, status: int = 422, code: str = ""
    ) -> None:
        super().__init__(message)
        self.index = index
        self.status = status
        self.code = code or ("invalid_body" if index is None else "invalid_record")


def parse_records(body: Any) -> list[Record]:
    """The typed records of a request body. Raises :class:`InvalidRecordsError`."""
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise InvalidRecordsError('body must be an object {"records": [...]}')
    items: list[Any] = body["records"]
    if len(items) > MAX_RECORDS_PER_REQUEST:
        raise InvalidRecordsError(
            f"records: {len(items)} records, at most {MAX_RECORDS_PER_REQUEST} per request",
            status=413,
            code="too_many_records",
        )
    records: list[Record] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidRecordsError(f"records[{index}]: must be a JSON object", index=index)
        if "seq" in item:
            raise InvalidRecordsError(
                f"records[{index}].seq: assigned by the gateway; leave it out", index=index
            )
        try:
            records.append(record_from_wire(item))
        except RecordFormatError as exc:
            raise InvalidRecordsError(f"records[{index}].{exc}", index=index) from None
    return records


def create_app(
    *,
    put: Put,
    health: Health,
    token: str | None = None,
    pending_scans: PendingScans | None = None,
    catalogue: CatalogueSource | None = None,
) -> FastAPI:
    """The FastAPI app; ``put`` is :meth:`edge.pipeline.Pipeline.put`, ``pending_scans`` is
    :func:`edge.scanner_api.pending_scans_from` of the buffer (else that route answers 501),
    ``catalogue`` gives the downlink's cached catalogue that scans are checked against."""
    app = FastAPI(title="RetailEdge gateway local API", openapi_url="/api/v1/openapi.json")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = "not_found" if exc.status_code == 404 else f"http_{exc.status_code}"
        return error(exc.status_code, code, str(exc.detail))

    @app.middleware("http")
    async def _auth(request: Request, call_next: Callable[[Request], Awaitable[Any]]) -> Any:
        public = request.url.path == SCANNER_PAGE_PATH  # static page; it sends the token
        if token is not None and not public and not _bearer_matches(request, token):
            return error(
                401,
                "unauthorized",
                "missing or wrong bearer token",
                {"WWW-Authenticate": "Bearer"},
            )
        return await call_next(request)

    @app.post("/api/v1/records")
    async def post_records(request: Request) -> JSONResponse:
        try:
            body = json.loads(await request.body())
        except ValueError as exc:
            return error(400, "invalid_json", f"body is not JSON: {exc}")
        try:
            records = parse_records(body)
        except InvalidRecordsError as exc:
            return error(exc.status, exc.code, str(exc), index=exc.index)
        try:
            seqs = await put(records)
        except BufferFullError as exc:
            return error(503, "buffer_full", str(exc), RETRY_LATER)
        except PipelineStoppedError as exc:
            return error(503, "shutting_down", str(exc), RETRY_LATER)
        except BufferWriteError as exc:
            return error(
                503,
                "buffer_unavailable",
                f"{exc}; retry later",
                RETRY_LATER,
            )
        return JSONResponse(
            {
                "accepted": len(seqs),
                "first_seq": seqs[0] if seqs else None,
                "last_seq": seqs[-1] if seqs else None,
            }
        )

    app.include_router(scanner_router(put=put, pending=pending_scans, catalogue=catalogue))

    @app.get("/api/v1/health")
    async def get_health() -> JSONResponse:
        return JSONResponse(dict(health()))

    return app


def _bearer_matches(request: Request, token: str) -> bool:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), token)


class _InLoopServer(uvicorn.Server):
    """uvicorn inside someone else's event loop: the gateway owns the signal handlers."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serve(app: FastAPI, host: str, port: int) -> AsyncIterator[str]:
    """Serve ``app`` on ``host:port`` (0 = a free port) until the block exits; yields the URL.
    Raises OSError when the address cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    bound_port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = _InLoopServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="local api")
    try:
        while not server.started:
            if task.done():
                task.result()
                raise OSError(f"local API on {host}:{bound_port} did not start")
            await asyncio.sleep(0.01)
        shown = f"[{host}]" if family == socket.AF_INET6 else host
        yield f"http://{shown}:{bound_port}"
    finally:
        server.should_exit = True
        await asyncio.gather(task, return_exceptions=True)
        sock.close()
