"""One throwaway database for the import's tests: the editable fixture layers (hydrants, points;
pressure zones, multipolygons) and the surveyed valves with their code list, an app over it whose
callers a test names in a header, and the files a test writes with geopandas."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import g, request
from sqlalchemy import text

from geoplatform.app import create_app
from geoplatform.auth import Principal
from geoplatform.db import make_engine
from geoplatform.platform import create_platform
from tests.fixtures import editable
from tests.imports import survey

# Small, so that the test of the limit need not send 200 MiB; above the global 1 MiB, so that
# an import of more than that shows the route keeps a limit of its own.
IMPORT_MAX_BYTES = 3 * 1024 * 1024


@dataclass(frozen=True)
class LayerSnapshot:
    """What a user checks to see whether an import changed a layer."""

    rows: int
    version: int | None


def _test_principal() -> None:
    # Stands in for an API key, "department:role:key_id", as in tests/features/test_edit.py.
    named = request.headers.get("X-Test-Principal")
    if named:
        department, role, key_id = named.split(":")
        g.principal = Principal(department, role, int(key_id))


@pytest.fixture(scope="package")
def settings(make_database):
    settings = make_database(
        "imports",
        modules=["base", "tests.fixtures.editable", "tests.imports.survey"],
        import_max_bytes=IMPORT_MAX_BYTES,
    )
    engine = make_engine(settings)
    editable.create_tables(engine)
    survey.create_tables(engine)
    engine.dispose()
    return settings


@pytest.fixture(scope="package")
def engine(settings):
    engine = make_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture(scope="package")
def platform(settings):
    platform = create_platform(settings)
    yield platform
    platform.close()


@pytest.fixture(scope="package")
def app(settings):
    app = create_app(settings)
    app.before_request_funcs.setdefault(None, []).append(_test_principal)
    yield app
    app.extensions["geoplatform"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def empty_layers(engine):
    """Every fixture layer emptied before the test, so that it counts from zero."""
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE editable.hydrants, editable.zones, survey.valves"))


def snapshot(engine, layer_id: str) -> LayerSnapshot:
    # Each fixture layer written to here has its table's name as its id.
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT count(*) FROM {layer_id}")).scalar_one()
    return LayerSnapshot(rows, layer_version(engine, layer_id))


def layer_version(engine, layer_id: str) -> int | None:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT version FROM platform.layer_state WHERE layer_id = :id"), {"id": layer_id}
        ).scalar_one_or_none()
