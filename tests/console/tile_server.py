"""A tiny raster tile server on a loopback port: real PNG tiles at ``/{z}/{x}/{y}.png``, every
request counted, so a browser test can tell whether the page's CSP let the tiles through."""

from __future__ import annotations

import re
import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TILE_PATH = re.compile(r"^/(\d+)/(\d+)/(\d+)\.png$")


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid PNG of one colour (8-bit RGB, no filter)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


TILE = png(256, 256, (214, 230, 208))


@dataclass
class TileServer:
    port: int
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url_template(self) -> str:
        return f"http://127.0.0.1:{self.port}/{{z}}/{{x}}/{{y}}.png"

    def count(self) -> int:
        with self.lock:
            return len(self.requests)


@contextmanager
def tile_server() -> Iterator[TileServer]:
    """Serves until the block ends; answers 404 for anything but a tile path."""
    server_ref: list[TileServer] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            tiles = server_ref[0]
            with tiles.lock:
                tiles.requests.append(self.path)
            if TILE_PATH.match(self.path) is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(TILE)))
            self.end_headers()
            self.wfile.write(TILE)

        def log_message(self, format: str, *args: object) -> None:
            return None

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_ref.append(TileServer(int(httpd.server_address[1])))
    thread = threading.Thread(target=httpd.serve_forever, name="tile-server", daemon=True)
    thread.start()
    try:
        yield server_ref[0]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
