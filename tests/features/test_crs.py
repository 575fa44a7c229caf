"""OGC API Features Part 2: every CRS round-trips against PostGIS, with the authority axis order
(EPSG:4490 latitude first, CRS84 longitude first), for output, bbox-crs and the collections."""

from __future__ import annotations

import pytest
from sqlalchemy import text

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"
CITY_SRID = 32632  # the demo city's projected CRS, recorded at load
DEGREE = 1e-7
CENTIMETRE = 0.01


@pytest.fixture(scope="module")
def building(demo_engine) -> int:
    """The id of a building of the demo city."""
    with demo_engine.connect() as conn:
        fid = conn.execute(text("SELECT min(id) FROM base.buildings")).scalar()
    return fid


def vertices(engine, fid: int, srid: int) -> list[tuple[float, float]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT ST_X(d.geom), ST_Y(d.geom) FROM base.buildings b, "
                "ST_DumpPoints(ST_Transform(b.geom, :srid)) AS d WHERE b.id = :id ORDER BY d.path"
            ),
            {"srid": srid, "id": fid},
        )
        return [tuple(row) for row in rows]


def ring(feature: dict) -> list[list[float]]:
    return [point for polygon in feature["geometry"]["coordinates"] for r in polygon for point in r]


def test_city_crs_is_the_one_recorded_at_load(demo_engine):
    with demo_engine.connect() as conn:
        assert conn.execute(text("SELECT projected_srid FROM platform.city")).scalar() == CITY_SRID


@pytest.mark.parametrize(
    ("crs", "srid", "lat_first", "tolerance"),
    [
        (CRS84, 4490, False, DEGREE),
        (EPSG.format(4490), 4490, True, DEGREE),
        (EPSG.format(3857), 3857, False, CENTIMETRE),
        (EPSG.format(CITY_SRID), CITY_SRID, False, CENTIMETRE),
    ],
)
def test_feature_coordinates_equal_st_transform(
    client, demo_engine, building, crs, srid, lat_first, tolerance
):
    response = client.get(f"/collections/base.buildings/items/{building}?crs={crs}")
    assert response.status_code == 200
    assert response.headers["Content-Crs"] == f"<{crs}>"
    got = ring(response.json)
    expected = vertices(demo_engine, building, srid)
    assert len(got) == len(expected) > 3
    for point, (x, y) in zip(got, expected, strict=True):
        first, second = (y, x) if lat_first else (x, y)
        assert point[0] == pytest.approx(first, abs=tolerance)
        assert point[1] == pytest.approx(second, abs=tolerance)


def test_epsg_4490_is_latitude_first_crs84_longitude_first(client, building):
    url = f"/collections/base.buildings/items/{building}"
    lon, lat = ring(client.get(url).json)[0]
    lat_first = ring(client.get(f"{url}?crs={EPSG.format(4490)}").json)[0]
    assert 9.4 < lon < 9.7 and 47.0 < lat < 47.3
    assert lat_first == [lat, lon]


@pytest.mark.parametrize(
    ("crs", "srid"),
    [(CRS84, 4490), (EPSG.format(3857), 3857), (EPSG.format(CITY_SRID), CITY_SRID)],
)
def test_items_in_every_crs_match_the_item(client, demo_engine, crs, srid):
    response = client.get(f"/collections/base.roads/items?limit=3&crs={crs}")
    assert response.headers["Content-Crs"] == f"<{crs}>"
    for feature in response.json["features"]:
        with demo_engine.connect() as conn:
            x, y = conn.execute(
                text(
                    "SELECT ST_X(p), ST_Y(p) FROM base.roads, "
                    "ST_StartPoint(ST_Transform(geom, :srid)) AS p WHERE id = :id"
                ),
                {"srid": srid, "id": feature["id"]},
            ).one()
        tolerance = DEGREE if srid == 4490 else CENTIMETRE
        assert feature["geometry"]["coordinates"][0] == pytest.approx([x, y], abs=tolerance)


@pytest.mark.parametrize("srid", [3857, CITY_SRID, 4490])
def test_bbox_crs_selects_what_the_transformed_box_selects(client, demo_engine, srid):
    west, south, east, north = 9.50, 47.12, 9.54, 47.15
    with demo_engine.connect() as conn:
        corners = conn.execute(
            text(
                "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM "
                "ST_Transform(ST_MakeEnvelope(:w, :s, :e, :n, 4490), :srid) AS b"
            ),
            {"w": west, "s": south, "e": east, "n": north, "srid": srid},
        ).one()
        expected = conn.execute(
            text(
                "SELECT count(*) FROM base.roads WHERE ST_Intersects(geom, "
                "ST_Transform(ST_MakeEnvelope(:x1, :y1, :x2, :y2, :srid), 4490))"
            ),
            dict(zip(("x1", "y1", "x2", "y2"), corners, strict=True), srid=srid),
        ).scalar()
    x1, y1, x2, y2 = corners
    # EPSG:4490's axis order is latitude, longitude: so is its bbox.
    bbox = f"{y1},{x1},{y2},{x2}" if srid == 4490 else f"{x1},{y1},{x2},{y2}"
    response = client.get(
        f"/collections/base.roads/items?bbox={bbox}&bbox-crs={EPSG.format(srid)}&limit=1"
    )
    assert response.status_code == 200
    assert response.json["numberMatched"] == expected > 0


def test_bbox_in_epsg_4490_checks_latitude_and_longitude_in_their_places(client):
    url = f"/collections/base.roads/items?bbox-crs={EPSG.format(4490)}&bbox="
    response = client.get(f"{url}9.5,47.1,9.6,47.2")
    assert response.status_code == 200
    assert response.json["numberMatched"] == 0  # 9.5°N 47.1°E is far from Liechtenstein
    assert client.get(f"{url}47.1,100,47.2,101").status_code == 200
    response = client.get(f"{url}100,47.1,101,47.2")
    assert response.json["description"] == "bbox: latitude 100.0 is outside -90..90"


@pytest.mark.parametrize("parameter", ["crs", "bbox-crs", "filter-crs"])
def test_unknown_crs_is_refused_with_the_supported_list(client, parameter):
    response = client.get(f"/collections/base.roads/items?{parameter}=EPSG:4326&limit=1")
    assert response.status_code == 400
    assert response.json["description"] == (
        f"{parameter}: unsupported CRS 'EPSG:4326'; supported: {CRS84}, "
        f"{EPSG.format(4490)}, {EPSG.format(3857)}, {EPSG.format(CITY_SRID)}"
    )
    item = client.get(f"/collections/base.roads/items/1?crs={EPSG.format(2056)}")
    assert item.status_code == 400
    assert item.json["description"].startswith(f"crs: unsupported CRS '{EPSG.format(2056)}'")


def test_collections_list_their_crs_and_storage_crs(client):
    expected = [CRS84, EPSG.format(4490), EPSG.format(3857), EPSG.format(CITY_SRID)]
    one = client.get("/collections/base.roads").json
    assert one["crs"] == expected
    assert one["storageCrs"] == EPSG.format(4490)
    rels = {link["rel"]: link for link in one["links"]}
    assert rels["items"]["href"].endswith("/collections/base.roads/items")
    assert rels["items"]["type"] == "application/geo+json"
    queryables = rels["http://www.opengis.net/def/rel/ogc/1.0/queryables"]
    assert queryables["href"].endswith("/collections/base.roads/queryables")
    assert "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector" in rels
    for collection in client.get("/collections").json["collections"]:
        assert collection["crs"] == expected
        assert collection["storageCrs"] == EPSG.format(4490)
