"""``retailedge bench``: speed figures with a same-run baseline, as JSON with ``--json``."""

from __future__ import annotations

import json
from typing import Any

import click

from retailedge.bench.drain import run_drain_bench
from retailedge.bench.ingest import run_ingest_bench


def _progress(quiet: bool) -> Any:
    def say(message: str) -> None:
        if not quiet:
            click.echo(f"[bench] {message}", err=True)

    return say


def _report(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result, sort_keys=True))
    else:
        for key, value in result.items():
            click.echo(f"{key:>28}: {value}")


@click.group("bench")
def bench_group() -> None:
    """Measure speed against a baseline taken in the same run (medians over repeats)."""


@bench_group.command("ingest")
@click.option(
    "--records",
    type=click.IntRange(1000),
    default=100_000,
    show_default=True,
    help="Records per run.",
)
@click.option(
    "--repeat",
    type=click.IntRange(1),
    default=3,
    show_default=True,
    help="Runs of each side; medians are reported.",
)
@click.option(
    "--rows-per-transaction",
    type=click.IntRange(1),
    default=1000,
    show_default=True,
    help="Baseline rows per transaction (the pipeline's largest group commit).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def ingest_command(records: int, repeat: int, rows_per_transaction: int, as_json: bool) -> None:
    """Records/s into the durable buffer through the pipeline vs raw sqlite3 executemany."""
    result = run_ingest_bench(records, repeat, rows_per_transaction, _progress(False))
    _report(result, as_json)


@bench_group.command("drain")
@click.option(
    "--records",
    type=click.IntRange(1000),
    default=1_000_000,
    show_default=True,
    help="Backlog the gateway drains.",
)
@click.option(
    "--baseline-records",
    type=click.IntRange(1000),
    default=200_000,
    show_default=True,
    help="Records the bare-endpoint baseline ingests.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def drain_command(records: int, baseline_records: int, as_json: bool) -> None:
    """A buffered backlog drained to a local cloud: records/s, duplicates and missing records."""
    result = run_drain_bench(records, baseline_records, _progress(False))
    _report(result, as_json)
