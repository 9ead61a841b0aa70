"""``retailedge simulate live-fleet``: couriers and reefer vans streaming GPS and compartment
temperatures through an MQTT broker and a gateway into a running cloud, delivering the orders
its dispatch loop plans. Only click is imported up front (see :mod:`retailedge.fleet.cli`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

TEXT_KEYS = (
    "orders_placed",
    "orders_allocated",
    "delivered",
    "on_time_rate",
    "mean_click_to_door_min",
    "p90_click_to_door_min",
    "orders_per_courier_hour",
    "orders_per_shift_hour",
    "batch_rate",
    "km_per_order",
    "eta_mae_min",
    "eta_p90_abs_error_min",
    "eta_bias_min",
    "eta_at_pickup_mae_min",
    "max_load",
    "gps_fixes",
    "orders_by_status_in_cloud",
)


def _channel_keys(values: tuple[str, ...]) -> dict[str, str]:
    keys = {}
    for value in values:
        channel, sep, key = value.partition("=")
        if not sep or not channel or not key:
            raise click.BadParameter(f"{value!r} is not CHANNEL=KEY", param_hint="--channel-key")
        keys[channel] = key
    return keys


def check_problems(report: dict[str, Any]) -> list[str]:
    """Where the run's record and the cloud's disagree (the command then exits 1)."""
    checks = report["checks"]
    problems = []
    if not checks["delivered_orders_match"]:
        problems.append(
            f"{checks['delivered_orders_here']} orders delivered by the couriers, "
            f"{checks['delivered_orders_in_cloud']} delivered in the cloud"
        )
    for key in (
        "tasks_taken_by_two_couriers",
        "deliveries_not_as_recorded",
        "positions_not_from_last_fix",
    ):
        if checks[key]:
            problems.append(f"{key.replace('_', ' ')}: {', '.join(checks[key])}")
    return problems


def _print_text(report: dict[str, Any]) -> None:
    run = report["run"]
    click.echo(
        f"{'run':>25}: {run['elapsed_s']} s, ordering window {run['ordering_window_s']:g} s, "
        f"couriers {run['couriers']}, stores {', '.join(run['stores'])}"
    )
    for key in TEXT_KEYS:
        click.echo(f"{key:>25}: {report[key]}")
    failure = report["reefer_failure"]
    if failure is not None:
        click.echo(
            f"{'reefer failure':>25}: {failure['courier_id']} warming from "
            f"{failure['failed_at']}, out of band {failure['out_of_band_at']}, chilled skill "
            f"lost {failure['skill_lost_at']} ({failure['skill_lost_after_s']} s after); "
            f"{len(failure['flagged'])} tasks flagged, {failure['replanned']} re-planned "
            f"({failure['replanned_delivered_by_others']} delivered by others), "
            f"{failure['on_board_when_failed']} on board"
        )
    click.echo(f"{'checks':>25}: {report['checks']}")


@click.command("live-fleet")
@click.option("--cloud-url", envvar="RETAILEDGE_CLOUD_URL", help="A running cloud.")
@click.option(
    "--api-key",
    envvar="RETAILEDGE_API_KEY",
    help="An admin key of that cloud (couriers, rider and channel keys, stock).",
)
@click.option(
    "--channel-key",
    "channel_keys",
    multiple=True,
    metavar="CHANNEL=KEY",
    help="A sales channel's key (repeatable); channels without one get a new key.",
)
@click.option(
    "--start-cloud",
    is_flag=True,
    help="Start a cloud and a fleet gateway here first (the example network, stores open "
    "around the clock); --cloud-url and --api-key are not needed.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="With --start-cloud: keep the databases and logs here (default: a temporary folder).",
)
@click.option(
    "--handling-min",
    type=click.FloatRange(0, 60),
    default=3.0,
    show_default=True,
    help="With --start-cloud: the stores' pick-and-pack minutes before an order is ready.",
)
@click.option(
    "--dispatch-interval",
    type=click.FloatRange(1, 120),
    default=5.0,
    show_default=True,
    help="With --start-cloud: seconds between the cloud's re-plans.",
)
@click.option("--mqtt-host", default="127.0.0.1", show_default=True)
@click.option("--mqtt-port", type=click.IntRange(1, 65535), default=1883, show_default=True)
@click.option("--topic-prefix", default="retailedge/v1", show_default=True)
@click.option("--site", default="sh-fleet", show_default=True, help="The topics' site level.")
@click.option("--riders", type=click.IntRange(0, 200), default=6, show_default=True)
@click.option("--vans", type=click.IntRange(0, 50), default=1, show_default=True)
@click.option("--reefers", type=click.IntRange(0, 50), default=2, show_default=True)
@click.option("--orders", type=click.IntRange(1, 5000), default=40, show_default=True)
@click.option(
    "--duration",
    type=click.FloatRange(1, 86_400),
    default=600.0,
    show_default=True,
    help="Seconds of ordering; they stand for --day-hours of a trading day.",
)
@click.option(
    "--day-hours",
    type=(click.FloatRange(0, 24), click.FloatRange(0, 24)),
    default=(9.5, 21.5),
    show_default=True,
    help="The hours of the day the ordering window stands for (the channels' demand curves).",
)
@click.option(
    "--finish-within",
    type=click.FloatRange(0, 86_400),
    default=900.0,
    show_default=True,
    help="After the ordering window, seconds the couriers have to deliver what is left.",
)
@click.option(
    "--radius-km",
    type=click.FloatRange(0.05, 10),
    default=1.5,
    show_default=True,
    help="Orders are delivered within this distance of a store.",
)
@click.option(
    "--chilled-share",
    type=click.FloatRange(0, 1),
    default=0.3,
    show_default=True,
    help="Share of orders with chilled goods (carried only by reefer vans).",
)
@click.option("--node", "nodes", multiple=True, help="A store to deliver from (repeatable).")
@click.option(
    "--fail-reefer",
    "fail_reefer_at",
    type=click.FloatRange(0),
    default=None,
    metavar="AT_S",
    help="At AT_S seconds into the ordering window (or as soon after as a reefer van holds "
    "chilled orders not yet on board), the chiller of the reefer van holding the most of them "
    "fails and warms out of its band.",
)
@click.option("--pickup-s", type=click.FloatRange(0), default=120.0, show_default=True)
@click.option("--drop-s", type=click.FloatRange(0), default=180.0, show_default=True)
@click.option("--gps-period", type=click.FloatRange(0.2, 60), default=2.0, show_default=True)
@click.option("--sensor-period", type=click.FloatRange(0.5, 300), default=5.0, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def live_fleet_command(**options: Any) -> None:
    """Riders, vans and reefer vans streaming GPS (and compartment temperatures) over MQTT
    through a gateway into a running cloud, delivering the channel orders its dispatch loop
    plans; prints the service figures, the ETA error and what became of a failed reefer."""
    import asyncio

    import httpx

    from retailedge.fleet.live_api import CloudApiError
    from retailedge.fleet.live_run import LiveRunError
    from retailedge.processes import DemoProcessError
    from simulators.mqtt_devices import SimulatorError

    if options["start_cloud"]:
        run = _with_local_stack(options)
    else:
        if not options["cloud_url"] or not options["api_key"]:
            raise click.UsageError("give --cloud-url and --api-key, or --start-cloud")
        run = _run(options, options["cloud_url"], options["api_key"], {})
    try:
        report = asyncio.run(run)
    except (CloudApiError, LiveRunError, DemoProcessError, SimulatorError, httpx.HTTPError) as exc:
        raise click.ClickException(str(exc)) from exc
    if options["as_json"]:
        click.echo(json.dumps(report, sort_keys=True))
    else:
        _print_text(report)
    problems = check_problems(report)
    for problem in problems:
        click.echo(f"FAILED: {problem}", err=True)
    if problems:
        raise SystemExit(1)


async def _run(
    options: dict[str, Any], cloud_url: str, admin_key: str, channel_keys: dict[str, str]
) -> dict[str, Any]:
    from retailedge.fleet.live_rider import AgentSettings
    from retailedge.fleet.live_run import LiveSettings, run_live_fleet

    settings = LiveSettings(
        cloud_url=cloud_url,
        admin_key=admin_key,
        broker=_broker(options),
        counts={
            "rider": options["riders"],
            "van": options["vans"],
            "reefer_van": options["reefers"],
        },
        orders=options["orders"],
        duration_s=options["duration"],
        finish_within_s=options["finish_within"],
        day_hours=_day_hours(options["day_hours"]),
        radius_m=options["radius_km"] * 1000,
        chilled_share=options["chilled_share"],
        fail_reefer_at_s=options["fail_reefer_at"],
        node_ids=tuple(options["nodes"]),
        channel_keys={**channel_keys, **_channel_keys(options["channel_keys"])},
        agent=AgentSettings(
            pickup_s=options["pickup_s"],
            drop_s=options["drop_s"],
            gps_period_s=options["gps_period"],
        ),
        sensor_period_s=options["sensor_period"],
        seed=options["seed"],
    )
    if sum(settings.counts.values()) == 0:
        raise click.UsageError("the fleet is empty: give --riders, --vans or --reefers")
    return await run_live_fleet(settings, lambda line: click.echo(line, err=True))


async def _with_local_stack(options: dict[str, Any]) -> dict[str, Any]:
    import shutil
    import tempfile

    from retailedge.fleet.live_stack import StackSettings, local_stack

    given = options["data_dir"]
    root = Path(tempfile.mkdtemp(prefix="retailedge-live-fleet-")) if given is None else given
    root.mkdir(parents=True, exist_ok=True)
    stack_settings = StackSettings(
        data_dir=root.resolve(),
        broker=_broker(options),
        handling_min=options["handling_min"],
        dispatch_interval_s=options["dispatch_interval"],
    )
    say = lambda line: click.echo(line, err=True)  # noqa: E731
    async with local_stack(stack_settings, say) as stack:
        report = await _run(options, stack.cloud_url, stack.admin_key, stack.channel_keys)
    if given is None and not check_problems(report):
        shutil.rmtree(root, ignore_errors=True)
    return report


def _broker(options: dict[str, Any]) -> Any:
    from simulators.mqtt_devices import Broker

    return Broker(
        host=options["mqtt_host"],
        port=options["mqtt_port"],
        topic_prefix=options["topic_prefix"],
        site=options["site"],
    )


def _day_hours(value: tuple[float, float]) -> tuple[float, float]:
    start, end = value
    if end - start < 0.5:
        raise click.BadParameter(
            "the day must span at least half an hour", param_hint="--day-hours"
        )
    return start, end
