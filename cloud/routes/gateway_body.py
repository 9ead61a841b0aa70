"""Read what a gateway POSTs (a batch, a heartbeat): its JSON body, bounded in size and gzip, and
the check that it speaks for the gateway its token belongs to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from fastapi import Request

from cloud.api_error import ApiError
from cloud.ingest.body import decode_body, too_large
from cloud.security import Principal


class FromGateway(Protocol):
    @property
    def gateway_id(self) -> str: ...


M = TypeVar("M", bound=FromGateway)


async def read_gateway_message(
    request: Request, principal: Principal, max_bytes: int, parse: Callable[[Any], M]
) -> M:
    """The body of ``request`` as ``parse`` validates it. Raises ApiError 415 (not JSON, an
    unknown encoding), 413 (over ``max_bytes`` sent or unpacked), 400 (not JSON), ``parse``'s
    422, and 403 when it names another gateway than ``principal``'s."""
    check_content_type(request)
    raw = await read_body(request, max_bytes)
    data = decode_body(
        raw, content_encoding=request.headers.get("content-encoding"), max_bytes=max_bytes
    )
    message = parse(data)
    if message.gateway_id != principal.gateway_id:
        raise ApiError(
            403,
            "wrong_gateway",
            f"this token belongs to gateway {principal.gateway_id!r}, not {message.gateway_id!r}",
        )
    return message


async def read_body(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise too_large(max_bytes, "request body")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise too_large(max_bytes, "request body")
        chunks.append(chunk)
    return b"".join(chunks)


def check_content_type(request: Request) -> None:
    content_type = request.headers.get("content-type")
    if content_type is None:
        return
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise ApiError(
            415, "unsupported_media_type", f"Content-Type {media_type!r}: send application/json"
        )
