"""Migrations: one linear history, up, down to nothing and up again on an empty database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from geoplatform import migrate, models
from geoplatform.db import make_engine
from layers.base import models as base_models
from layers.pipeline import models as pipeline_models

BASE_TABLES = {
    "admin_areas",
    "roads",
    "buildings",
    "water",
    "landuse",
    "pois",
    "places",
    "addresses",
}
PIPELINE_TABLES = {"networks", "pipes", "points", "maintenance", "service_lives"}


def tables(engine, schema: str) -> set[str]:
    return (
        set(inspect(engine).get_table_names(schema=schema))
        if schema in inspect(engine).get_schema_names()
        else set()
    )


def test_upgrade_downgrade_upgrade(make_database):
    settings = make_database("migrations", revision=None)
    engine = make_engine(settings)
    migrate.upgrade(settings)
    assert tables(engine, "base") == BASE_TABLES
    assert tables(engine, "platform") == {
        "layer_state",
        "city",
        "load_runs",
        "departments",
        "api_keys",
        "audit_log",
        "saved_maps",
    }
    assert tables(engine, "pipeline") == PIPELINE_TABLES
    assert migrate.current_revision(engine) == migrate.head_revision()

    migrate.downgrade(settings, "base")
    assert tables(engine, "base") == set()
    assert tables(engine, "platform") == set()
    assert tables(engine, "pipeline") == set()
    assert migrate.current_revision(engine) is None

    migrate.upgrade(settings)
    assert tables(engine, "base") == BASE_TABLES
    engine.dispose()


def test_generated_mercator_columns_have_gist_indexes(make_database):
    engine = make_engine(make_database("indexes"))
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                """SELECT c.relname, a.attname, a.attgenerated, i.indexrelid IS NOT NULL AS indexed
                     FROM pg_attribute a
                     JOIN pg_class c ON c.oid = a.attrelid
                     JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'base'
                     LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indkey[0] = a.attnum
                    WHERE a.attname = 'geom_3857' AND c.relkind = 'r'"""
            )
        ).all()
    engine.dispose()
    assert {r.relname for r in rows} == BASE_TABLES
    assert all(r.attgenerated == "s" and r.indexed for r in rows)


def test_models_match_migrations(make_database):
    """The SQLAlchemy tables the code uses describe exactly what the migrations build."""
    engine = make_engine(make_database("models"))
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_schemas": True, "compare_type": True}
        )
        for metadata in (models.metadata, base_models.metadata, pipeline_models.metadata):
            diff = [
                d for d in compare_metadata(context, metadata) if _in_schema(d, metadata.schema)
            ]
            assert diff == []
    engine.dispose()


def _in_schema(difference, schema: str) -> bool:
    """Whether an autogenerate difference concerns ``schema`` (other schemas have other models)."""
    kind, subject = difference[0], difference[1]
    if kind == "remove_table":
        return subject.schema == schema
    if kind == "remove_index":
        return subject.table.schema == schema
    return True
