"""A Mosquitto of the test's own on a free loopback port, with persistence in a temporary
folder, that a test can kill and start again on the same port."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from retailedge.processes import free_port
from tests.conftest import port_open, services_required

BINARY = "mosquitto"
START_TIMEOUT_S = 10.0


@dataclass
class Mosquitto:
    port: int
    directory: Path
    binary: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> tuple[str, int]:
        return "127.0.0.1", self.port

    @property
    def log_path(self) -> Path:
        return self.directory / "mosquitto.log"

    def write_config(self) -> Path:
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {self.directory}/",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if os.geteuid() == 0:
            # Started as root, mosquitto switches to user mosquitto, who cannot write here.
            lines.append("user root")
        path = self.directory / "mosquitto.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self) -> None:
        config = self.write_config()
        self.process = subprocess.Popen(
            [self.binary, "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not port_open(*self.address, timeout=0.2):
            code = self.process.poll()
            if code is not None or time.monotonic() > deadline:
                self.stop(signal.SIGKILL)
                raise RuntimeError(
                    f"mosquitto did not listen on port {self.port} (exit status {code}); "
                    f"log: {self.log_text()}"
                )
            time.sleep(0.02)

    def stop(self, how: signal.Signals = signal.SIGTERM) -> None:
        """SIGTERM: mosquitto saves its sessions to the persistence file and exits; SIGKILL:
        it dies, with whatever it held since the last save lost."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(how)
        try:
            self.process.wait(timeout=START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"


def mosquitto_binary() -> str:
    """The mosquitto binary, or a skip (a failure under RETAILEDGE_REQUIRE_SERVICES=1)."""
    found = shutil.which(BINARY) or shutil.which(BINARY, path="/usr/sbin:/usr/local/sbin")
    if found is not None:
        return found
    message = "the mosquitto binary is not installed (apt-get install mosquitto)"
    if services_required():
        pytest.fail(f"{message}; RETAILEDGE_REQUIRE_SERVICES=1: CI must provide it")
    pytest.skip(message)


@contextmanager
def own_mosquitto(directory: Path) -> Iterator[Mosquitto]:
    """A started broker, stopped (and its process reaped) on exit whatever the test did."""
    directory.mkdir(parents=True, exist_ok=True)
    broker = Mosquitto(free_port(), directory, mosquitto_binary())
    broker.start()
    try:
        yield broker
    finally:
        broker.stop(signal.SIGKILL)
