"""The feature API as the clients people use read it, unchanged, over HTTP: GDAL's OGC API -
Features driver (through pyogrio, as QGIS and ogr2ogr use it) and OWSLib, each checked against
what SQL says the database holds.

GDAL establishes a layer's schema from the OpenAPI document (the largest ``limit``), the
collection (``storageCrs``, so it asks for EPSG:4490 in latitude, longitude order and turns it
back) and a first page of 20 features, then reads pages of up to 1000 by following ``next``.

GDAL runs in a child process: pyogrio holds the GIL while GDAL fetches a layer's pages, so the
live server's threads, in this process, could never answer it.
"""

from __future__ import annotations

import math
import multiprocessing
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from urllib.parse import parse_qs

import geopandas
import pyogrio
import pytest
import shapely
from owslib.ogcapi.features import Features
from sqlalchemy import text

from geoplatform.features.params import queryable_properties
from tests.features.live_server import serve

CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
GEOJSON = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson"
VADUZ = (9.50, 47.12, 9.54, 47.15)
ROADS_BLOCK = (9.52, 47.14, 9.53, 47.145)
# The server writes 7 decimals of a degree (about 1 cm).
DEGREE_TOLERANCE = 1e-7
# GDAL types a layer's fields from its first 20 features: base.pois starts with OSM ids that fit
# 32 bits, later ones do not, and GDAL warns as it clamps them (see the osm_id test below).
POIS_OSM_ID_OVERFLOW = r"Field base\.pois\.osm_id: integer overflow"
GDAL_TIMEOUT = 120

FEATURES_SQL = "SELECT id, ST_AsBinary(geom) FROM {table} ORDER BY id"
INTERSECTING_SQL = (
    "SELECT id FROM {table} WHERE ST_Intersects(geom, ST_MakeEnvelope(:w, :s, :e, :n, 4490))"
)


def database_features(engine, table: str) -> geopandas.GeoSeries:
    with engine.connect() as conn:
        rows = conn.execute(text(FEATURES_SQL.format(table=table))).all()
    ids, wkb = zip(*rows, strict=True)
    return geopandas.GeoSeries(shapely.from_wkb(wkb), index=list(ids), crs=4490)


def intersecting_ids(engine, table: str, bbox: tuple[float, ...]) -> set[int]:
    corners = dict(zip("wsen", bbox, strict=True))
    with engine.connect() as conn:
        return set(conn.execute(text(INTERSECTING_SQL.format(table=table)), corners).scalars())


def count(engine, sql: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


def public_collection_ids(demo_app) -> list[str]:
    return [layer.id for layer in demo_app.extensions["geoplatform"].registry if layer.is_public]


class RequestLog:
    """WSGI middleware that remembers the path and query of every request it passes on."""

    def __init__(self, app) -> None:
        self.app = app
        self.requests: list[tuple[str, dict[str, list[str]]]] = []

    def __call__(self, environ, start_response):
        self.requests.append((environ["PATH_INFO"], parse_qs(environ["QUERY_STRING"])))
        return self.app(environ, start_response)


def gdal_layers(url: str) -> list[tuple[str, str]]:
    """(name, geometry type) of each layer GDAL finds."""
    return [tuple(layer) for layer in pyogrio.list_layers(f"OAPIF:{url}")]


def gdal_read(url: str, layer: str, **options) -> geopandas.GeoDataFrame:
    """The layer read with pyogrio (feature ids as the index); ``options`` as pyogrio takes them:
    ``columns``, ``bbox`` and the driver's open options."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", POIS_OSM_ID_OVERFLOW, RuntimeWarning)
        return pyogrio.read_dataframe(f"OAPIF:{url}", layer=layer, fid_as_index=True, **options)


@pytest.fixture(scope="module")
def gdal() -> Iterator[Callable]:
    """Calls a function of this module in a child process, where GDAL runs."""
    assert "OAPIF" in pyogrio.list_drivers(), (
        f"GDAL {pyogrio.__gdal_version_string__} bundled with pyogrio {pyogrio.__version__} "
        "has no OAPIF (OGC API - Features) driver"
    )
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as child:

        def call(function: Callable, *args, **kwargs):
            return child.submit(function, *args, **kwargs).result(timeout=GDAL_TIMEOUT)

        yield call


@pytest.fixture(scope="module")
def owslib(live_url) -> Features:
    return Features(f"{live_url}/", timeout=60)


def test_gdal_lists_exactly_the_public_collections(gdal, live_url, demo_app, client):
    layers = gdal(gdal_layers, live_url)
    served = [c["id"] for c in client.get("/collections").json["collections"]]
    assert [name for name, _ in layers] == served
    assert sorted(served) == sorted(public_collection_ids(demo_app))
    geometry_types = dict(layers)
    assert geometry_types["base.buildings"] == "MultiPolygon"
    assert geometry_types["base.pois"] == "Point"


@pytest.mark.parametrize("layer_id", ["base.buildings", "base.pois"])
def test_gdal_reads_every_feature_as_the_database_holds_it(gdal, live_url, demo_engine, layer_id):
    frame = gdal(gdal_read, live_url, layer_id, columns=[])
    stored = database_features(demo_engine, layer_id)
    assert len(frame) == len(stored) == count(demo_engine, f"SELECT count(*) FROM {layer_id}")
    assert sorted(frame.index) == list(stored.index)
    assert frame.crs.to_epsg() == 4490
    received = frame.geometry.sort_index()
    assert received.geom_equals_exact(stored, tolerance=DEGREE_TOLERANCE, align=False).all()


def test_gdal_pages_through_next_links_within_the_largest_limit(gdal, demo_app, demo_engine):
    maximum = demo_app.extensions["geoplatform"].settings.features_max_limit
    log = RequestLog(demo_app)
    with serve(log) as url:
        frame = gdal(gdal_read, url, "base.buildings", columns=[])
    stored = count(demo_engine, "SELECT count(*) FROM base.buildings")
    assert len(frame) == frame.index.nunique() == stored
    pages = [query for path, query in log.requests if path == "/collections/base.buildings/items"]
    probe, *reads = pages
    assert probe["limit"] == ["20"]  # the first page GDAL takes the schema from
    (page_size,) = {int(query["limit"][0]) for query in reads}
    assert 1 < page_size <= maximum
    assert len(reads) == math.ceil(stored / page_size)
    offsets = [int(query.get("offset", ["0"])[0]) for query in reads]
    assert offsets == list(range(0, stored, page_size))


def test_gdal_reads_the_whole_layer_in_one_page_of_the_largest_limit(
    gdal, live_url, demo_app, demo_engine
):
    maximum = demo_app.extensions["geoplatform"].settings.features_max_limit
    frame = gdal(gdal_read, live_url, "base.buildings", columns=[], PAGE_SIZE=maximum)
    assert len(frame) == count(demo_engine, "SELECT count(*) FROM base.buildings")


@pytest.mark.parametrize(
    ("layer_id", "bbox"), [("base.buildings", VADUZ), ("base.roads", ROADS_BLOCK)]
)
def test_gdal_bbox_reads_what_intersects_the_envelope(gdal, live_url, demo_engine, layer_id, bbox):
    frame = gdal(gdal_read, live_url, layer_id, columns=[], bbox=bbox)
    expected = intersecting_ids(demo_engine, layer_id, bbox)
    assert expected
    assert set(frame.index) == expected
    assert len(frame) == len(expected)


def test_gdal_reads_64_bit_osm_ids_when_its_first_page_shows_them(gdal, live_url, demo_engine):
    # The workaround for the clamped ids above: a first page as large as the others, so GDAL
    # sees the large ids before it fixes the field's type.
    frame = gdal(
        gdal_read, live_url, "base.pois", columns=["osm_id"], INITIAL_REQUEST_PAGE_SIZE=1000
    )
    with demo_engine.connect() as conn:
        stored = dict(conn.execute(text("SELECT id, osm_id FROM base.pois")).all())
    assert max(stored.values()) >= 2**31
    assert frame["osm_id"].to_dict() == stored


def test_owslib_lists_the_public_collections(owslib, demo_app):
    collections = owslib.collections()["collections"]
    assert sorted(c["id"] for c in collections) == sorted(public_collection_ids(demo_app))
    assert sorted(owslib.feature_collections()) == sorted(public_collection_ids(demo_app))
    pois = owslib.collection("base.pois")
    assert pois["id"] == "base.pois"
    assert pois["crs"][0] == "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    assert {link["rel"] for link in pois["links"]} >= {"self", "items"}


def test_owslib_conformance_declares_core_and_geojson(owslib):
    assert {CORE, GEOJSON} <= set(owslib.conformance()["conformsTo"])


@pytest.mark.parametrize("limit", [7, 10000])
def test_owslib_bbox_items_match_sql(owslib, demo_engine, limit):
    expected = intersecting_ids(demo_engine, "base.buildings", VADUZ)
    page = owslib.collection_items("base.buildings", bbox=list(VADUZ), limit=limit)
    assert page["type"] == "FeatureCollection"
    assert page["numberMatched"] == len(expected)
    assert page["numberReturned"] == len(page["features"]) == min(limit, len(expected))
    assert {feature["id"] for feature in page["features"]} <= expected
    if limit >= len(expected):
        assert {feature["id"] for feature in page["features"]} == expected


def test_owslib_filters_with_cql2_text(owslib, demo_engine):
    page = owslib.collection_items("base.buildings", filter="levels >= 5", limit=1)
    assert page["numberMatched"] == count(
        demo_engine, "SELECT count(*) FROM base.buildings WHERE levels >= 5"
    )


def test_owslib_reads_one_feature(owslib, demo_engine):
    with demo_engine.connect() as conn:
        fid, x, y = conn.execute(
            text("SELECT id, ST_X(geom), ST_Y(geom) FROM base.pois ORDER BY id LIMIT 1")
        ).one()
    feature = owslib.collection_item("base.pois", str(fid))
    assert feature["id"] == fid
    assert feature["geometry"]["coordinates"] == pytest.approx([x, y], abs=DEGREE_TOLERANCE)


def test_owslib_queryables_name_the_declared_properties(owslib, demo_app):
    layer = demo_app.extensions["geoplatform"].registry.get("base.buildings")
    queryables = owslib.collection_queryables("base.buildings")
    expected = {"geometry", *(p.name for p in queryable_properties(layer))}
    assert set(queryables["properties"]) == expected
    assert queryables["properties"]["geometry"]["x-ogc-role"] == "primary-geometry"
