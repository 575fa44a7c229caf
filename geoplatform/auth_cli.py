"""``geoplatform auth``: departments and their API keys, each command in one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Connection

from geoplatform import keys
from geoplatform.auth import ROLES
from geoplatform.config import Settings, load_settings
from geoplatform.db import make_engine, transaction


@click.group("auth")
def auth() -> None:
    """Departments and their API keys."""


@auth.command("create-department")
@click.argument("code")
@click.option("--name-zh", required=True, help="Chinese name, e.g. 水务集团.")
@click.option("--name-en", required=True, help="English name, e.g. Water Utility Group.")
@click.pass_context
def create_department(ctx: click.Context, code: str, name_zh: str, name_en: str) -> None:
    """Add a department CODE (lower-case letters, digits, _) that keys and layers can name."""
    try:
        with _transaction(ctx) as conn:
            department = keys.create_department(conn, code, name_zh, name_en)
    except keys.InvalidDepartmentCode as exc:
        raise click.BadParameter(str(exc), param_hint="CODE") from None
    except keys.DepartmentExists as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"department {department.code} created: {department.name_zh} {department.name_en}")


@auth.command("create-key")
@click.option("--department", required=True, help="Code of the department the key acts for.")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the key may do.")
@click.option("--label", default="", help="Who or what uses the key, shown in list-keys.")
@click.pass_context
def create_key(ctx: click.Context, department: str, role: str, label: str) -> None:
    """Make an API key and print it on stdout, once: only its hash is stored."""
    try:
        with _transaction(ctx) as conn:
            record, key = keys.create_key(conn, department, role, label)
    except keys.UnknownDepartment as exc:
        raise click.BadParameter(str(exc), param_hint="--department") from None
    click.echo(
        f"created key {record.id} ({record.prefix}…) for {record.department} as {record.role}. "
        "This is the only time the key is shown; it is not stored, so keep it now:",
        err=True,
    )
    # The key alone on stdout, so that `KEY=$(geoplatform auth create-key ...)` captures it.
    click.echo(key)


@auth.command("revoke-key")
@click.argument("key")
@click.pass_context
def revoke_key(ctx: click.Context, key: str) -> None:
    """Revoke KEY, given by its id, its prefix from list-keys, or the key itself."""
    try:
        with _transaction(ctx) as conn:
            record = keys.revoke_key(conn, key)
    except (keys.UnknownKey, keys.AmbiguousKey) as exc:
        raise click.ClickException(str(exc)) from None
    settings = _settings(ctx)
    click.echo(
        f"key {record.id} ({record.prefix}…, {record.department}, {record.role}) revoked at "
        f"{_time(record.revoked_at)}; running workers refuse it within "
        f"{settings.api_key_cache_ttl:g} s"
    )


@auth.command("list-keys")
@click.pass_context
def list_keys(ctx: click.Context) -> None:
    """List keys by prefix with department, role, label and dates (never the keys themselves)."""
    with _transaction(ctx) as conn:
        records = keys.list_keys(conn)
    table = Table("id", "prefix", "department", "role", "label", "created", "last used", "revoked")
    for record in records:
        table.add_row(
            str(record.id),
            record.prefix,
            record.department,
            record.role,
            record.label,
            _time(record.created_at),
            _time(record.last_used_at),
            _time(record.revoked_at),
        )
    Console(width=160).print(table)


def _settings(ctx: click.Context) -> Settings:
    return ctx.find_root().obj or load_settings()


@contextmanager
def _transaction(ctx: click.Context) -> Iterator[Connection]:
    engine = make_engine(_settings(ctx))
    try:
        with transaction(engine) as conn:
            yield conn
    finally:
        engine.dispose()


def _time(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else ""
