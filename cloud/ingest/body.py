"""Turn an ingest request body (optionally gzip) into JSON, with both sizes bounded."""

from __future__ import annotations

import json
import zlib
from typing import Any

import orjson

from cloud.api_error import ApiError


def too_large(max_bytes: int, what: str) -> ApiError:
    return ApiError(
        413,
        "batch_too_large",
        f"{what} exceeds {max_bytes} bytes; send fewer records per batch",
    )


def decode_body(raw: bytes, *, content_encoding: str | None, max_bytes: int) -> Any:
    """The parsed JSON of ``raw``. Raises ApiError 400/413/415."""
    if len(raw) > max_bytes:
        raise too_large(max_bytes, "request body")
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "gzip":
        raw = _gunzip(raw, max_bytes)
    elif encoding != "identity":
        raise ApiError(
            415, "unsupported_encoding", f"Content-Encoding {encoding!r}: send gzip or identity"
        )
    return parse_json(raw)


def parse_json(raw: bytes) -> Any:
    """orjson for speed; the stdlib parser only when orjson refuses, so bodies it accepts
    that orjson does not (NaN, integers beyond 64 bits) keep their per-record handling."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "invalid_json", f"body is not valid UTF-8 JSON ({exc})") from None


def _gunzip(raw: bytes, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(raw, max_bytes + 1)
    except zlib.error as exc:
        raise ApiError(400, "invalid_gzip", f"body is not valid gzip ({exc})") from None
    if len(out) > max_bytes:
        raise too_large(max_bytes, "decompressed body")
    if not inflater.eof:
        raise ApiError(400, "invalid_gzip", "gzip stream is truncated; resend the whole batch")
    if inflater.unused_data:
        raise ApiError(
            400, "invalid_gzip", "data after the end of the gzip stream; send one member"
        )
    return out
