"""OGC API Features Part 3: each CQL2 operator class, in text and in JSON, counts what the same
condition counts in SQL; queryables; refusals with their exact messages; ``datetime`` on a
temporal layer."""

from __future__ import annotations

import dataclasses
import json
from urllib.parse import quote

import pytest
from sqlalchemy import text

from geoplatform.app import create_app
from geoplatform.db import make_engine
from geoplatform.registry import RegistryError
from tests.fixtures.temporal import CREATE_TABLE, MODULE

EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"
SQUARE = "POLYGON((9.50 47.12, 9.54 47.12, 9.54 47.15, 9.50 47.15, 9.50 47.12))"
SQUARE_JSON = {
    "type": "Polygon",
    "coordinates": [[[9.50, 47.12], [9.54, 47.12], [9.54, 47.15], [9.50, 47.15], [9.50, 47.12]]],
}
SQUARE_SQL = "ST_MakeEnvelope(9.50, 47.12, 9.54, 47.15, 4490)"
# A point inside a building near the Vaduz town hall, and a line across the town's streets.
IN_BUILDING = "ST_SetSRID(ST_Point(9.5218747, 47.1406893), 4490)"
ACROSS = "ST_SetSRID(ST_MakeLine(ST_Point(9.50, 47.13), ST_Point(9.54, 47.14)), 4490)"


def prop(name: str) -> dict:
    return {"property": name}


# (layer, CQL2 text, CQL2 JSON, the same condition in SQL)
CASES = [
    # basic-cql2: comparisons, AND/OR/NOT, IS NULL, booleans
    ("roads", "class = 'primary'", {"op": "=", "args": [prop("class"), "primary"]},
     "class = 'primary'"),
    ("roads", "class <> 'primary'", {"op": "<>", "args": [prop("class"), "primary"]},
     "class <> 'primary'"),
    ("roads", "maxspeed < 50", {"op": "<", "args": [prop("maxspeed"), 50]}, "maxspeed < 50"),
    ("roads", "maxspeed <= 50", {"op": "<=", "args": [prop("maxspeed"), 50]}, "maxspeed <= 50"),
    ("roads", "maxspeed > 50", {"op": ">", "args": [prop("maxspeed"), 50]}, "maxspeed > 50"),
    ("roads", "maxspeed >= 59.5", {"op": ">=", "args": [prop("maxspeed"), 59.5]},
     "maxspeed >= 59.5"),
    ("roads", "bridge = TRUE", {"op": "=", "args": [prop("bridge"), True]}, "bridge"),
    ("roads", "name IS NULL", {"op": "isNull", "args": [prop("name")]}, "name IS NULL"),
    ("roads", "NOT (name IS NULL)",
     {"op": "not", "args": [{"op": "isNull", "args": [prop("name")]}]}, "name IS NOT NULL"),
    ("roads", "class = 'residential' AND (maxspeed > 30 OR tunnel = TRUE)",
     {"op": "and", "args": [
         {"op": "=", "args": [prop("class"), "residential"]},
         {"op": "or", "args": [{"op": ">", "args": [prop("maxspeed"), 30]},
                               {"op": "=", "args": [prop("tunnel"), True]}]}]},
     "class = 'residential' AND (maxspeed > 30 OR tunnel)"),
    ("buildings", "height_m > levels", {"op": ">", "args": [prop("height_m"), prop("levels")]},
     "height_m > levels"),
    # advanced-comparison-operators: LIKE, IN, BETWEEN
    ("roads", "name LIKE 'Land%'", {"op": "like", "args": [prop("name"), "Land%"]},
     "name LIKE 'Land%'"),
    ("roads", "name NOT LIKE '%strasse'",
     {"op": "not", "args": [{"op": "like", "args": [prop("name"), "%strasse"]}]},
     "NOT (name LIKE '%strasse')"),
    ("roads", "class IN ('primary', 'secondary')",
     {"op": "in", "args": [prop("class"), ["primary", "secondary"]]},
     "class IN ('primary', 'secondary')"),
    ("roads", "class NOT IN ('residential', 'service')",
     {"op": "not", "args": [{"op": "in", "args": [prop("class"), ["residential", "service"]]}]},
     "class NOT IN ('residential', 'service')"),
    ("roads", "maxspeed BETWEEN 30 AND 60",
     {"op": "between", "args": [prop("maxspeed"), 30, 60]}, "maxspeed BETWEEN 30 AND 60"),
    # case-insensitive-comparison
    ("roads", "CASEI(name) LIKE CASEI('%STRASSE%')",
     {"op": "like", "args": [{"op": "casei", "args": [prop("name")]},
                             {"op": "casei", "args": ["%STRASSE%"]}]},
     "lower(name) LIKE '%strasse%'"),
    # basic-spatial-functions and spatial-functions
    ("buildings", "S_INTERSECTS(geometry, BBOX(9.50, 47.12, 9.54, 47.15))",
     {"op": "s_intersects", "args": [prop("geometry"), {"bbox": [9.50, 47.12, 9.54, 47.15]}]},
     f"ST_Intersects(geom, {SQUARE_SQL})"),
    ("buildings", f"S_WITHIN(geometry, {SQUARE})",
     {"op": "s_within", "args": [prop("geometry"), SQUARE_JSON]},
     f"ST_Within(geom, {SQUARE_SQL})"),
    ("buildings", "S_CONTAINS(geometry, POINT(9.5218747 47.1406893))",
     {"op": "s_contains", "args": [prop("geometry"),
                                   {"type": "Point", "coordinates": [9.5218747, 47.1406893]}]},
     f"ST_Contains(geom, {IN_BUILDING})"),
    ("roads", f"S_DISJOINT(geometry, {SQUARE})",
     {"op": "s_disjoint", "args": [prop("geometry"), SQUARE_JSON]},
     f"ST_Disjoint(geom, {SQUARE_SQL})"),
    ("roads", f"S_CROSSES(geometry, {SQUARE})",
     {"op": "s_crosses", "args": [prop("geometry"), SQUARE_JSON]},
     f"ST_Crosses(geom, {SQUARE_SQL})"),
    ("buildings", f"S_OVERLAPS(geometry, {SQUARE}) OR S_TOUCHES(geometry, {SQUARE})",
     {"op": "or", "args": [{"op": "s_overlaps", "args": [prop("geometry"), SQUARE_JSON]},
                           {"op": "s_touches", "args": [prop("geometry"), SQUARE_JSON]}]},
     f"ST_Overlaps(geom, {SQUARE_SQL}) OR ST_Touches(geom, {SQUARE_SQL})"),
    ("roads", "S_INTERSECTS(geometry, LINESTRING(9.50 47.13, 9.54 47.14)) AND class <> 'service'",
     {"op": "and", "args": [
         {"op": "s_intersects", "args": [prop("geometry"), {
             "type": "LineString", "coordinates": [[9.50, 47.13], [9.54, 47.14]]}]},
         {"op": "<>", "args": [prop("class"), "service"]}]},
     f"ST_Intersects(geom, {ACROSS}) AND class <> 'service'"),
]  # fmt: skip


def sql_count(engine, layer: str, condition: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM base.{layer} WHERE {condition}")).scalar()


def matched(client, layer: str, query: str) -> int:
    response = client.get(f"/collections/base.{layer}/items?limit=1&{query}")
    assert response.status_code == 200, response.json
    return response.json["numberMatched"]


@pytest.mark.parametrize(("layer", "cql_text", "cql_json", "sql"), CASES)
def test_cql2_text_and_json_count_what_sql_counts(
    client, demo_engine, layer, cql_text, cql_json, sql
):
    expected = sql_count(demo_engine, layer, sql)
    assert matched(client, layer, f"filter={quote(cql_text)}") == expected
    encoded = quote(json.dumps(cql_json))
    assert matched(client, layer, f"filter-lang=cql2-json&filter={encoded}") == expected


def test_spatial_cases_select_something(demo_engine):
    # Guards the table above against conditions that count 0 in SQL and so prove little.
    for layer, _, _, sql in CASES:
        assert sql_count(demo_engine, layer, sql) > 0, sql


def test_filter_crs_reads_geometries_in_that_crs(client, demo_engine):
    with demo_engine.connect() as conn:
        x1, y1, x2, y2 = conn.execute(
            text(
                f"SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) "
                f"FROM ST_Transform({SQUARE_SQL}, 3857) AS b"
            )
        ).one()
    expected = sql_count(
        demo_engine,
        "buildings",
        f"ST_Intersects(geom, ST_Transform(ST_MakeEnvelope({x1}, {y1}, {x2}, {y2}, 3857), 4490))",
    )
    polygon = f"POLYGON(({x1} {y1}, {x2} {y1}, {x2} {y2}, {x1} {y2}, {x1} {y1}))"
    query = f"filter-crs={EPSG.format(3857)}&filter={quote(f'S_INTERSECTS(geometry, {polygon})')}"
    assert matched(client, "buildings", query) == expected > 0
    # EPSG:4490 is latitude first in filters too.
    flipped = quote("S_CONTAINS(geometry, POINT(47.1406893 9.5218747))")
    expected = sql_count(demo_engine, "buildings", f"ST_Contains(geom, {IN_BUILDING})")
    query = f"filter-crs={EPSG.format(4490)}&filter={flipped}"
    assert matched(client, "buildings", query) == expected == 1


def test_filter_combines_with_bbox_and_paging(client, demo_engine):
    bbox = "9.50,47.12,9.54,47.15"
    condition = f"class = 'residential' AND ST_Intersects(geom, {SQUARE_SQL})"
    expected = sql_count(demo_engine, "roads", condition)
    url = f"/collections/base.roads/items?bbox={bbox}&filter=class='residential'&limit=50"
    ids: list[int] = []
    while url:
        document = client.get(url).json
        assert document["numberMatched"] == expected
        ids += [f["id"] for f in document["features"]]
        nxt = [x["href"] for x in document["links"] if x["rel"] == "next"]
        url = nxt[0].split("localhost", 1)[1] if nxt else None
    assert len(ids) == len(set(ids)) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("filter=nope = 1", "filter: collection base.roads has no queryable 'nope'"),
        ("filter=class =",
         "filter: invalid cql2-text: Unexpected token Token('$END', '') at line 1, column 7."),
        ('filter-lang=cql2-json&filter={"op": "="',
         "filter: invalid cql2-json: Expecting ',' delimiter: line 1 column 11 (char 10)"),
        ('filter-lang=cql2-json&filter={"op": "=", "args": [{"property": "nope"}, 1]}',
         "filter: collection base.roads has no queryable 'nope'"),
        ("filter-lang=cql3&filter=x", "filter-lang must be cql2-text or cql2-json, got 'cql3'"),
        ("filter=maxspeed = 'fast'", "filter: cannot compare a integer with 'fast'"),
        ("filter=class LIKE 5", "filter: cannot compare a string with 5"),
        ("filter=maxspeed LIKE '5%'", "filter: LIKE needs a string property, not integer"),
        ("filter=geometry = 1", "filter: compare geometries with the spatial functions (S_...)"),
        ("filter=S_INTERSECTS(class, POINT(9 47))",
         "filter: spatial functions need geometries, not a string property"),
        ("filter=maxspeed > 2 %2B 1", "filter: arithmetic (Add) is not supported"),
        ("filter=name T_AFTER TIMESTAMP('2020-01-01T00:00:00Z')",
         "filter: a temporal function (TimeAfter) is not supported"),
        ("filter=S_INTERSECTS(geometry, BBOX(1, 2, 3))",
         "filter: BBOX needs 4 or 6 numbers, got [1, 2, 3]"),
    ],
)  # fmt: skip
def test_filter_refusals_name_the_problem(client, query, message):
    response = client.get(f"/collections/base.roads/items?{query}")
    assert response.status_code == 400
    assert response.json == {"code": "InvalidParameterValue", "description": message}


def test_queryables_are_a_json_schema_of_the_declared_properties(client):
    response = client.get("/collections/base.roads/queryables")
    assert response.status_code == 200
    assert response.content_type == "application/schema+json"
    schema = response.json
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith("/collections/base.roads/queryables")
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    properties = schema["properties"]
    assert properties["geometry"]["format"] == "geometry-linestring"
    assert properties["geometry"]["x-ogc-role"] == "primary-geometry"
    assert properties["class"] == {"title": "道路等级 Class", "type": "string"}
    assert properties["maxspeed"]["type"] == "integer"
    assert properties["length_m"]["type"] == "number"
    assert properties["bridge"]["type"] == "boolean"
    assert set(properties) == {"geometry", *(p for p in properties if p != "geometry")}
    assert len(properties) == 1 + 15


@pytest.fixture(scope="module")
def temporal_client(make_database):
    settings = make_database("temporal", modules=["base", "tests.fixtures.temporal"])
    engine = make_engine(settings)
    with engine.begin() as conn:
        conn.execute(text(CREATE_TABLE))
        conn.execute(
            text(
                "INSERT INTO temporal.inspections (id, name, inspected_on, inspected_at, geom) "
                "SELECT d, 'inspection ' || d, DATE '2024-04-28' + d, "
                "TIMESTAMPTZ '2024-04-28 22:30:00+00' + d * INTERVAL '1 day', "
                "ST_SetSRID(ST_Point(9.5 + d / 1000.0, 47.1), 4490) FROM generate_series(1, 10) d"
            )
        )
    engine.dispose()
    app = create_app(settings)
    yield app.test_client()
    app.extensions["geoplatform"].close()


@pytest.mark.parametrize(
    ("layer", "datetime", "ids"),
    [
        ("by_day", "2024-05-01", [3]),
        ("by_day", "2024-05-01T10:00:00Z", [3]),
        ("by_day", "2024-05-01/2024-05-03", [3, 4, 5]),
        ("by_day", "../2024-04-30", [1, 2]),
        ("by_day", "2024-05-07/..", [9, 10]),
        ("by_day", "2024-05-07/", [9, 10]),
        ("by_time", "2024-05-01T22:30:00Z", [3]),
        ("by_time", "2024-05-02T00:30:00+02:00", [3]),
        ("by_time", "2024-05-01", [3]),
        ("by_time", "2024-05-01T00:00:00Z/2024-05-03T00:00:00Z", [3, 4]),
        ("by_time", "2024-05-01/2024-05-03", [3, 4, 5]),
        ("by_time", "../2024-04-30T23:00:00Z", [1, 2]),
    ],
)
def test_datetime_selects_instants_and_intervals(temporal_client, layer, datetime, ids):
    response = temporal_client.get(
        f"/collections/temporal.{layer}/items?datetime={quote(datetime)}"
    )
    assert response.status_code == 200, response.json
    assert [f["id"] for f in response.json["features"]] == ids


@pytest.mark.parametrize(
    ("layer", "datetime", "message"),
    [
        ("timeless", "2024-05-01", "collection temporal.timeless has no temporal property"),
        ("by_day", "yesterday", "datetime: 'yesterday' is not an RFC 3339 date-time or date "
         "(e.g. 2024-05-01T08:00:00Z, 2024-05-01, or an interval start/end with .. for open)"),
        ("by_day", "../..", "datetime: an interval needs at least one end, got '../..'"),
        ("by_day", "2024-05-03/2024-05-01",
         "datetime: the interval '2024-05-03/2024-05-01' ends before it starts"),
    ],
)  # fmt: skip
def test_datetime_refusals(temporal_client, layer, datetime, message):
    response = temporal_client.get(
        f"/collections/temporal.{layer}/items?datetime={quote(datetime)}"
    )
    assert response.status_code == 400
    assert response.json["description"] == message


def test_dates_and_times_in_filters_and_queryables(temporal_client):
    url = "/collections/temporal.by_time/items"
    text_filter = quote(
        "inspected_on >= DATE('2024-05-06') AND inspected_at < TIMESTAMP('2024-05-07T00:00:00Z')"
    )
    response = temporal_client.get(f"{url}?filter={text_filter}")
    assert [f["id"] for f in response.json["features"]] == [8]
    equal = temporal_client.get(f"{url}?inspected_on=2024-05-01")
    assert [f["id"] for f in equal.json["features"]] == [3]
    schema = temporal_client.get("/collections/temporal.by_time/queryables").json
    assert schema["properties"]["inspected_on"] == {
        "title": "检查日期 Inspection date",
        "type": "string",
        "format": "date",
    }
    assert schema["properties"]["inspected_at"]["format"] == "date-time"
    assert schema["properties"]["geometry"]["format"] == "geometry-point"


@pytest.mark.parametrize("temporal", ["name", "nope"])
def test_temporal_must_name_a_declared_date_or_datetime(temporal):
    by_day = MODULE.layers[0]
    with pytest.raises(RegistryError, match=f"temporal '{temporal}' is not a declared date or"):
        dataclasses.replace(by_day, temporal=temporal)


def test_tileset_properties_schema_is_valid_json_schema(temporal_client):
    # JSON Schema has no "date" or "datetime" type: they are strings with a format, as in the
    # queryables; a client validating with the schema would reject every feature otherwise.
    url = "/collections/temporal.by_time/tiles/WebMercatorQuad"
    schema = temporal_client.get(url).json["layers"][0]["propertiesSchema"]["properties"]
    assert schema["inspected_on"] == {"type": "string", "format": "date"}
    assert schema["inspected_at"] == {"type": "string", "format": "date-time"}
    assert schema["name"] == {"type": "string"}
    queryables = temporal_client.get("/collections/temporal.by_time/queryables").json
    for name in ("inspected_on", "inspected_at"):
        assert queryables["properties"][name]["format"] == schema[name]["format"]
