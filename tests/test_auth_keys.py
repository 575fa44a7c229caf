"""API keys end to end: made once, stored as a hash, presented over HTTP, revoked, rate-limited."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from geoplatform.app import create_app
from geoplatform.cli import cli
from geoplatform.config import SettingsError, load_settings
from geoplatform.db import make_engine, transaction
from geoplatform.keys import authenticate, create_key, list_keys, revoke_key

INTERNAL_MODULES = ["base", "tests.fixtures.internal"]


@contextmanager
def platform_client(settings, **overrides) -> Iterator:
    """A test client of an app with the internal layers and its own rate-limit counters."""
    update = {
        "modules": INTERNAL_MODULES,
        "rate_limit_key_prefix": f"gp_test_{uuid.uuid4().hex}",
        **overrides,
    }
    app = create_app(settings.model_copy(update=update))
    try:
        yield app.test_client()
    finally:
        app.extensions["geoplatform"].close()


def new_key(engine, department: str = "water_utility", role: str = "viewer") -> str:
    with transaction(engine) as conn:
        return create_key(conn, department, role, "tests")[1]


def collection_ids(client, headers=None) -> set[str]:
    response = client.get("/collections", headers=headers or {})
    assert response.status_code == 200, response.json
    return {c["id"] for c in response.json["collections"]}


def test_a_new_key_is_returned_once_and_only_its_hash_is_stored(demo_engine):
    with transaction(demo_engine) as conn:
        record, key = create_key(conn, "gas_utility", "editor", "pipeline survey tablet")
    assert key.startswith("gp_") and len(key) == 46
    with demo_engine.connect() as conn:
        row = conn.execute(
            text("SELECT * FROM platform.api_keys WHERE id = :id"), {"id": record.id}
        ).one()
    assert key not in repr(tuple(row))
    assert row.hash == hashlib.sha256(key.encode()).hexdigest()
    assert (row.prefix, row.department, row.role) == (key[:8], "gas_utility", "editor")
    assert row.label == "pipeline survey tablet" and row.revoked_at is None


@pytest.mark.parametrize("style", ["Authorization", "X-API-Key"])
def test_a_department_key_sees_what_anonymous_callers_do_not(demo_settings, demo_engine, style):
    water, gas = new_key(demo_engine, "water_utility"), new_key(demo_engine, "gas_utility")

    def sent(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"} if style == "Authorization" else {style: key}

    with platform_client(demo_settings) as client:
        anonymous = collection_ids(client)
        assert "base.roads" in anonymous and "internal.roads" not in anonymous
        assert {"internal.roads", "internal.water_only"} <= collection_ids(client, sent(water))
        seen_by_gas = collection_ids(client, sent(gas))
        assert "internal.roads" in seen_by_gas and "internal.water_only" not in seen_by_gas
        assert (
            client.get("/collections/internal.water_only", headers=sent(water)).status_code == 200
        )

    with demo_engine.connect() as conn:
        used = {r.prefix: r.last_used_at for r in list_keys(conn)}
    assert used[water[:8]] is not None and used[gas[:8]] is not None


@pytest.mark.parametrize(
    ("headers", "description"),
    [
        ({"Authorization": "Bearer gp_" + "x" * 43}, "unknown or revoked API key"),
        ({"X-API-Key": "gp_" + "x" * 43}, "unknown or revoked API key"),
        ({"Authorization": "Bearer not-a-key"}, "malformed API key"),
        ({"Authorization": "Bearer "}, "malformed API key"),
        ({"X-API-Key": ""}, "malformed API key"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "the Authorization header must be"),
        (
            {"Authorization": "Bearer gp_" + "x" * 43, "X-API-Key": "gp_" + "y" * 43},
            "Authorization and X-API-Key carry different keys",
        ),
    ],
)
def test_bad_credentials_are_refused_not_treated_as_anonymous(demo_settings, headers, description):
    with platform_client(demo_settings) as client:
        response = client.get("/collections", headers=headers)
    assert response.status_code == 401
    assert response.json["code"] == "Unauthorized"
    assert response.json["description"].startswith(description)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_key_stops_working_within_the_cache_ttl(demo_settings, demo_engine):
    key = new_key(demo_engine)
    with platform_client(demo_settings, api_key_cache_ttl=1.5) as client:
        assert "internal.roads" in collection_ids(client, {"X-API-Key": key})
        with transaction(demo_engine) as conn:
            revoked = revoke_key(conn, key[:8])
        assert revoked.revoked_at is not None
        # Within the TTL this worker still trusts the key it verified a moment ago.
        assert client.get("/collections", headers={"X-API-Key": key}).status_code == 200
        time.sleep(1.6)
        response = client.get("/collections", headers={"X-API-Key": key})
    assert response.status_code == 401
    assert response.json["description"] == "unknown or revoked API key"


def test_without_a_cache_a_revoked_key_is_refused_at_once(demo_settings, demo_engine):
    key = new_key(demo_engine)
    with platform_client(demo_settings, api_key_cache_ttl=0) as client:
        assert client.get("/collections", headers={"X-API-Key": key}).status_code == 200
        with transaction(demo_engine) as conn:
            revoke_key(conn, key)
        assert client.get("/collections", headers={"X-API-Key": key}).status_code == 401


@pytest.fixture(scope="module")
def cli_settings(make_database):
    return make_database("auth_cli")


def run_cli(settings, *args):
    return CliRunner().invoke(cli, ["auth", *args], obj=settings)


def test_cli_creates_lists_and_revokes_keys(cli_settings):
    made = run_cli(cli_settings, "create-key", "--department", "water_utility", "--role", "editor")
    assert made.exit_code == 0, made.output
    key = made.stdout.strip()
    assert key.startswith("gp_") and len(key) == 46
    assert "only time the key is shown" in made.stderr and key not in made.stderr

    listing = run_cli(cli_settings, "list-keys")
    assert listing.exit_code == 0, listing.output
    assert key[:8] in listing.stdout and key not in listing.stdout
    assert "water_utility" in listing.stdout and "editor" in listing.stdout

    revoked = run_cli(cli_settings, "revoke-key", key[:8])
    assert revoked.exit_code == 0, revoked.output
    assert "revoked" in revoked.stdout
    engine = make_engine(cli_settings)
    try:
        with engine.connect() as conn:
            assert authenticate(conn, key) is None
    finally:
        engine.dispose()

    unknown = run_cli(cli_settings, "revoke-key", "gp_nope0")
    assert unknown.exit_code == 1
    assert "no API key with id, prefix or value 'gp_nope0'" in unknown.stderr


def test_cli_creates_a_department_its_keys_can_name(cli_settings):
    made = run_cli(
        cli_settings, "create-department", "housing", "--name-zh", "住建局", "--name-en", "Housing"
    )
    assert made.exit_code == 0, made.output
    key = run_cli(cli_settings, "create-key", "--department", "housing", "--role", "viewer")
    assert key.exit_code == 0, key.output

    again = run_cli(
        cli_settings, "create-department", "housing", "--name-zh", "住建局", "--name-en", "Housing"
    )
    assert again.exit_code == 1 and "department 'housing' exists" in again.stderr
    bad = run_cli(cli_settings, "create-department", "Bad-Code", "--name-zh", "x", "--name-en", "x")
    assert bad.exit_code == 2 and "must be lower-case letters" in bad.stderr


def test_cli_refuses_unknown_department_and_role_and_changes_nothing(cli_settings):
    engine = make_engine(cli_settings)
    with engine.connect() as conn:
        before = len(list_keys(conn))
    unknown = run_cli(cli_settings, "create-key", "--department", "tax", "--role", "viewer")
    assert unknown.exit_code == 2
    assert "unknown department 'tax'; departments: drainage_utility, emergency" in unknown.stderr
    bad_role = run_cli(cli_settings, "create-key", "--department", "gas_utility", "--role", "root")
    assert bad_role.exit_code == 2 and "'root' is not one of" in bad_role.stderr
    with engine.connect() as conn:
        assert len(list_keys(conn)) == before
    engine.dispose()


def test_a_key_over_its_limit_gets_429_with_retry_after(demo_settings, demo_engine):
    key, other = new_key(demo_engine), new_key(demo_engine)
    with platform_client(demo_settings, rate_limit="3 per minute") as client:
        for _ in range(3):
            assert client.get("/collections", headers={"X-API-Key": key}).status_code == 200
        refused = client.get("/collections", headers={"X-API-Key": key})
        assert refused.status_code == 429
        assert refused.json["code"] == "TooManyRequests"
        assert refused.json["description"].startswith("rate limit of 3 per 1 minute exceeded")
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        # Counted per key, across endpoints; the health check and anonymous callers are not.
        assert client.get("/collections/base.roads", headers={"X-API-Key": key}).status_code == 429
        assert client.get("/collections", headers={"X-API-Key": other}).status_code == 200
        assert client.get("/healthz", headers={"X-API-Key": key}).status_code == 200
        assert all(client.get("/collections").status_code == 200 for _ in range(5))


def test_anonymous_callers_are_limited_by_ip_only_when_configured(demo_settings, demo_engine):
    key = new_key(demo_engine)
    with platform_client(demo_settings, rate_limit_anonymous="2 per minute") as client:
        assert [client.get("/collections").status_code for _ in range(3)] == [200, 200, 429]
        assert client.get("/collections", headers={"X-API-Key": key}).status_code == 200


def test_rate_limits_can_be_switched_off(demo_settings, demo_engine):
    key = new_key(demo_engine)
    with platform_client(
        demo_settings, rate_limit="1 per minute", rate_limit_enabled=False
    ) as client:
        assert all(
            client.get("/collections", headers={"X-API-Key": key}).status_code == 200
            for _ in range(3)
        )


def test_the_platform_keeps_serving_when_redis_is_down(demo_settings, demo_engine):
    key = new_key(demo_engine)
    with platform_client(
        demo_settings, redis_url="redis://127.0.0.1:1/0", rate_limit="3 per minute"
    ) as client:
        statuses = [
            client.get("/collections", headers={"X-API-Key": key}).status_code for _ in range(4)
        ]
        assert client.get("/collections").status_code == 200
    # Each worker then counts in its own memory, so the limit still holds per worker.
    assert statuses == [200, 200, 200, 429]


def test_a_bad_rate_limit_setting_names_the_variable():
    with pytest.raises(SettingsError, match="GEOPLATFORM_RATE_LIMIT: Value error, must be a rate"):
        load_settings(rate_limit="lots")
