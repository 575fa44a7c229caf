"""Links are built only for hosts the platform answers to, X-Forwarded-* only from trusted
proxies, and every answer that depends on the key says so in Cache-Control."""

from __future__ import annotations

import pytest

from geoplatform.app import create_app


@pytest.fixture
def app_with(demo_settings, demo_load):
    made = []

    def make(**settings):
        app = create_app(demo_settings.model_copy(update=settings))
        made.append(app)
        return app.test_client()

    yield make
    for app in made:
        app.extensions["geoplatform"].close()


def test_a_host_outside_the_allow_list_gets_a_400(app_with):
    client = app_with(allowed_hosts=["city.example", "city.example:8443"])
    refused = client.get("/collections", headers={"Host": "evil.example"})
    assert refused.status_code == 400
    answered = client.get("/tiles/base.roads.json", headers={"Host": "city.example:8443"})
    assert answered.status_code == 200
    assert answered.json["tiles"][0].startswith("http://city.example:8443/tiles/base.roads/")


def test_forwarded_headers_count_only_from_trusted_proxies(app_with):
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "maps.city.example"}
    ignored = app_with().get("/tiles/base.roads.json", headers=forwarded)
    assert ignored.json["tiles"][0].startswith("http://localhost/")
    believed = app_with(trusted_proxies=1).get("/tiles/base.roads.json", headers=forwarded)
    assert believed.json["tiles"][0].startswith("https://maps.city.example/")


@pytest.mark.parametrize(
    "path",
    ["/collections", "/tiles/base.roads.json", "/conformance", "/collections/base.roads/items"],
)
def test_answers_that_depend_on_the_key_are_private(client, path):
    # Each lists or shows what the caller may read: no shared cache may keep it, and a browser
    # asks again (the key may have been revoked since).
    response = client.get(path)
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert {"Authorization", "X-API-Key"} <= set(response.vary)


def test_a_public_tile_stays_shareable(client):
    response = client.get("/tiles/base.roads/14/8626/5751.mvt")
    assert response.headers["Cache-Control"].startswith("public")
