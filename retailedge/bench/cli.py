"""``retailedge bench``: speed figures with a same-run baseline, as JSON with ``--json``."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from retailedge.bench.allocate import DEFAULT_POSTGRES_URL, run_allocate_bench
from retailedge.bench.dispatch import SAMPLE_DAY, DispatchBenchConfig, run_dispatch_bench
from retailedge.bench.drain import run_drain_bench
from retailedge.bench.ingest import run_ingest_bench
from retailedge.bench.progress import StderrProgress


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
    help="Baseline rows per transaction; the pipeline gets as many producers of 50 records "
    "as fill one such group commit.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def ingest_command(records: int, repeat: int, rows_per_transaction: int, as_json: bool) -> None:
    """Records/s into the durable buffer through the pipeline vs raw sqlite3 executemany."""
    result = run_ingest_bench(records, repeat, rows_per_transaction, StderrProgress())
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
    result = run_drain_bench(records, baseline_records, StderrProgress())
    _report(result, as_json)


@bench_group.command("allocate")
@click.option(
    "--backend",
    type=click.Choice(["sqlite", "postgresql", "both"]),
    default="both",
    show_default=True,
    help="Database(s) behind the cloud.",
)
@click.option(
    "--orders", type=click.IntRange(10), default=5000, show_default=True, help="Orders per run."
)
@click.option(
    "--clients",
    type=click.IntRange(1, 1000),
    default=32,
    show_default=True,
    help="Concurrent keep-alive connections.",
)
@click.option(
    "--postgres-url",
    default=DEFAULT_POSTGRES_URL,
    show_default=True,
    help="Server to create (and drop) a fresh database on.",
)
@click.option(
    "--repeat",
    type=click.IntRange(1, 20),
    default=3,
    show_default=True,
    help="Runs per backend, each on a fresh server and database; the median counts.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per backend.")
def allocate_command(
    backend: str, orders: int, clients: int, postgres_url: str, repeat: int, as_json: bool
) -> None:
    """Orders/s through POST /api/v1/orders against a real cloud, and units oversold (0)."""
    backends = ["sqlite", "postgresql"] if backend == "both" else [backend]
    results = run_allocate_bench(
        backends, orders, clients, postgres_url, StderrProgress(), repeat=repeat
    )
    for result in results:
        _report(result, as_json)


@bench_group.command("dispatch")
@click.option(
    "--tasks", type=click.IntRange(10), default=500, show_default=True, help="Open tasks."
)
@click.option("--riders", type=click.IntRange(1), default=50, show_default=True, help="Riders.")
@click.option(
    "--rounds",
    type=click.IntRange(1),
    default=30,
    show_default=True,
    help="Steady-load re-plans measured after the build-up.",
)
@click.option(
    "--budget-ms",
    type=click.IntRange(10, 60_000),
    default=1000,
    show_default=True,
    help="Hard time budget of one re-plan.",
)
@click.option(
    "--reference-s",
    type=click.FloatRange(0.1, 600),
    default=30.0,
    show_default=True,
    help="Time the same engine gets for the reference solution.",
)
@click.option(
    "--scenario",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=SAMPLE_DAY,
    show_default="the committed sample day",
    help="Recorded day replayed with the engine and with the baseline.",
)
@click.option(
    "--solomon-limit",
    type=click.IntRange(-1),
    default=0,
    show_default=True,
    help="Solomon instances to solve: 0 all, -1 none.",
)
@click.option(
    "--solomon-budget-s",
    type=click.FloatRange(0.1, 600),
    default=5.0,
    show_default=True,
    help="Engine time per Solomon instance.",
)
@click.option(
    "--quick",
    is_flag=True,
    help="Small everything: 60 tasks × 8 riders, 3 rounds, 2 s reference, at most 1 s between "
    "rounds, a 60-order day, one Solomon instance at 0.5 s.",
)
@click.option(
    "--interval-s",
    type=click.FloatRange(0, 600),
    default=20.0,
    show_default=True,
    help="The live loop's re-plan cadence: the most a round waits for the background solve.",
)
@click.option(
    "--no-background",
    is_flag=True,
    help="Re-plan without the from-scratch solve in a background process.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def dispatch_command(
    tasks: int,
    riders: int,
    rounds: int,
    budget_ms: int,
    reference_s: float,
    scenario: Path,
    solomon_limit: int,
    solomon_budget_s: float,
    interval_s: float,
    no_background: bool,
    quick: bool,
    as_json: bool,
) -> None:
    """Re-plan latency and cost vs a 30 s solve, service vs nearest-idle baseline, Solomon gaps."""
    config = DispatchBenchConfig(
        background=not no_background,
        interval_s=interval_s,
        tasks=tasks,
        riders=riders,
        rounds=rounds,
        budget_s=budget_ms / 1000,
        reference_s=reference_s,
        scenario=scenario,
        solomon_limit=solomon_limit,
        solomon_budget_s=solomon_budget_s,
    )
    if quick:
        config = replace(
            config,
            tasks=60,
            riders=8,
            rounds=3,
            reference_s=2.0,
            interval_s=min(interval_s, 1.0),
            solomon_limit=min(solomon_limit, 1) if solomon_limit != 0 else 1,
            solomon_budget_s=0.5,
        )
    result = run_dispatch_bench(config, quick, StderrProgress())
    _report(result, as_json)
