"""Apps of the gazetteer's tests: the base layers with internal and department-only layers
beside them, and API keys to call them with."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from geoplatform.app import create_app
from geoplatform.db import transaction
from geoplatform.keys import create_key

MODULES = ["base", "tests.fixtures.internal", "tests.search.cells"]


@pytest.fixture(scope="module")
def internal_client(demo_settings, demo_load) -> Iterator:
    """A client of an app that also serves the internal fixture's layers and the test grid."""
    update = {"modules": MODULES, "rate_limit_key_prefix": f"gp_test_{uuid.uuid4().hex}"}
    app = create_app(demo_settings.model_copy(update=update))
    try:
        yield app.test_client()
    finally:
        app.extensions["geoplatform"].close()


@pytest.fixture(scope="module")
def key_for(demo_engine) -> Callable[[str], dict[str, str]]:
    """Headers carrying a new viewer key of a department."""

    def headers(department: str) -> dict[str, str]:
        with transaction(demo_engine) as conn:
            key = create_key(conn, department, "viewer", "gazetteer tests")[1]
        return {"Authorization": f"Bearer {key}"}

    return headers
