"""``retailedge simulate fleet``: replay a recorded day through the dispatch loop.

Only click is imported up front: the root CLI attaches this command to ``simulate`` and must not
load the routing engine for ``simulate gps``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("fleet")
@click.option(
    "--scenario",
    "scenario_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory with pickups.csv, couriers.csv, orders.csv and params.json.",
)
@click.option(
    "--policy",
    type=click.Choice(["engine", "baseline"]),
    default="engine",
    show_default=True,
    help="The dispatch loop with the routing engine, or nearest idle courier one order at a time.",
)
@click.option(
    "--budget-ms",
    type=click.IntRange(10, 60_000),
    default=1000,
    show_default=True,
    help="Hard time budget of one re-plan.",
)
@click.option(
    "--replan-every",
    type=click.FloatRange(1.0, 120.0),
    default=5.0,
    show_default=True,
    help="Re-plan cadence in simulated minutes (new orders and freed couriers re-plan too).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def fleet_command(
    scenario_dir: Path, policy: str, budget_ms: int, replan_every: float, as_json: bool
) -> None:
    """Replay a recorded day in simulated time and print its service figures."""
    from retailedge.fleet.replay import ReplayConfig, replay
    from retailedge.fleet.scenario import ScenarioError, load_scenario

    try:
        scenario = load_scenario(scenario_dir)
    except ScenarioError as error:
        raise click.ClickException(str(error)) from error
    config = ReplayConfig(policy=policy, budget_s=budget_ms / 1000, replan_every_min=replan_every)
    result = replay(scenario, config).metrics.as_dict()
    if as_json:
        click.echo(json.dumps(result, sort_keys=True))
        return
    for key, value in result.items():
        click.echo(f"{key:>24}: {value}")
