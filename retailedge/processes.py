"""Child processes of the demo: started in their own session so Ctrl-C reaches only the demo,
which then stops them in order (simulators, then gateways with a drain, then the cloud)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx


class DemoProcessError(RuntimeError):
    """A child process failed to start or exited early; the message says where its log is."""


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def ensure_running(self) -> None:
        code = self.process.poll()
        if code is not None:
            raise DemoProcessError(
                f"{self.name} exited with status {code}; its log ({self.log_path}) ends with:\n"
                f"{self.tail()}"
            )

    async def stop(self, timeout_s: float) -> int:
        """SIGTERM, wait up to ``timeout_s``, then SIGKILL. Returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.to_thread(self.process.wait, timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def free_port(preferred: int = 0) -> int:
    """A loopback TCP port that is free now: ``preferred`` when it can be bound, else any."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
        except OSError:
            sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def retailedge_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "retailedge", *args]


def start_child(
    name: str, argv: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None
) -> Child:
    """Start ``argv`` with its output in ``log_path``; ``env`` is added to this environment."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=None if env is None else {**os.environ, **env},
        )
    return Child(name=name, process=process, log_path=log_path)


def run_checked(argv: Sequence[str]) -> str:
    """Run a command to completion and return its stdout; a failure carries its stderr."""
    completed = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise DemoProcessError(
            f"{' '.join(argv[2:])} failed with status {completed.returncode}:\n"
            f"{completed.stderr.strip()}"
        )
    return completed.stdout


async def wait_for_http(url: str, child: Child, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=2.0) as client:
        while True:
            child.ensure_running()
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise DemoProcessError(
                    f"{child.name} did not answer {url} within {timeout_s:.0f} s"
                )
            await asyncio.sleep(0.1)
