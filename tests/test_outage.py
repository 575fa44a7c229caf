"""PostgreSQL stopped under a served platform: fail fast, keep cached tiles, recover by itself.

A private cluster of the test's own, the demo city loaded, ``geoplatform serve`` with two
workers on it, real HTTP. The cluster is stopped and started as an operator would."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest
import requests

from geoplatform import migrate
from geoplatform.config import load_settings
from geoplatform.db import ensure_database, make_engine
from layers.base.load import load_osm
from tests.conftest import DEMO_OSM
from tests.pgcluster import PrivateCluster
from tests.served import Client, serve

# A Redis database of its own: the cached tile must come from here, not another test.
REDIS = "redis://127.0.0.1:6379/13"
TILE = "/tiles/base.roads,base.buildings/14/8625/5753.mvt"
OTHER_TILE = "/tiles/base.roads/14/8626/5753.mvt"
ITEMS = "/collections/base.roads/items?limit=5"


@pytest.fixture(scope="module")
def cluster():
    cluster = PrivateCluster(Path(tempfile.mkdtemp(prefix="gp-outage-")))
    cluster.init().start()
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="module")
def served(cluster):
    settings = load_settings(database_url=cluster.url("geoplatform"))
    ensure_database(settings.database_url)
    migrate.upgrade(settings, "head")
    engine = make_engine(settings)
    load_osm(engine, settings, DEMO_OSM)
    engine.dispose()
    with serve({"DATABASE_URL": settings.database_url, "REDIS_URL": REDIS}) as client:
        yield client


def timed(client: Client, path: str) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = client.get(path)
    return response, time.monotonic() - started


def test_an_outage_is_answered_fast_and_recovered_from(cluster, served):
    client = served
    warm = client.get(TILE)
    assert warm.status_code == 200
    for _ in range(4):  # both workers, so the tile is in Redis and either's memory
        assert client.get(TILE).status_code == 200
    assert client.get("/collections").status_code == 200

    cluster.stop()
    for path in ("/collections", ITEMS, "/collections/base.roads", OTHER_TILE, "/healthz"):
        for _ in range(3):
            response, seconds = timed(client, path)
            assert response.status_code == 503, (path, response.text)
            assert seconds < 1.0, (path, seconds)
            assert int(response.headers["Retry-After"]) >= 1
            assert "database" in response.json().get("reason", response.json().get("description"))
    for _ in range(6):
        cached, seconds = timed(client, TILE)
        assert cached.status_code == 200 and cached.content == warm.content
        assert seconds < 1.0
    assert client.get("/livez").status_code == 200

    # Keep asking during the outage, as clients do, then time the recovery.
    for _ in range(20):
        client.get(ITEMS)
    cluster.start()
    started = time.monotonic()
    while True:
        statuses = {client.get(path).status_code for path in ("/collections", ITEMS, OTHER_TILE)}
        if statuses == {200}:
            break
        assert time.monotonic() - started < 5.0, statuses
        time.sleep(0.1)
    for _ in range(6):  # every worker, not just the first to notice
        assert client.get(ITEMS).status_code == 200
    assert client.get("/healthz").json()["status"] == "ok"
