"""The public tile front: the same answer as the Flask route, and only for what it may answer."""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from geoplatform.app import create_app
from geoplatform.db import transaction
from geoplatform.keys import create_key
from tests.tileserver.test_tiles import SCHAAN, VADUZ, tile_at
from tileserver.front import PublicTileFront

# Headers the two paths may differ in without a client noticing.
IGNORED = {"Date", "Server"}


class CountingApp:
    """The Flask app behind the front, counting the requests the front passed on."""

    def __init__(self, app) -> None:
        self.app = app
        self.calls = 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.app(environ, start_response)


@pytest.fixture
def front(demo_app):
    """The demo app's front with a counter between it and Flask."""
    front = demo_app.wsgi_app
    assert isinstance(front, PublicTileFront)
    counting = CountingApp(front.app)
    front.app = counting
    try:
        yield front, counting
    finally:
        front.app = counting.app


def answer(response) -> tuple:
    headers = sorted((k, v) for k, v in response.headers.items() if k not in IGNORED)
    return response.status_code, headers, response.data


def compare(front, counting, path: str, headers: dict) -> tuple:
    """The front's answer, after checking Flask's own route answers exactly the same."""
    through_front = Client(front).get(path, headers=headers)
    assert counting.calls == 0, f"{path} went on to Flask"
    through_flask = Client(counting.app).get(path, headers=headers)
    assert answer(through_front) == answer(through_flask)
    return answer(through_front)


# The XYZ route and the OGC API Tiles route (row before column) to the same tile.
TILE_PATHS = {
    "xyz": "/tiles/{layers}/{z}/{x}/{y}.mvt",
    "ogc": "/collections/{layers}/tiles/WebMercatorQuad/{z}/{y}/{x}",
}


@pytest.mark.parametrize(
    ("route", "layers", "place", "z"),
    [
        ("xyz", "base.roads,base.buildings,base.water,base.landuse,base.pois", VADUZ, 14),
        ("xyz", "base.buildings", SCHAAN, 16),
        ("xyz", "base.roads", VADUZ, 10),
        ("ogc", "base.roads", VADUZ, 14),
        ("ogc", "base.buildings", VADUZ, 16),
    ],
)
def test_answers_exactly_as_the_flask_route(front, route, layers, place, z):
    front, counting = front
    z, x, y = tile_at(place, z)
    path = TILE_PATHS[route].format(layers=layers, z=z, x=x, y=y)
    status, headers, plain = compare(front, counting, path, {})
    assert status == 200 and dict(headers)["Content-Type"] == "application/vnd.mapbox-vector-tile"
    assert plain
    status, headers, zipped = compare(front, counting, path, {"Accept-Encoding": "gzip, br"})
    assert status == 200 and dict(headers)["Content-Encoding"] == "gzip"
    etag = dict(headers)["ETag"]
    revalidate = {"If-None-Match": f'W/"x", {etag}', "Accept-Encoding": "gzip"}
    status, _, body = compare(front, counting, path, revalidate)
    assert status == 304 and body == b""
    # The gzipped tile's ETag does not validate the decompressed tile.
    status, _, body = compare(front, counting, path, {"If-None-Match": etag})
    assert status == 200 and body == plain
    # Either route, the same tile.
    xyz_path = TILE_PATHS["xyz"].format(layers=layers, z=z, x=x, y=y)
    xyz = Client(front).get(xyz_path, headers={"Accept-Encoding": "gzip"})
    assert xyz.data == zipped and xyz.headers["ETag"] == etag


def test_empty_tile_is_the_same_204(front):
    front, counting = front
    status, headers, body = compare(front, counting, "/tiles/base.roads/16/0/0.mvt", {})
    assert status == 204 and body == b""
    assert dict(headers)["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        # What only Flask answers: errors, other layers, callers with a key, other requests.
        ("/tiles/base.roads/25/0/0.mvt", {}, 400),
        ("/tiles/base.roads/3/8/0.mvt", {}, 400),
        ("/tiles/base.nothing/{tile}.mvt", {}, 404),
        ("/tiles/base.roads,base.roads/{tile}.mvt", {}, 200),
        ("/tiles/base.roads/{tile}.mvt?v=2", {}, 200),
        ("/tiles/base.roads/{tile}.mvt", {"X-API-Key": "gp_not_a_key"}, 401),
        ("/tiles/base.roads/{tile}.mvt", {"Authorization": "Bearer gp_nope"}, 401),
        ("/tiles/%20base.roads/{tile}.mvt", {}, 200),
        ("/tiles/base.roads/{tile}.json", {}, 404),
        ("/collections/base.roads/tiles/WebMercatorQuad/3/0/8", {}, 400),
        ("/collections/base.nothing/tiles/WebMercatorQuad/{ogc}", {}, 404),
        ("/collections/pipeline.water_pipes/tiles/WebMercatorQuad/{ogc}", {}, 404),
        ("/collections/base.roads/tiles/WebMercatorQuad/{ogc}?f=mvt", {}, 200),
        ("/collections/base.roads/tiles/WebMercatorQuad/{ogc}", {"X-API-Key": "gp_no"}, 401),
        ("/collections/base.roads/tiles/OtherQuad/{ogc}", {}, 404),
    ],
)
def test_passes_everything_else_to_flask(front, path, headers, status):
    front, counting = front
    z, x, y = tile_at(VADUZ, 14)
    path = path.replace("{tile}", f"{z}/{x}/{y}").replace("{ogc}", f"{z}/{y}/{x}")
    response = Client(front).get(path, headers=headers)
    assert counting.calls == 1
    assert response.status_code == status, response.data


def test_pipeline_tiles_go_to_flask_and_stay_closed_to_anonymous_callers(front, demo_engine):
    front, counting = front
    z, x, y = tile_at(VADUZ, 14)
    for layers in ("pipeline.water_pipes", "base.roads,pipeline.gas_pipes"):
        response = Client(front).get(f"/tiles/{layers}/{z}/{x}/{y}.mvt")
        assert response.status_code == 404
        assert response.json == {
            "code": "NotFound",
            "description": f"no collection {layers.split(',')[-1]!r}",
        }
    assert counting.calls == 2
    with transaction(demo_engine) as conn:
        key = create_key(conn, "water_utility", "viewer", "tests")[1]
    keyed = Client(front).get(f"/tiles/base.roads/{z}/{x}/{y}.mvt", headers={"X-API-Key": key})
    assert keyed.status_code == 200 and counting.calls == 3
    assert Client(front).head(f"/tiles/base.roads/{z}/{x}/{y}.mvt").status_code == 200
    assert counting.calls == 4


def test_no_front_when_anonymous_callers_have_a_rate_limit(demo_settings, demo_load):
    limited = demo_settings.model_copy(update={"rate_limit_anonymous": "100 per minute"})
    app = create_app(limited)
    try:
        assert not isinstance(app.wsgi_app, PublicTileFront)
        z, x, y = tile_at(VADUZ, 14)
        assert app.test_client().get(f"/tiles/base.roads/{z}/{x}/{y}.mvt").status_code == 200
    finally:
        # Every pool and listener it opened, before the database is dropped under them.
        app.extensions["geoplatform"].close()
