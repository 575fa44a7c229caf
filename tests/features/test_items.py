"""OGC API Features Part 1 on the demo city: pages of features checked against SQL, paging,
property subsets, sorting, single features with their ETag, and every refusal's exact message."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text

from geoplatform.app import create_app
from geoplatform.features.crs import CrsResolver
from geoplatform.features.params import Limits, parse_items_query
from geoplatform.features.query import compile_statement, items_statement, plain_statement
from geoplatform.reads import ReadPool

GEOJSON = "application/geo+json"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
VADUZ = "9.50,47.12,9.54,47.15"
INTERSECTS = (
    "SELECT count(*) FROM {table} WHERE ST_Intersects(geom, ST_MakeEnvelope(:w, :s, :e, :n, 4490))"
)


def sql_count(engine, table: str, bbox: str) -> int:
    corners = dict(zip("wsen", (float(v) for v in bbox.split(",")), strict=True))
    with engine.connect() as conn:
        return conn.execute(text(INTERSECTS.format(table=table)), corners).scalar()


def links(document: dict) -> dict[str, str]:
    return {link["rel"]: link["href"] for link in document["links"]}


def relative(href: str) -> str:
    parts = urlsplit(href)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


@pytest.mark.parametrize(
    ("layer_id", "bbox"),
    [
        ("base.buildings", VADUZ),
        ("base.buildings", "9.40,46.90,9.80,47.60"),
        ("base.roads", VADUZ),
        ("base.roads", "9.52,47.14,9.53,47.145"),
        ("base.roads", "0,0,1,1"),
    ],
)
def test_bbox_counts_equal_sql(client, demo_engine, layer_id, bbox):
    response = client.get(f"/collections/{layer_id}/items?bbox={bbox}&limit=10000")
    assert response.status_code == 200
    assert response.content_type == GEOJSON
    assert response.headers["Content-Crs"] == f"<{CRS84}>"
    document = response.json
    expected = sql_count(demo_engine, layer_id, bbox)
    assert document["type"] == "FeatureCollection"
    assert document["numberMatched"] == expected
    assert document["numberReturned"] == len(document["features"]) == expected
    assert document["timeStamp"].endswith("Z")


def test_number_matched_counts_beyond_the_page(client, demo_engine):
    document = client.get(f"/collections/base.buildings/items?bbox={VADUZ}&limit=7").json
    assert document["numberReturned"] == 7
    assert document["numberMatched"] == sql_count(demo_engine, "base.buildings", VADUZ)


def test_default_limit_and_feature_shape(client, demo_engine):
    document = client.get("/collections/base.roads/items").json
    assert document["numberReturned"] == 100
    assert document["numberMatched"] == 4658
    feature = document["features"][0]
    assert feature["type"] == "Feature"
    assert isinstance(feature["id"], int)
    assert feature["geometry"]["type"] == "LineString"
    assert "crs" not in feature["geometry"]
    assert list(feature["properties"]) == [
        "class", "name", "name_zh", "name_en", "ref", "oneway", "maxspeed", "maxspeed_source",
        "bridge", "tunnel", "layer", "surface", "length_m", "osm_type", "osm_id",
    ]  # fmt: skip
    with demo_engine.connect() as conn:
        first = conn.execute(text("SELECT min(id) FROM base.roads")).scalar()
    assert feature["id"] == first


def test_paging_walks_every_feature_exactly_once(client, demo_engine):
    bbox = "9.49,47.11,9.56,47.17"
    url = f"/collections/base.roads/items?bbox={bbox}&limit=400&properties=class"
    seen: list[int] = []
    pages = []
    while url:
        document = client.get(url).json
        pages.append(url)
        seen += [f["id"] for f in document["features"]]
        next_href = links(document).get("next")
        if next_href:
            query = parse_qs(urlsplit(next_href).query)
            assert query["bbox"] == [bbox] and query["limit"] == ["400"]
            assert query["properties"] == ["class"]
        url = relative(next_href) if next_href else None
    with demo_engine.connect() as conn:
        expected = conn.execute(
            text(
                "SELECT id FROM base.roads "
                "WHERE ST_Intersects(geom, ST_MakeEnvelope(9.49, 47.11, 9.56, 47.17, 4490))"
            )
        ).scalars()
        expected = sorted(expected)
    assert len(seen) == len(set(seen))
    assert seen == expected
    assert len(pages) == -(-len(expected) // 400)

    # And back again through prev links, page by page, to the first.
    last = client.get(pages[-1]).json
    offsets = []
    href = links(last).get("prev")
    while href:
        offsets.append(int(parse_qs(urlsplit(href).query)["offset"][0]))
        href = links(client.get(relative(href)).json).get("prev")
    assert offsets == list(range(400 * (len(pages) - 2), -1, -400))


def test_last_page_has_no_next_and_first_no_prev(client):
    first = client.get("/collections/base.places/items?limit=1000").json
    assert first["numberReturned"] == first["numberMatched"] == 78
    assert "next" not in links(first) and "prev" not in links(first)
    assert links(first)["collection"].endswith("/collections/base.places")
    beyond = client.get("/collections/base.places/items?offset=500").json
    assert beyond["numberReturned"] == 0 and beyond["numberMatched"] == 78
    assert beyond["features"] == []


def test_properties_subset_in_the_order_asked(client):
    document = client.get("/collections/base.roads/items?limit=5&properties=name,class").json
    assert all(list(f["properties"]) == ["name", "class"] for f in document["features"])
    empty = client.get("/collections/base.roads/items?limit=5&properties=").json
    assert all(f["properties"] == {} for f in empty["features"])


def test_sortby_descending_then_ascending(client, demo_engine):
    url = "/collections/base.buildings/items?limit=50&properties=levels,height_m"
    document = client.get(f"{url}&sortby=-levels,+height_m").json
    keys = [(f["properties"]["levels"], f["properties"]["height_m"]) for f in document["features"]]
    assert keys == sorted(keys, key=lambda k: (-k[0], k[1]))
    with demo_engine.connect() as conn:
        top = conn.execute(text("SELECT max(levels) FROM base.buildings")).scalar()
    assert keys[0][0] == top
    # A '+' written raw in a query string arrives as a space, and still means ascending.
    ascending = client.get(f"{url}&sortby=+levels").json
    levels = [f["properties"]["levels"] for f in ascending["features"]]
    assert levels == sorted(levels)


def test_sorted_pages_do_not_repeat_or_skip(client):
    url = "/collections/base.pois/items?limit=100&sortby=category&properties=category"
    ids: list[int] = []
    while url:
        document = client.get(url).json
        ids += [f["id"] for f in document["features"]]
        url = relative(links(document)["next"]) if "next" in links(document) else None
    assert len(ids) == len(set(ids)) == 827


def test_one_feature_with_its_etag(client, demo_engine):
    with demo_engine.connect() as conn:
        fid, digest, name = conn.execute(
            text(
                "SELECT id, md5(t::text), name FROM base.buildings t "
                "WHERE name IS NOT NULL ORDER BY id LIMIT 1"
            )
        ).one()
    response = client.get(f"/collections/base.buildings/items/{fid}")
    assert response.status_code == 200
    assert response.content_type == GEOJSON
    assert response.headers["ETag"] == f'"{digest}"'
    assert response.headers["Content-Crs"] == f"<{CRS84}>"
    feature = response.json
    assert feature["id"] == fid
    assert feature["properties"]["name"] == name
    assert links(feature)["collection"].endswith("/collections/base.buildings")
    assert links(feature)["self"].endswith(f"/collections/base.buildings/items/{fid}")


def test_missing_feature_is_404_json(client):
    response = client.get("/collections/base.buildings/items/1")
    assert response.status_code == 404
    assert response.json == {
        "code": "NotFound",
        "description": "no feature 1 in collection base.buildings",
    }


@pytest.mark.parametrize("fid", ["abc", "1.5", "99999999999999999999"])
def test_feature_id_must_be_an_integer(client, fid):
    response = client.get(f"/collections/base.buildings/items/{fid}")
    assert response.status_code in (400, 404)
    assert fid in response.json["description"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("bbox=1,2,3", "bbox must be 4 or 6 comma-separated numbers, got '1,2,3'"),
        ("bbox=a,b,c,d", "bbox must be 4 or 6 comma-separated numbers, got 'a,b,c,d'"),
        ("bbox=9.6,47,9.5,47.2", "bbox: minimum longitude 9.6 is greater than maximum 9.5"),
        ("bbox=9.5,47.2,9.6,47.1", "bbox: minimum latitude 47.2 is greater than maximum 47.1"),
        ("bbox=9.5,47,190,47.2", "bbox: longitude 190.0 is outside -180..180"),
        ("bbox=9.5,-95,9.6,47", "bbox: latitude -95.0 is outside -90..90"),
        ("limit=10001", "limit 10001 is over the maximum of 10000"),
        ("limit=0", "limit must be an integer from 1 to 10000, got 0"),
        ("limit=ten", "limit must be an integer from 1 to 10000, got 'ten'"),
        ("offset=-1", "offset must be an integer of 0 or more, got '-1'"),
        ("properties=name,nope", "properties: collection base.roads has no property 'nope'"),
        ("sortby=-nope", "sortby: collection base.roads has no property 'nope'"),
        ("datetime=2024-05-01", "collection base.roads has no temporal property"),
        ("limit=1&limit=2", "limit given 2 times; give it once"),
        ("f=xml", "f must be one of json, geojson, got 'xml'"),
        ("maxspeed=fast", "maxspeed: 'fast' is not a valid integer"),
        (
            "fitler=class='primary'",
            "unknown query parameter 'fitler'; this endpoint takes f, crs, limit, offset, bbox, "
            "bbox-crs, datetime, properties, sortby, filter, filter-lang, filter-crs and the "
            "collection's queryables",
        ),
    ],
)
def test_refusals_name_the_problem(client, query, message):
    response = client.get(f"/collections/base.roads/items?{query}")
    assert response.status_code == 400
    assert response.json == {"code": "InvalidParameterValue", "description": message}


def test_unknown_parameter_on_one_feature(client):
    response = client.get("/collections/base.roads/items/1?limit=5")
    assert response.status_code == 400
    assert response.json["description"] == (
        "unknown query parameter 'limit'; this endpoint takes f, crs"
    )


def test_queryables_as_query_parameters(client, demo_engine):
    document = client.get("/collections/base.roads/items?class=primary&bridge=true&limit=1").json
    with demo_engine.connect() as conn:
        expected = conn.execute(
            text("SELECT count(*) FROM base.roads WHERE class = 'primary' AND bridge")
        ).scalar()
    assert expected > 0
    assert document["numberMatched"] == expected


def test_limits_come_from_settings(demo_settings, demo_load):
    settings = demo_settings.model_copy(
        update={"features_default_limit": 3, "features_max_limit": 5}
    )
    app = create_app(settings)
    client = app.test_client()
    assert client.get("/collections/base.roads/items").json["numberReturned"] == 3
    response = client.get("/collections/base.roads/items?limit=6")
    assert response.json["description"] == "limit 6 is over the maximum of 5"
    app.extensions["geoplatform"].close()


def test_internal_layers_are_404_for_anonymous_callers(demo_settings, demo_load):
    settings = demo_settings.model_copy(update={"modules": ["base", "tests.fixtures.internal"]})
    app = create_app(settings)
    client = app.test_client()
    for layer_id in ("internal.roads", "internal.water_only"):
        for path in ("items", "items/1", "queryables", "items?bbox=9,47,10,48"):
            response = client.get(f"/collections/{layer_id}/{path}")
            assert response.status_code == 404, path
            assert response.json["description"] == f"no collection {layer_id!r}"
    assert client.get("/collections/base.roads/items?limit=1").status_code == 200
    app.extensions["geoplatform"].close()


@pytest.mark.parametrize(
    "query",
    [
        "bbox=9.50,47.12,9.53,47.15&limit=50",
        "bbox=9.51,47.13,9.52,47.14&limit=7&offset=3",
        "bbox=9.40,47.00,9.70,47.30&limit=20&offset=40&sortby=-name,class&properties=name,class",
        "limit=5&crs=http://www.opengis.net/def/crs/EPSG/0/32632",
        "bbox=1058000,5965000,1061000,5968000"
        "&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/3857&limit=30",
    ],
)
def test_precompiled_pages_equal_freshly_built_ones(demo_app, query):
    """The page statement reused across bboxes and limits gives what a fresh build gives."""
    platform = demo_app.extensions["geoplatform"]
    layer = platform.registry.get("base.roads")
    parsed = parse_items_query(
        parse_qs(query), layer, Limits(100, 10_000), CrsResolver(lambda: 32632)
    )
    reads = ReadPool.for_engine(platform.engine)
    try:
        plain_statement(layer, parsed)  # the first call of a shape builds its template
        plain = plain_statement(layer, parsed)
        assert plain is not None
        fresh = compile_statement(items_statement(layer, parsed))
        got = reads.rows(plain.sql, plain.params)[0]
        expected = reads.rows(fresh.sql, fresh.params)[0]
        assert got[:3] == expected[:3]
        assert got[1] > 0
    finally:
        reads.close()
