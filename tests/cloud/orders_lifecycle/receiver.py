"""A real HTTP receiver for webhook tests: an asyncio server answering from a script."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def payload(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.body)
        return result


@dataclass
class Receiver:
    """Answers the n-th request with ``script[n]`` (a status code, or ``"hang"`` to never
    answer), and 200 once the script is used up."""

    script: list[int | str]
    received: list[Received] = field(default_factory=list)
    port: int = 0
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    handlers: set[asyncio.Task[Any]] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/order-status"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.handlers.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in header_lines:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            index = len(self.received)
            answer = self.script[index] if index < len(self.script) else 200
            status = 0 if answer == "hang" else int(answer)
            self.received.append(Received(request_line.split()[1], headers, body, status))
            if answer == "hang":
                await self.closing.wait()
                return
            text = b"ok" if status < 300 else b"try later"
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Length: {len(text)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + text
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            if task is not None:
                self.handlers.discard(task)


@asynccontextmanager
async def running_receiver(script: list[int | str]) -> AsyncIterator[Receiver]:
    receiver = Receiver(script)
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    receiver.port = server.sockets[0].getsockname()[1]
    try:
        yield receiver
    finally:
        receiver.closing.set()
        server.close()
        await asyncio.wait_for(server.wait_closed(), timeout=5)
        if receiver.handlers:
            await asyncio.wait(set(receiver.handlers), timeout=5)
