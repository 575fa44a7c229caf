"""Real PostGIS for every test: throwaway databases on the server DATABASE_URL points at."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, make_url, text

from geoplatform import migrate
from geoplatform.app import create_app
from geoplatform.config import DEFAULT_DATABASE_URL, DEFAULT_OSM_PATH, Settings, load_settings
from geoplatform.db import drop_database, ensure_database, make_engine
from geoplatform.modules import run_demos
from geoplatform.platform import create_platform
from layers.base.load import LoadSummary, load_osm

DEMO_OSM = DEFAULT_OSM_PATH
# Many tests send wrong keys from one address on purpose; the failed-authentication limit is
# tested where it is turned on (tests/test_auth_failures.py).
os.environ.setdefault("GEOPLATFORM_AUTH_FAILURES_PER_MINUTE", "0")
# The browser fixtures (site_url, browser, session) for every test of a page.
pytest_plugins = ("tests.browser",)


def _throwaway_url(label: str) -> str:
    server = make_url(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    name = f"gp_test_{label}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    return server.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def make_database() -> Iterator[Callable[..., Settings]]:
    """Factory: a new empty database (migrated to ``revision`` unless None), dropped at the end."""
    created: list[str] = []

    def factory(label: str = "db", revision: str | None = "head", **overrides) -> Settings:
        url = _throwaway_url(label)
        ensure_database(url)
        settings = load_settings(database_url=url, **overrides)
        created.append(url)
        if revision:
            migrate.upgrade(settings, revision)
        return settings

    yield factory
    for url in created:
        drop_database(url)


@pytest.fixture(scope="session")
def demo_settings(make_database) -> Settings:
    """A database with the demo city loaded once for the whole session (treat as read-only)."""
    return make_database("demo")


@pytest.fixture(scope="session")
def demo_load(demo_settings) -> LoadSummary:
    engine = make_engine(demo_settings)
    try:
        return load_osm(engine, demo_settings, DEMO_OSM)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def demo_engine(demo_settings, demo_load) -> Iterator[Engine]:
    engine = make_engine(demo_settings)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def demo_city(demo_settings, demo_load) -> None:
    """Every enabled module's demo on the session's demo database, as `geoplatform demo` runs
    them (for pages that show whatever the modules bring)."""
    load_every_demo(demo_settings)


def load_every_demo(settings: Settings) -> None:
    platform = create_platform(settings)
    try:
        for _module_and_summary in run_demos(platform):
            pass
    finally:
        platform.close()


@pytest.fixture(scope="session")
def demo_app(demo_settings, demo_load):
    app = create_app(demo_settings)
    yield app
    # Every pool and listener it opened, before the database is dropped under them.
    app.extensions["geoplatform"].close()


@pytest.fixture
def client(demo_app):
    return demo_app.test_client()


def count_rows(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
