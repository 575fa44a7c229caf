"""PostgreSQL stopped under a served platform: fail fast, keep cached tiles, recover by itself.

A private cluster of the test's own, the demo city loaded, ``geoplatform serve`` with two
workers on it, real HTTP. The cluster is stopped and started as an operator would."""

from __future__ import annotations

import os
import subprocess
import sys
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
from tests.pgcluster import PrivateCluster, free_port

GEOPLATFORM = str(Path(sys.executable).with_name("geoplatform"))
REPO_ROOT = Path(__file__).resolve().parent.parent
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
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        # A Redis database of its own: the cached tile must come from here, not another test.
        "REDIS_URL": "redis://127.0.0.1:6379/13",
        "GEOPLATFORM_WORKERS": "2",
    }
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(
            [GEOPLATFORM, "serve", "--port", str(port)],
            env=env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            with Client(f"http://127.0.0.1:{port}") as client:
                wait_ready(client, server, log)
                yield client
        finally:
            server.terminate()
            server.wait(20)


def wait_ready(client: Client, server: subprocess.Popen, log) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if client.get("/healthz").status_code == 200:
                return
        except requests.ConnectionError:
            pass
        if server.poll() is not None:
            log.seek(0)
            pytest.fail(f"server exited: {log.read().decode()}")
        assert time.monotonic() < deadline, "the server did not become ready"
        time.sleep(0.2)


class Client(requests.Session):
    """A keep-alive session on one base URL, as a department's system holds one."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    def get(self, path: str, **kwargs) -> requests.Response:  # type: ignore[override]
        return super().get(self.base + path, timeout=30, **kwargs)


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
