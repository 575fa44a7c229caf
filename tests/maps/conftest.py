"""The saved maps' app (the base layers and the internal fixture's) and keys to call it with."""

from __future__ import annotations

import uuid

import pytest

from geoplatform.app import create_app
from geoplatform.db import transaction
from geoplatform.keys import create_key

MODULES = ["base", "tests.fixtures.internal"]


@pytest.fixture(scope="module")
def client(demo_settings, demo_load):
    update = {"modules": MODULES, "rate_limit_key_prefix": f"gp_test_{uuid.uuid4().hex}"}
    app = create_app(demo_settings.model_copy(update=update))
    yield app.test_client()
    # Every pool and listener it opened, before the database is dropped under them.
    app.extensions["geoplatform"].close()


def auth(engine, department: str, role: str) -> dict:
    with transaction(engine) as conn:
        _record, key = create_key(conn, department, role, "tests")
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def water_editor(demo_engine):
    return auth(demo_engine, "water_utility", "editor")
