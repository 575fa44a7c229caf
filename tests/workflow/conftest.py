"""One migrated database for the workflow tests; each test's writes are rolled back at its end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from geoplatform.db import make_engine


@pytest.fixture(scope="session")
def workflow_engine(make_database) -> Iterator[Engine]:
    engine = make_engine(make_database("wf"))
    yield engine
    engine.dispose()


@pytest.fixture
def conn(workflow_engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back: the caller's transaction of the
    engine, as a module's view would hold it."""
    with workflow_engine.connect() as connection:
        outer = connection.begin()
        yield connection
        outer.rollback()
