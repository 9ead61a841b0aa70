"""The work behind ``retailedge cloud import-catalogue`` and ``rotate-pii-key``: progress on
stderr (rows/s), results for stdout."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import click

from cloud.catalog_files import detect_format
from cloud.catalog_schemas import ImportResult
from cloud.db import Database
from cloud.pii import pii_cipher
from cloud.progress import text_bar
from cloud.services.catalog import import_file
from cloud.services.catalog_pii_rotation import rotate_all
from cloud.settings import Settings

MAX_PRINTED_PROBLEMS = 50


class Progress:
    """Prints ``phase done/total rows (N rows/s)`` to stderr: a phase's first and last
    report, and at most one a second in between."""

    def __init__(self, label: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self.clock = clock
        self.started = clock()
        self.phase_end = self.started
        self.phase = ""
        self.last_print = 0.0

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = self.clock()
        new_phase = phase != self.phase
        if new_phase:
            # Each phase's rate counts from the end of the previous one.
            self.phase = phase
            self.started = self.phase_end
        self.phase_end = now
        if done < total and not new_phase and now - self.last_print < 1.0:
            return
        self.last_print = now
        elapsed = max(now - self.started, 1e-9)
        click.echo(
            f"{self.label}: {phase} {text_bar(done, total)} {done:,}/{total:,} rows "
            f"({done / elapsed:,.0f} rows/s)",
            err=True,
        )


async def run_import(settings: Settings, kind: str, path: Path, data: bytes) -> ImportResult:
    cipher = pii_cipher(settings)
    database = Database(settings.resolved_database_url)
    try:
        async with database.sessions.begin() as session:
            return await import_file(
                session=session,
                kind=kind,
                data=data,
                file_format=detect_format(path.name, None),
                cipher=cipher,
                now=datetime.now(UTC),
                progress=Progress(f"{kind} from {path.name}"),
            )
    finally:
        await database.dispose()


async def run_rotation(settings: Settings) -> dict[str, int]:
    cipher = pii_cipher(settings)
    database = Database(settings.resolved_database_url)
    progress = Progress("rotate-pii-key")
    try:
        return await rotate_all(
            sessions=database.sessions,
            cipher=cipher,
            progress=lambda table, done, total: progress(table, done, total),
        )
    finally:
        await database.dispose()
