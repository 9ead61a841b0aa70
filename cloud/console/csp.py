"""The Content-Security-Policy of the console's pages: images from the console itself, data URLs
and, when a raster tile server is configured, exactly that server's origin."""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def tile_origin(tile_url: str | None) -> str | None:
    """``scheme://host[:port]`` of a tile URL template such as
    ``http://127.0.0.1:8080/{z}/{x}/{y}.png``; None when no tile server is configured."""
    if not tile_url:
        return None
    parts = urlsplit(tile_url)
    host = parts.hostname
    if parts.scheme not in DEFAULT_PORTS or not host or "{" in parts.netloc:
        raise ValueError(
            f"RETAILEDGE_CONSOLE_TILE_URL: {tile_url!r} needs an http(s) scheme and a fixed host "
            "(no {s}-style placeholders before the path)"
        )
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    if port is None or port == DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def content_security_policy(tile_url: str | None) -> str:
    images = " ".join(filter(None, ("'self'", "data:", tile_origin(tile_url))))
    return f"default-src 'self'; img-src {images}; connect-src 'self'; frame-ancestors 'none'"
