"""Alembic environment: the database URL comes from geoplatform's settings, never from the ini."""

from __future__ import annotations

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, pool

from geoplatform import models
from geoplatform.config import load_settings
from geoplatform.modules import load_modules

config = context.config


def _modules():
    return config.attributes.get("modules") or load_modules(load_settings().modules)


def _target_metadata() -> list:
    """The core's tables and every enabled module's, so autogenerate drafts a module's revision
    from its models and a test can prove models and migrations agree."""
    return [models.metadata, *(m.metadata for m in _modules() if m.metadata is not None)]


def _include_object(obj, name, type_, reflected, compare_to):
    # Only the schemas the platform owns: PostGIS's and pgRouting's tables are not ours.
    schemas = {metadata.schema for metadata in _target_metadata()}
    table = obj if type_ == "table" else getattr(obj, "table", None)
    if table is not None and table.schema not in schemas:
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


def _url() -> str:
    return config.attributes.get("sqlalchemy_url") or load_settings().sqlalchemy_url


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is None:
        connectable = create_engine(_url(), poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=_target_metadata(),
            include_schemas=True,
            include_object=_include_object,
            process_revision_directives=alembic_helpers.writer,
            render_item=alembic_helpers.render_item,
            version_table_schema="public",
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run against a database")
run_migrations_online()
