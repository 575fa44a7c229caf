"""``/auth/whoami``: the department and role the API takes a key for, nulls without a key."""

from __future__ import annotations

import pytest

from geoplatform.db import transaction
from geoplatform.keys import create_key, revoke_key

NOBODY = {"department": None, "department_name_zh": None, "department_name_en": None, "role": None}


@pytest.fixture
def water_editor_key(demo_engine) -> str:
    with transaction(demo_engine) as conn:
        _record, key = create_key(conn, "water_utility", "editor", "tests")
    return key


def test_an_anonymous_caller_is_nobody(client):
    response = client.get("/auth/whoami")
    assert response.status_code == 200
    assert response.json == NOBODY
    assert response.headers["Cache-Control"] == "private, no-store"


@pytest.mark.parametrize("header", ["X-API-Key", "Authorization"])
def test_a_key_is_its_department_and_role(client, water_editor_key, header):
    value = water_editor_key if header == "X-API-Key" else f"Bearer {water_editor_key}"
    response = client.get("/auth/whoami", headers={header: value})
    assert response.status_code == 200
    assert response.json == {
        "department": "water_utility",
        "department_name_zh": "水务集团",
        "department_name_en": "Water Utility Group",
        "role": "editor",
    }
    assert response.headers["Cache-Control"] == "private, no-store"
    assert {"Authorization", "X-API-Key"} <= set(response.vary)


def test_a_viewer_of_another_department(client, demo_engine):
    with transaction(demo_engine) as conn:
        _record, key = create_key(conn, "gas_utility", "viewer", "tests")
    found = client.get("/auth/whoami", headers={"X-API-Key": key}).json
    assert (found["department"], found["role"]) == ("gas_utility", "viewer")


@pytest.mark.parametrize("key", ["not-a-key", "gp_" + "x" * 43])
def test_a_bad_key_is_refused(client, key):
    response = client.get("/auth/whoami", headers={"X-API-Key": key})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_key_is_refused(client, demo_engine):
    # Revoked before its first use, so no worker's key cache remembers it.
    with transaction(demo_engine) as conn:
        record, key = create_key(conn, "water_utility", "viewer", "tests")
        revoke_key(conn, record.id)
    response = client.get("/auth/whoami", headers={"X-API-Key": key})
    assert response.status_code == 401


def test_whoami_is_in_the_api_document(client):
    operation = client.get("/api").get_json(force=True)["paths"]["/auth/whoami"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert set(schema["required"]) == set(NOBODY)
    assert "401" in operation["responses"]
