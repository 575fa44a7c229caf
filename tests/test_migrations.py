"""Migrations: the core's history and each module's branch, up, down to nothing and up again on
an empty database; every module's models describe exactly what its migrations build."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from geoplatform import migrate, models
from geoplatform.config import load_settings
from geoplatform.db import make_engine
from geoplatform.modules import load_modules

MODULES = load_modules(load_settings().modules)
# Every schema the platform's tables live in: the core's and each module's.
METADATA = [models.metadata, *(m.metadata for m in MODULES if m.metadata is not None)]


def tables(engine, schema: str) -> set[str]:
    return (
        set(inspect(engine).get_table_names(schema=schema))
        if schema in inspect(engine).get_schema_names()
        else set()
    )


def declared(metadata) -> set[str]:
    return {table.name for table in metadata.tables.values()}


def test_upgrade_downgrade_upgrade(make_database):
    settings = make_database("migrations", revision=None)
    engine = make_engine(settings)
    migrate.upgrade(settings)
    for metadata in METADATA:
        assert tables(engine, metadata.schema) == declared(metadata), metadata.schema
    assert migrate.current_revisions(engine) == migrate.head_revisions(settings)

    migrate.downgrade(settings, "base")
    for metadata in METADATA:
        assert tables(engine, metadata.schema) == set(), metadata.schema
    assert migrate.current_revisions(engine) == frozenset()

    migrate.upgrade(settings)
    for metadata in METADATA:
        assert tables(engine, metadata.schema) == declared(metadata), metadata.schema
    engine.dispose()


def test_upgrade_syncs_the_departments_modules_declare(make_database):
    settings = make_database("departments")
    engine = make_engine(settings)
    with engine.connect() as conn:
        rows = {
            code: (zh, en)
            for code, zh, en in conn.execute(
                text("SELECT code, name_zh, name_en FROM platform.departments")
            )
        }
    engine.dispose()
    for module in MODULES:
        for department in module.departments:
            assert rows[department.code] == (department.name_zh, department.name_en)


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
    base = next(m for m in METADATA if m.schema == "base")
    assert {r.relname for r in rows} == declared(base)
    assert all(r.attgenerated == "s" and r.indexed for r in rows)


def test_models_match_migrations(make_database):
    """The SQLAlchemy tables the code uses describe exactly what the migrations build."""
    engine = make_engine(make_database("models"))
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_schemas": True, "compare_type": True}
        )
        for metadata in METADATA:
            diff = [
                d for d in compare_metadata(context, metadata) if _in_schema(d, metadata.schema)
            ]
            assert diff == [], metadata.schema
    engine.dispose()


def _in_schema(difference, schema: str) -> bool:
    """Whether an autogenerate difference concerns ``schema`` (other schemas have other models)."""
    kind, subject = difference[0], difference[1]
    if kind == "remove_table":
        return subject.schema == schema
    if kind == "remove_index":
        return subject.table.schema == schema
    return True
