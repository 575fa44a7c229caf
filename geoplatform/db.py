"""The one place that knows how to talk to PostGIS: the engine, connections, database creation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from sqlalchemy import Engine, MetaData, create_engine, event, make_url
from sqlalchemy.engine import Connection

from geoplatform.circuit import DatabaseCircuit
from geoplatform.config import Settings
from geoplatform.reads import session_options

# Stable constraint and index names, so Alembic migrations and the models agree.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def make_metadata(schema: str) -> MetaData:
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def make_engine(settings: Settings, *, circuit: DatabaseCircuit | None = None) -> Engine:
    """One engine per process; pre-ping so a restarted database does not fail the next request.

    With a ``circuit`` (the web platform's) the engine serves requests: its connections carry
    the request timeouts, a checkout waits ``db_pool_timeout`` at most, and while the circuit is
    open no connection is attempted. Without one (loads, imports, migrations) statements may
    run as long as they need."""
    connect_args: dict[str, object] = {
        "application_name": "geoplatform",
        "connect_timeout": settings.db_connect_timeout,
    }
    if circuit is not None:
        connect_args.update(session_options(settings.request_session))
    engine = create_engine(
        settings.sqlalchemy_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
        pool_timeout=settings.db_pool_timeout if circuit is not None else 30.0,
        connect_args=connect_args,
    )
    if circuit is not None:
        _guard(engine, circuit)
    return engine


def _guard(engine: Engine, circuit: DatabaseCircuit) -> None:
    @event.listens_for(engine, "do_connect")
    def refuse_while_open(dialect, conn_rec, cargs, cparams):
        circuit.check()

    @event.listens_for(engine, "handle_error")
    def note_failure(context):
        circuit.failed(context.original_exception)


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """A connection inside one transaction: committed on success, rolled back on any error."""
    with engine.begin() as conn:
        yield conn


def ensure_database(database_url: str) -> bool:
    """Create the database named in the URL if it does not exist; return True when created."""
    url = make_url(database_url)
    name = url.database
    maintenance = url.set(drivername="postgresql", database="postgres")
    conninfo = maintenance.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def drop_database(database_url: str) -> None:
    """Drop the database named in the URL (used by the test session for its throwaway database)."""
    url = make_url(database_url)
    maintenance = url.set(drivername="postgresql", database="postgres")
    conninfo = maintenance.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(url.database))
        )
