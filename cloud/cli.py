"""``retailedge cloud ...``: serve the API, migrate, and mint gateway tokens and user keys."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from cloud.api_error import ApiError
from cloud.db import Database
from cloud.migrate import upgrade_database
from cloud.schemas import GatewayCreate, UserCreate, UserRoleName
from cloud.services.gateways import create_gateway
from cloud.services.users import create_user
from cloud.settings import Settings

T = TypeVar("T")


def _database_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Directory for the default SQLite database [env RETAILEDGE_DATA_DIR].",
    )(command)
    return click.option(
        "--database-url",
        default=None,
        help="SQLAlchemy async URL, e.g. postgresql+asyncpg://... [env RETAILEDGE_DATABASE_URL].",
    )(command)


def load_settings(database_url: str | None, data_dir: Path | None) -> Settings:
    """Settings from the environment with the given CLI options taking precedence."""
    overrides: dict[str, Any] = {}
    if database_url is not None:
        overrides["database_url"] = database_url
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise click.ClickException(f"invalid settings: {exc}") from None
    settings.ensure_data_dir()
    return settings


def _run(settings: Settings, work: Callable[[], Awaitable[T]]) -> T:
    """Migrate, then run ``work``; database failures become a message saying what to do."""
    try:
        return asyncio.run(_migrated(settings, work))
    except ApiError as exc:
        raise click.ClickException(exc.message) from None
    except (OSError, SQLAlchemyError) as exc:
        raise click.ClickException(
            f"database {settings.database_label} not reachable ({type(exc).__name__}: {exc}); "
            "start PostgreSQL or pass --database-url / --data-dir"
        ) from None


async def _migrated(settings: Settings, work: Callable[[], Awaitable[T]]) -> T:
    await upgrade_database(settings.resolved_database_url)
    return await work()


async def _nothing() -> None:
    return None


async def _in_transaction(settings: Settings, action: Callable[..., Awaitable[T]], **kw: Any) -> T:
    database = Database(settings.resolved_database_url)
    try:
        async with database.sessions.begin() as session:
            return await action(session=session, now=datetime.now(UTC), **kw)
    finally:
        await database.dispose()


@click.group(name="cloud")
def cloud_group() -> None:
    """The RetailEdge cloud service."""


@cloud_group.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8800, show_default=True, type=int)
@click.option(
    "--access-log/--no-access-log",
    default=False,
    show_default=True,
    help="Log every request (costs ~1 ms per ingest batch); errors are logged either way.",
)
@_database_options
def serve(
    host: str, port: int, access_log: bool, database_url: str | None, data_dir: Path | None
) -> None:
    """Migrate the database, then serve the HTTP API with uvicorn."""
    import uvicorn

    from cloud.app import create_app

    settings = load_settings(database_url, data_dir)
    _run(settings, _nothing)
    click.echo(f"database: {settings.database_label}")
    click.echo(f"listening on http://{host}:{port}", nl=True)
    # loop/http "auto" pick uvloop and httptools when installed.
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", access_log=access_log)


@cloud_group.command()
@_database_options
def migrate(database_url: str | None, data_dir: Path | None) -> None:
    """Upgrade the database schema to the newest version."""
    settings = load_settings(database_url, data_dir)
    _run(settings, _nothing)
    click.echo(f"database {settings.database_label} is at the newest schema")


@cloud_group.command("create-gateway")
@click.option("--id", "gateway_id", required=True, help="Gateway id, e.g. store-17-dock.")
@click.option("--json", "as_json", is_flag=True, help='Print {"id", "token"} as JSON.')
@_database_options
def create_gateway_command(
    gateway_id: str, as_json: bool, database_url: str | None, data_dir: Path | None
) -> None:
    """Register a gateway and print its token (shown only once)."""
    try:
        body = GatewayCreate(id=gateway_id)
    except ValidationError:
        raise click.BadParameter("use letters, digits and . _ : @ -", param_hint="--id") from None
    settings = load_settings(database_url, data_dir)
    created = _run(settings, lambda: _in_transaction(settings, create_gateway, gateway_id=body.id))
    click.echo(json.dumps(created.model_dump()) if as_json else created.token)


@cloud_group.command("create-user")
@click.option("--name", required=True)
@click.option(
    "--role",
    required=True,
    type=click.Choice(["admin", "operator", "warehouse", "channel", "rider"]),
)
@click.option("--json", "as_json", is_flag=True, help='Print {"name", "role", "api_key"} as JSON.')
@_database_options
def create_user_command(
    name: str, role: UserRoleName, as_json: bool, database_url: str | None, data_dir: Path | None
) -> None:
    """Create a user and print the API key (shown only once)."""
    try:
        body = UserCreate(name=name, role=role)
    except ValidationError:
        raise click.BadParameter("use letters, digits and . _ : @ -", param_hint="--name") from None
    settings = load_settings(database_url, data_dir)
    created = _run(
        settings, lambda: _in_transaction(settings, create_user, name=body.name, role=body.role)
    )
    click.echo(json.dumps(created.model_dump()) if as_json else created.api_key)


@cloud_group.command("import-catalogue")
@click.option(
    "--kind",
    required=True,
    type=click.Choice(["nodes", "zones", "locations", "skus", "manifests", "members", "channels"]),
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the counts as one JSON object.")
@_database_options
def import_catalogue_command(
    kind: str, file: Path, as_json: bool, database_url: str | None, data_dir: Path | None
) -> None:
    """Load catalogue records from CSV, JSON or JSON Lines, all or nothing; progress on stderr."""
    from cloud.catalog_cli import MAX_PRINTED_PROBLEMS, run_import
    from cloud.catalog_files import FileRejected
    from cloud.pii import PiiKeyError
    from cloud.services.catalog_rows import CatalogRejected

    settings = load_settings(database_url, data_dir)
    try:
        data = file.read_bytes()
        result = _run(settings, lambda: run_import(settings, kind, file, data))
    except PiiKeyError as exc:
        raise click.ClickException(str(exc)) from None
    except (CatalogRejected, FileRejected) as exc:
        for problem in exc.problems[:MAX_PRINTED_PROBLEMS]:
            click.echo(f"{file}: {problem.describe()}", err=True)
        raise click.ClickException(
            f"nothing imported: {len(exc.problems)} problem(s) in {file}"
        ) from None
    if as_json:
        click.echo(json.dumps(result.model_dump()))
    else:
        click.echo(
            f"{result.kind}: {result.total} rows, {result.created} created, "
            f"{result.updated} updated, {result.unchanged} unchanged"
        )


@cloud_group.command("rotate-pii-key")
@_database_options
def rotate_pii_key_command(database_url: str | None, data_dir: Path | None) -> None:
    """Re-encrypt all personal data with the newest key of RETAILEDGE_PII_KEYS."""
    from cloud.catalog_cli import run_rotation
    from cloud.pii import PiiDecryptError, PiiKeyError

    settings = load_settings(database_url, data_dir)
    try:
        counts = _run(settings, lambda: run_rotation(settings))
    except (PiiKeyError, PiiDecryptError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(", ".join(f"{table}: {count} rows" for table, count in counts.items()))


def _add_console_commands() -> None:
    from cloud.console.cli import set_password_command

    cloud_group.add_command(
        set_password_command(_database_options, load_settings, _run, _in_transaction)
    )


_add_console_commands()
