"""``geoplatform parks ...``."""

from __future__ import annotations

import click
from sqlalchemy import text

from geoplatform.db import make_engine


@click.group("parks")
def parks_command() -> None:
    """The parks test module."""


@parks_command.command("count")
@click.pass_context
def count_command(ctx: click.Context) -> None:
    """Print how many parks there are."""
    engine = make_engine(ctx.find_root().obj)
    try:
        with engine.connect() as conn:
            click.echo(conn.execute(text("SELECT count(*) FROM parks.parks")).scalar_one())
    finally:
        engine.dispose()
