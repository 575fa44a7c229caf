"""Vector tiles decoded and compared with PostGIS; HTTP behaviour; cache correctness; access."""

from __future__ import annotations

import gzip
import time

import mapbox_vector_tile
import morecantile
import numpy as np
import psycopg
import pytest
import shapely
from pyproj import Transformer
from shapely import box, wkb
from sqlalchemy import text

from geoplatform.app import create_app
from geoplatform.layer_state import record_change
from geoplatform.layer_versions import LayerVersions
from geoplatform.reads import ReadPool, libpq_url
from layers.base.layers import BUILDINGS, POIS, ROADS
from tileserver.cache import TileCache
from tileserver.mvt import BUFFER, EXTENT, pixel_size, tile_query
from tileserver.tiles import TileService

TMS = morecantile.tms.get("WebMercatorQuad")
VADUZ = (9.5209, 47.1410)
SCHAAN = (9.5095, 47.1650)
_mercator = Transformer.from_crs(4490, 3857, always_xy=True)


def to_mercator(geometry: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(
        geometry, lambda xy: np.column_stack(_mercator.transform(xy[:, 0], xy[:, 1]))
    )


def tile_at(lonlat, z):
    tile = TMS.tile(*lonlat, z)
    return tile.z, tile.x, tile.y


def decode(data: bytes) -> dict:
    return mapbox_vector_tile.decode(data)


def get_tile(client, layers: str, z, x, y, **headers):
    return client.get(f"/tiles/{layers}/{z}/{x}/{y}.mvt", headers=headers)


def source_features(engine, layer, z, x, y) -> dict[int, shapely.Geometry]:
    """Features whose geometry meets the tile grown by its buffer, in Web Mercator (pyproj)."""
    bounds = TMS.xy_bounds(morecantile.Tile(x, y, z))
    margin = (bounds.right - bounds.left) * BUFFER / EXTENT
    envelope = box(bounds.left, bounds.bottom, bounds.right, bounds.top).buffer(
        margin, join_style="mitre"
    )
    lon_lat = TMS.bounds(morecantile.Tile(x, y, z))
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                f"""SELECT id, ST_AsBinary(geom) AS geom, {
                    layer.class_minzoom.column if layer.class_minzoom else "NULL"
                } AS class
                      FROM {layer.table}
                     WHERE geom && ST_Expand(ST_MakeEnvelope(:w, :s, :e, :n, 4490), 0.01)"""
            ),
            {"w": lon_lat.left, "s": lon_lat.bottom, "e": lon_lat.right, "n": lon_lat.top},
        ).all()
    features = {}
    for row in rows:
        geometry = to_mercator(wkb.loads(row.geom))
        if not geometry.intersects(envelope):
            continue
        if not shown_at(layer, z, row[2]):
            continue
        features[row.id] = geometry.intersection(envelope)
    return features


def shown_at(layer, z: int, value) -> bool:
    """The declaration's per-value min zoom, restated for the test."""
    rule = layer.class_minzoom
    if rule is None:
        return True
    listed = {value for value, _ in rule.minzooms}
    if value in rule.visible_values(z):
        return True
    return rule.default <= z and (value is None or value not in listed)


def big_enough(layer, geometry, z) -> bool:
    """The declared minimum size, plus what survives simplification and the 4096 grid.

    Simplifying with a tolerance of ``simplify_px`` pixels may collapse a feature whose extent
    is within twice the tolerance (a roundabout at z10 becomes a there-and-back line, which
    the MVT encoder drops): that is generalisation too.
    """
    unit = pixel_size(z) * 256 / EXTENT
    west, south, east, north = geometry.bounds
    if max(east - west, north - south) < 2 * layer.simplify_px * pixel_size(z):
        return False
    if geometry.geom_type.endswith("Polygon"):
        return geometry.area >= max(layer.min_area_px * pixel_size(z) ** 2, 4 * unit**2)
    if geometry.geom_type.endswith("LineString"):
        return geometry.length >= max(layer.min_length_px * pixel_size(z), 2 * unit)
    return True


@pytest.mark.parametrize(
    ("layer", "place", "z"),
    [
        (ROADS, VADUZ, 10),
        (ROADS, VADUZ, 13),
        (ROADS, SCHAAN, 16),
        (BUILDINGS, VADUZ, 14),
        (BUILDINGS, SCHAAN, 16),
        (POIS, VADUZ, 15),
    ],
)
def test_tile_ids_equal_the_features_meeting_the_tile(client, demo_engine, layer, place, z):
    z, x, y = tile_at(place, z)
    response = get_tile(client, layer.id, z, x, y)
    assert response.status_code == 200
    decoded = decode(response.data)
    tile_ids = {f["id"] for f in decoded[layer.id]["features"]}
    expected = source_features(demo_engine, layer, z, x, y)
    assert tile_ids <= set(expected)
    missing = {i for i in set(expected) - tile_ids if big_enough(layer, expected[i], z)}
    assert missing == set()
    assert len(tile_ids) > 5


@pytest.mark.parametrize("layer", [ROADS, BUILDINGS])
def test_geometries_within_one_pixel(client, demo_engine, layer):
    z, x, y = tile_at(SCHAAN, 16)
    decoded = decode(get_tile(client, layer.id, z, x, y).data)
    bounds = TMS.xy_bounds(morecantile.Tile(x, y, z))
    scale = (bounds.right - bounds.left) / EXTENT
    expected = source_features(demo_engine, layer, z, x, y)
    compared = 0
    for feature in decoded[layer.id]["features"]:
        geometry = shapely.geometry.shape(feature["geometry"])
        geometry = shapely.affinity.affine_transform(
            geometry, [scale, 0, 0, scale, bounds.left, bounds.bottom]
        )
        source = expected[feature["id"]]
        assert geometry.hausdorff_distance(source) <= pixel_size(z), feature["id"]
        compared += 1
    assert compared > 10


def test_composite_has_one_layer_per_id_and_zoom_dependent_properties(client):
    z, x, y = tile_at(VADUZ, 11)
    low = decode(get_tile(client, "base.roads,base.water,base.admin_areas", z, x, y).data)
    assert set(low) == {"base.roads", "base.water", "base.admin_areas"}
    low_road = low["base.roads"]["features"][0]["properties"]
    assert "maxspeed" not in low_road and "class" in low_road
    z, x, y = tile_at(VADUZ, 16)
    high = decode(get_tile(client, "base.roads", z, x, y).data)
    assert "maxspeed" in high["base.roads"]["features"][0]["properties"]


def test_low_zoom_shows_major_roads_only(client, demo_engine):
    z, x, y = tile_at(VADUZ, 8)
    classes = {
        f["properties"]["class"]
        for f in decode(get_tile(client, "base.roads", z, x, y).data)["base.roads"]["features"]
    }
    assert classes and classes <= {"motorway", "trunk", "motorway_link", "trunk_link", "primary"}


def test_http_caching_headers_gzip_and_cors(client):
    z, x, y = tile_at(VADUZ, 14)
    plain = get_tile(client, "base.buildings", z, x, y)
    zipped = get_tile(client, "base.buildings", z, x, y, **{"Accept-Encoding": "gzip"})
    assert plain.content_type == "application/vnd.mapbox-vector-tile"
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == plain.data
    assert plain.headers["Cache-Control"] == "public, max-age=60"
    assert plain.headers["Access-Control-Allow-Origin"] == "*"
    etag = plain.headers["ETag"]
    # Two representations, two strong validators (RFC 9110, 8.8.3).
    assert zipped.headers["ETag"] != etag and etag.endswith('-identity"')
    again = get_tile(client, "base.buildings", z, x, y, **{"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag
    gzip_etag = {"If-None-Match": zipped.headers["ETag"], "Accept-Encoding": "gzip"}
    assert get_tile(client, "base.buildings", z, x, y, **gzip_etag).status_code == 304
    # A validator of the gzipped tile does not validate the decompressed one, nor the reverse.
    crossed = get_tile(
        client, "base.buildings", z, x, y, **{"If-None-Match": gzip_etag["If-None-Match"]}
    )
    assert crossed.status_code == 200 and crossed.data == plain.data
    crossed = get_tile(
        client, "base.buildings", z, x, y, **{"If-None-Match": etag, "Accept-Encoding": "gzip"}
    )
    assert crossed.status_code == 200 and crossed.headers["Content-Encoding"] == "gzip"
    other = get_tile(client, "base.buildings", z, x, y, **{"If-None-Match": '"stale"'})
    assert other.status_code == 200
    # "*" names whatever tile is current (RFC 9110, 13.1.2).
    star = get_tile(client, "base.buildings", z, x, y, **{"If-None-Match": "*"})
    assert star.status_code == 304 and star.headers["ETag"] == etag


def test_ogc_tile_equals_xyz_tile(client):
    z, x, y = tile_at(VADUZ, 14)
    xyz = get_tile(client, "base.roads", z, x, y)
    ogc = client.get(f"/collections/base.roads/tiles/WebMercatorQuad/{z}/{y}/{x}")
    assert ogc.status_code == 200 and ogc.data == xyz.data


@pytest.mark.parametrize(
    ("path", "status", "description"),
    [
        ("/tiles/base.roads/25/0/0.mvt", 400, "zoom 25 is outside 0..24"),
        (
            "/tiles/base.roads/2/4/1.mvt",
            400,
            "tile 2/4/1 is outside the matrix: x and y must be 0..3",
        ),
        ("/tiles/base.roads/2/1/-1.mvt", 400, "tile 2/1/-1 is outside the matrix"),
        ("/tiles/base.roads/z/1/1.mvt", 400, "tile z/1/1: z, x and y must be integers"),
        ("/tiles/base.rivers/2/1/1.mvt", 404, "no collection 'base.rivers'"),
        ("/tiles/base.roads,nope/2/1/1.mvt", 404, "no collection 'nope'"),
        ("/tiles/base.roads,/2/1/1.mvt", 400, "malformed layer list 'base.roads,'"),
    ],
)
def test_bad_tile_requests(client, path, status, description):
    response = client.get(path)
    assert response.status_code == status
    assert description in response.json["description"]


def test_empty_tile_is_204(client):
    assert get_tile(client, "base.buildings", 14, 0, 0).status_code == 204
    # Below the layer's min zoom the layer contributes nothing.
    z, x, y = tile_at(VADUZ, 10)
    assert get_tile(client, "base.buildings", z, x, y).status_code == 204


def test_changed_layer_changes_its_tiles_only(client, demo_engine):
    z, x, y = tile_at(VADUZ, 14)
    roads_before = get_tile(client, "base.roads", z, x, y).headers["ETag"]
    buildings_before = get_tile(client, "base.buildings", z, x, y).headers["ETag"]
    both_before = get_tile(client, "base.roads,base.buildings", z, x, y).headers["ETag"]
    service = client.application.blueprints["tiles"].tile_service
    assert service.versions.wait_live(10), "the version listener never connected"
    with demo_engine.begin() as conn:
        record_change(conn, ROADS)
    # The commit reaches the listener as a notification, a moment after the commit returns.
    roads_etag = lambda: get_tile(client, "base.roads", z, x, y).headers["ETag"]  # noqa: E731
    assert eventually(lambda: roads_etag() != roads_before)
    assert get_tile(client, "base.roads,base.buildings", z, x, y).headers["ETag"] != both_before
    assert get_tile(client, "base.buildings", z, x, y).headers["ETag"] == buildings_before


def test_rolled_back_change_keeps_the_tiles(client, demo_engine):
    z, x, y = tile_at(VADUZ, 14)
    service = client.application.blueprints["tiles"].tile_service
    assert service.versions.wait_live(10)
    before = get_tile(client, "base.roads", z, x, y).headers["ETag"]
    with demo_engine.connect() as conn, conn.begin() as transaction:
        record_change(conn, ROADS)
        transaction.rollback()
    time.sleep(0.5)
    assert get_tile(client, "base.roads", z, x, y).headers["ETag"] == before


def test_versions_read_from_the_database_while_the_listener_is_down(demo_settings, demo_engine):
    reads = ReadPool.for_engine(demo_engine)
    # Nothing listens on port 1: the listener never connects, so every call asks the database.
    versions = LayerVersions(reads, "postgresql://127.0.0.1:1/none?connect_timeout=1")
    try:
        assert not versions.wait_live(0.5)
        before = versions.get(["base.roads"])["base.roads"]
        with demo_engine.begin() as conn:
            after = record_change(conn, ROADS)
        assert after > before
        found = versions.get(["base.roads", "base.nothing"])
        assert found == {"base.roads": after, "base.nothing": 0}
    finally:
        versions.close()
        reads.close()


def eventually(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_shared_cache_serves_other_workers(demo_settings, demo_engine, closing):
    z, x, y = tile_at(VADUZ, 15)
    layers = (ROADS, BUILDINGS)
    first = TileService(demo_engine, TileCache(demo_settings.redis_url, 1 << 20, 60))
    closing.callback(first.close)
    # A second worker has an empty memory level; Redis holds what the first one rendered.
    second = TileCache(demo_settings.redis_url, 1 << 20, 60)
    closing.callback(second.close)
    tile = first.tile(layers, z, x, y)
    assert second.get(first.cache_key(layers, z, x, y)) == tile.gzipped


def test_tiles_still_served_when_redis_is_down(demo_engine, closing):
    cache = TileCache("redis://127.0.0.1:1/0", 1 << 20, 60)
    service = TileService(demo_engine, cache)
    closing.callback(service.close)
    z, x, y = tile_at(VADUZ, 15)
    tile = service.tile((ROADS,), z, x, y)
    assert decode(gzip.decompress(tile.gzipped))["base.roads"]["features"]
    assert not cache.redis_available
    assert service.tile((ROADS,), z, x, y).gzipped == tile.gzipped


def test_tile_fetched_in_binary_equals_the_statement_run_in_text(demo_engine, closing):
    """The service reads the tile's bytea in PostgreSQL's binary format; in the text format
    (hex, decoded by psycopg) the same statement gives the same bytes."""
    service = TileService(demo_engine, TileCache(None, 0, 60))
    closing.callback(service.close)
    layers = (ROADS, BUILDINGS)
    z, x, y = tile_at(VADUZ, 15)
    fetched = service.render(layers, z, x, y)
    query = tile_query(layers, z)
    with psycopg.connect(libpq_url(demo_engine)) as conn:
        cursor = psycopg.RawCursor(conn)
        (in_text,) = cursor.execute(query.native[0], query.bind_native(z, x, y)).fetchone()
    assert isinstance(fetched, bytes) and len(fetched) > 10_000
    assert fetched == bytes(in_text)


def test_tilejson(client):
    document = client.get("/tiles/base.roads,base.buildings.json").json
    assert document["tilejson"] == "3.0.0"
    assert document["tiles"] == ["http://localhost/tiles/base.roads,base.buildings/{z}/{x}/{y}.mvt"]
    assert [v["id"] for v in document["vector_layers"]] == ["base.roads", "base.buildings"]
    assert document["vector_layers"][0]["fields"]["maxspeed"] == "Number"
    assert (document["minzoom"], document["maxzoom"]) == (5, 16)
    assert document["attribution"] == "© OpenStreetMap contributors"
    west, south, east, north = document["bounds"]
    assert west < document["center"][0] < east and south < document["center"][1] < north


def test_internal_layers_are_not_served_to_anonymous_callers(demo_settings, demo_load):
    settings = demo_settings.model_copy(update={"modules": ["base", "tests.fixtures.internal"]})
    app = create_app(settings)
    client = app.test_client()
    z, x, y = tile_at(VADUZ, 14)
    for path in (
        f"/tiles/internal.roads/{z}/{x}/{y}.mvt",
        f"/tiles/base.roads,internal.roads/{z}/{x}/{y}.mvt",
        "/tiles/internal.roads.json",
        "/tiles/base.roads,internal.water_only.json",
        f"/collections/internal.roads/tiles/WebMercatorQuad/{z}/{y}/{x}",
        "/collections/internal.roads/tiles",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "base.roads" not in response.get_data(as_text=True)
    assert get_tile(client, "base.roads", z, x, y).status_code == 200
    app.extensions["geoplatform"].close()
