"""Guessing keys from one address: past the limit the address is answered 429 before any key is
looked up, in every worker (the count is in Redis), and the same wrong key sent in a loop is
looked up once."""

from __future__ import annotations

import secrets
import uuid

import pytest
from sqlalchemy import event

from geoplatform.app import create_app
from geoplatform.db import transaction
from geoplatform.keys import create_key


@pytest.fixture
def guarded(demo_settings, demo_load):
    settings = demo_settings.model_copy(
        update={
            "auth_failures_per_minute": 5,
            "rate_limit_key_prefix": f"gp_test_{uuid.uuid4().hex}",
        }
    )
    apps = [create_app(settings), create_app(settings)]  # two workers, one Redis
    yield apps
    for app in apps:
        app.extensions["geoplatform"].close()


def lookups(app) -> list[str]:
    """Every statement the app's engine runs from now on."""
    seen: list[str] = []
    event.listen(
        app.extensions["geoplatform"].engine,
        "before_cursor_execute",
        lambda conn, cursor, statement, *args: seen.append(statement),
    )
    return seen


def random_key() -> str:
    return "gp_" + secrets.token_urlsafe(32)


def test_past_the_limit_an_address_is_refused_before_any_lookup(guarded, demo_engine):
    first, second = (app.test_client() for app in guarded)
    for client in (first, second, first, second, first):
        response = client.get("/collections", headers={"X-API-Key": random_key()})
        assert response.status_code == 401
    statements = lookups(guarded[1])
    refused = second.get("/collections", headers={"X-API-Key": random_key()})
    assert refused.status_code == 429
    assert refused.json["description"].startswith("too many failed authentications from 127.0.0.1")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert not any("api_keys" in s for s in statements)
    # A valid key from that address waits too: the lookups are what a guesser pays for.
    with transaction(demo_engine) as conn:
        key = create_key(conn, "water_utility", "viewer", "auth failures")[1]
    assert second.get("/collections", headers={"X-API-Key": key}).status_code == 429
    # Without a key the public view is still served.
    assert second.get("/collections").status_code == 200


def test_the_same_wrong_key_in_a_loop_is_looked_up_once(guarded):
    client = guarded[0].test_client()
    statements = lookups(guarded[0])
    wrong = random_key()
    for _ in range(3):
        assert client.get("/collections", headers={"X-API-Key": wrong}).status_code == 401
    assert sum("api_keys" in s for s in statements) == 1
