"""The ``geoplatform`` command: database, layers, serving, plus the commands modules contribute."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from geoplatform import migrate
from geoplatform.auth_cli import auth
from geoplatform.config import Settings, SettingsError, load_settings, settings_reference
from geoplatform.db import ensure_database, make_engine
from geoplatform.imports.cli import import_command
from geoplatform.modules import (
    DemoError,
    DemoProgress,
    Module,
    ModuleError,
    build_registry,
    load_modules,
    load_services,
    run_demos,
)
from geoplatform.platform import create_platform
from geoplatform.progress import progress_bars, stage_reporter
from geoplatform.registry import RegistryError

console = Console(stderr=True)


def settings_from(ctx: click.Context) -> Settings:
    return ctx.find_root().obj


@click.group()
@click.pass_context
def cli(ctx: click.Context) -> None:
    """geoplatform: the city's base geodatabase, tiles, feature APIs and thematic modules."""
    if ctx.obj is None:
        ctx.obj = load_settings()


@cli.group()
def db() -> None:
    """Create and migrate the database."""


@db.command("create")
@click.pass_context
def db_create(ctx: click.Context) -> None:
    """Create the database named in DATABASE_URL if it does not exist."""
    settings = settings_from(ctx)
    created = ensure_database(settings.database_url)
    click.echo("database created" if created else "database exists")


@db.command("upgrade")
@click.argument("revision", default="heads")
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Create the database if missing and migrate it to REVISION (default: the core's and every
    enabled module's head), then sync the departments the modules declare."""
    settings = settings_from(ctx)
    ensure_database(settings.database_url)
    migrate.upgrade(settings, revision)
    click.echo(f"database at {revision}")


@db.command("downgrade")
@click.argument("revision")
@click.pass_context
def db_downgrade(ctx: click.Context, revision: str) -> None:
    """Migrate the database down to REVISION ('base' removes every table)."""
    migrate.downgrade(settings_from(ctx), revision)
    click.echo(f"database at {revision}")


@db.command("current")
@click.pass_context
def db_current(ctx: click.Context) -> None:
    """Print the database's revisions and the migrations' heads."""
    settings = settings_from(ctx)
    engine = make_engine(settings)
    try:
        current = ", ".join(sorted(migrate.current_revisions(engine))) or "none"
    finally:
        engine.dispose()
    heads = ", ".join(sorted(migrate.head_revisions(settings)))
    click.echo(f"current: {current}  heads: {heads}")


cli.add_command(auth)
cli.add_command(import_command)


@cli.command("layers")
@click.pass_context
def layers_command(ctx: click.Context) -> None:
    """List registered layers with their row counts in the database."""
    settings = settings_from(ctx)
    registry = build_registry(load_modules(settings.modules))
    engine = make_engine(settings)
    table = Table("id", "title", "table", "geometry", "access", "zoom", "rows")
    with engine.connect() as conn:
        for layer in registry:
            exists = conn.execute(text("SELECT to_regclass(:t)"), {"t": layer.table}).scalar()
            rows = "missing"
            if exists:
                quote = conn.dialect.identifier_preparer.quote
                name = f"{quote(layer.schema_name)}.{quote(layer.table_name)}"
                rows = f"{conn.execute(text(f'SELECT count(*) FROM {name}')).scalar_one():,}"
            access = layer.access if isinstance(layer.access, str) else ",".join(layer.access)
            table.add_row(
                layer.id,
                f"{layer.title_zh} {layer.title_en}",
                layer.table,
                layer.geometry_type,
                access,
                f"{layer.minzoom}-{layer.maxzoom}",
                rows,
            )
    Console(width=140).print(table)


@cli.command("settings")
def settings_command() -> None:
    """Print every setting with its default and meaning, as the Markdown table in README."""
    click.echo(settings_reference())


@cli.command("serve")
@click.option("--port", type=int, default=None, help="Port (default GEOPLATFORM_PORT, 8000).")
@click.option("--host", default=None, help="Address (default GEOPLATFORM_HOST, 127.0.0.1).")
@click.option("--workers", type=int, default=None, help="Worker processes (GEOPLATFORM_WORKERS).")
@click.pass_context
def serve(ctx: click.Context, port: int | None, host: str | None, workers: int | None) -> None:
    """Serve the platform with Granian after checking the registry against the database."""
    from geoplatform.platform import create_platform

    settings = settings_from(ctx)
    platform = create_platform(settings)
    try:
        problem = connection_budget_problem(platform, workers or settings.workers)
    finally:
        platform.close()
    if problem:
        raise click.ClickException(problem)
    host, port = host or settings.host, port or settings.port
    granian = shutil.which("granian", path=os.path.dirname(sys.executable)) or "granian"
    args = granian_arguments(settings, host, port, workers)
    console.print(f"serving on http://{host}:{port}")
    os.execv(granian, [granian, *args, "geoplatform.app:create_app"])


# Connections kept free for psql, migrations, loads and monitoring while the platform is served.
CONNECTION_HEADROOM = 10


def connections_per_worker(settings: Settings) -> int:
    """The most connections one worker opens: the engine's pool and its overflow, the read pool,
    and the LISTEN connection of the layer versions."""
    return 2 * settings.db_pool_size + settings.db_pool_size + 1


def connection_budget_problem(platform, workers: int) -> str | None:
    """Why this many workers could exhaust the server's connections, or None."""
    with platform.engine.connect() as conn:
        limit, reserved = (
            int(conn.execute(text(f"SHOW {name}")).scalar_one())
            for name in ("max_connections", "superuser_reserved_connections")
        )
    needed = workers * connections_per_worker(platform.settings)
    available = limit - reserved - CONNECTION_HEADROOM
    if needed <= available:
        return None
    return (
        f"{workers} workers may open {needed} connections "
        f"({connections_per_worker(platform.settings)} each with GEOPLATFORM_DB_POOL_SIZE="
        f"{platform.settings.db_pool_size}), more than the {available} the server leaves "
        f"(max_connections {limit} - {reserved} reserved - {CONNECTION_HEADROOM} headroom): "
        "lower GEOPLATFORM_WORKERS or GEOPLATFORM_DB_POOL_SIZE, or raise max_connections"
    )


def granian_arguments(settings: Settings, host: str, port: int, workers: int | None) -> list[str]:
    """Granian (HTTP in Rust, the WSGI app in each worker's threads) rather than gunicorn: a
    small JSON answer (/tileMatrixSets) over a kept-alive connection took 0.85 ms against
    gunicorn gthread's 1.19 ms, and the bench's client got 1,790 against 970 requests/s."""
    keepalive = (
        # Granian bounds an idle kept-alive connection by the time it waits for the next
        # request's headers.
        ["--http1-keep-alive", "--http1-header-read-timeout", str(settings.keepalive * 1000)]
        if settings.keepalive
        else ["--no-http1-keep-alive"]
    )
    return [
        "--interface",
        "wsgi",
        "--factory",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers or settings.workers),
        "--blocking-threads",
        str(settings.threads),
        *keepalive,
        "--respawn-failed-workers",
        "--access-log",
        "--no-ws",
    ]


@cli.command("demo")
@click.option("--only", "names", multiple=True, help="Run only these modules' demos (repeatable).")
@click.pass_context
def demo_command(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Load every enabled module's demo data, each after the modules it requires (idempotent:
    what is loaded already is left as it is)."""
    settings = settings_from(ctx)
    platform = create_platform(settings)
    unknown = set(names) - {m.name for m in platform.modules}
    if unknown:
        platform.close()
        raise click.BadParameter(f"not enabled: {', '.join(sorted(unknown))}", param_hint="--only")
    try:
        for _module, summary in run_demos(platform, names, _demo_bars):
            console.print(summary)
    except DemoError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        platform.close()


@contextmanager
def _demo_bars(module: Module) -> Iterator[DemoProgress]:
    console.rule(f"{module.name}: {module.title_zh} {module.title_en}")
    with progress_bars(console) as bars:
        yield stage_reporter(bars)


def add_module_commands(group: click.Group, settings: Settings) -> None:
    for module in load_modules(settings.modules):
        if module.cli is not None:
            if module.cli.name != module.name:
                raise ModuleError(
                    f"module {module.name}: cli group is named {module.cli.name!r}, "
                    f"must be {module.name!r}"
                )
            group.add_command(module.cli)
    for service in load_services(settings.services):
        for command in service.commands:
            group.add_command(command)


def main() -> None:
    try:
        settings = load_settings()
        add_module_commands(cli, settings)
        cli(obj=settings, standalone_mode=True)
    except (SettingsError, RegistryError, ModuleError) as exc:
        console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        sys.exit(2)
