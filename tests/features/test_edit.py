"""Feature editing (OGC API – Features Part 4): round trips through HTTP checked in PostGIS, the
refusals with their exact messages (each leaving rows, audit and layer versions untouched),
concurrent edits, feature history and the audit log."""

from __future__ import annotations

import json
import threading
import time

import mapbox_vector_tile
import morecantile
import pytest
from flask import g, request
from pyproj import Transformer
from sqlalchemy import text

from geoplatform.app import create_app
from geoplatform.auth import Principal
from geoplatform.db import make_engine
from tests.conftest import count_rows
from tests.fixtures.editable import create_tables

HYDRANTS = "editable.hydrants"
ZONES = "editable.zones"
PUBLISHED = "editable.published_hydrants"
ITEMS = f"/collections/{HYDRANTS}/items"
ZONE_ITEMS = f"/collections/{ZONES}/items"
SUZHOU = (120.62, 31.30)
# CGCS2000 / 3-degree Gauss-Kruger CM 120E: the projected CRS of a city at 120.6°E.
CITY_SRID = 4549
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"
GEOJSON = "application/geo+json"
MERGE_PATCH = "application/merge-patch+json"
MAX_BODY = 64 * 1024

WATER_EDITOR = "water_utility:editor:11"
WATER_VIEWER = "water_utility:viewer:12"
WATER_ADMIN = "water_utility:admin:13"
EMERGENCY_EDITOR = "emergency_management:editor:21"
EMERGENCY_VIEWER = "emergency_management:viewer:22"
GAS_EDITOR = "gas_utility:editor:31"
GAS_ADMIN = "gas_utility:admin:33"
TMS = morecantile.tms.get("WebMercatorQuad")


def _test_principal() -> None:
    # Stands in for an API key: "department:role:key_id". Registered after the authentication
    # hook, so it decides the caller whenever a test names one.
    named = request.headers.get("X-Test-Principal")
    if named:
        department, role, key_id = named.split(":")
        g.principal = Principal(department, role, int(key_id))


@pytest.fixture(scope="module")
def settings(make_database):
    settings = make_database(
        "edit",
        modules=["base", "tests.fixtures.editable"],
        features_max_body_bytes=MAX_BODY,
        # Below the edit API's own limit: edits must keep theirs, every other endpoint this one.
        max_body_bytes=4096,
    )
    engine = make_engine(settings)
    create_tables(engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO platform.city (id, projected_srid, bbox) "
                "VALUES (1, :srid, ARRAY[120.4, 31.1, 120.9, 31.5])"
            ),
            {"srid": CITY_SRID},
        )
    engine.dispose()
    return settings


@pytest.fixture(scope="module")
def app(settings):
    app = create_app(settings)
    app.before_request_funcs.setdefault(None, []).append(_test_principal)
    yield app
    app.extensions["geoplatform"].close()


@pytest.fixture(scope="module")
def engine(settings):
    engine = make_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


# --- helpers --------------------------------------------------------------------------------


def hydrant(lon=SUZHOU[0], lat=SUZHOU[1], **properties) -> dict:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"name": "H-1", **properties},
    }


def square(west, south, size=0.01) -> list:
    east, north = west + size, south + size
    return [[[west, south], [east, south], [east, north], [west, north], [west, south]]]


def send(client, method, path, body=None, who=WATER_EDITOR, content_type=GEOJSON, **headers):
    headers = {"X-Test-Principal": who, **headers} if who else headers
    data = body if isinstance(body, bytes) or body is None else json.dumps(body)
    return client.open(path, method=method, data=data, content_type=content_type, headers=headers)


def create(client, feature=None, path=ITEMS, **kwargs):
    response = send(client, "POST", path, feature or hydrant(), **kwargs)
    assert response.status_code == 201, response.json
    return response.json["id"], response.headers["ETag"]


def stored(engine, fid, table=HYDRANTS) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(
            text(
                f"""SELECT to_jsonb(t) - 'geom' - 'geom_3857' AS properties,
                           ST_X(ST_PointOnSurface(geom)) AS x, ST_Y(ST_PointOnSurface(geom)) AS y,
                           ST_GeometryType(geom) AS kind, ST_Area(geom) AS area,
                           '"' || md5(t::text) || '"' AS etag
                      FROM {table} AS t WHERE id = :id"""
            ),
            {"id": fid},
        ).first()
    return row._asdict() if row else None


def layer_version(engine, layer_id=HYDRANTS) -> int | None:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT version FROM platform.layer_state WHERE layer_id = :id"), {"id": layer_id}
        ).scalar_one_or_none()


def audit_rows(engine, fid, layer_id=HYDRANTS) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                """SELECT action, outcome, department, role, key_id, before, after, request_id
                     FROM platform.audit_log WHERE layer_id = :layer AND fid = :fid ORDER BY id"""
            ),
            {"layer": layer_id, "fid": str(fid)},
        )
        return [row._asdict() for row in rows]


def everything(engine) -> tuple:
    """Every edited table's content, the whole audit log and every layer version."""
    with engine.connect() as conn:
        return conn.execute(
            text(
                """SELECT (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY id), ''))
                             FROM editable.hydrants AS t),
                          (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY id), ''))
                             FROM editable.zones AS t),
                          (SELECT count(*) FROM platform.audit_log),
                          (SELECT json_object_agg(layer_id, version ORDER BY layer_id)::text
                             FROM platform.layer_state)"""
            )
        ).one()


@pytest.fixture
def unchanged(engine):
    """Asserts, at the end of the test, that nothing in the database changed."""
    before = everything(engine)
    yield
    assert everything(engine) == before


# --- create, replace, update, delete ---------------------------------------------------------


def test_create_stores_the_feature_and_answers_201_with_location_and_etag(client, engine):
    version_before = layer_version(engine)
    feature = hydrant(
        120.6301234,
        31.3104321,
        name="东环路 12 号",
        pressure_bar=3.5,
        outlets=2,
        in_service=False,
        installed="2019-04-30",
        inspected_at="2026-11-20T09:30:00+08:00",
        attrs={"valve": "A", "colour": "red"},
    )
    feature["id"] = 999999
    response = send(client, "POST", ITEMS, feature, **{"X-Request-Id": "req-create-1"})

    assert response.status_code == 201
    fid = response.json["id"]
    assert fid != 999999
    assert response.headers["Location"] == f"http://localhost{ITEMS}/{fid}"
    assert response.mimetype == GEOJSON
    row = stored(engine, fid)
    assert response.headers["ETag"] == row["etag"]
    assert row["x"] == pytest.approx(120.6301234, abs=1e-9)
    assert row["y"] == pytest.approx(31.3104321, abs=1e-9)
    assert row["properties"] == {
        "id": fid,
        "name": "东环路 12 号",
        "pressure_bar": 3.5,
        "outlets": 2,
        "in_service": False,
        "installed": "2019-04-30",
        "inspected_at": row["properties"]["inspected_at"],
        "attrs": {"valve": "A", "colour": "red"},
    }
    with engine.connect() as conn:
        inspected = conn.execute(
            text(
                "SELECT inspected_at = '2026-11-20T01:30:00Z' FROM editable.hydrants WHERE id=:id"
            ),
            {"id": fid},
        ).scalar_one()
    assert inspected
    assert response.json["geometry"] == {"type": "Point", "coordinates": [120.6301234, 31.3104321]}
    assert response.json["properties"]["attrs"] == {"valve": "A", "colour": "red"}
    [entry] = audit_rows(engine, fid)
    assert entry["action"] == "create" and entry["outcome"] == "ok"
    assert (entry["department"], entry["role"], entry["key_id"]) == ("water_utility", "editor", 11)
    assert entry["before"] is None and entry["after"] == response.json
    assert entry["request_id"] == "req-create-1"
    assert layer_version(engine) > (version_before or 0)


def test_properties_left_out_of_a_new_feature_take_the_column_defaults(client, engine):
    fid, _ = create(client, hydrant(name="H-defaults"))
    assert stored(engine, fid)["properties"]["in_service"] is True
    assert stored(engine, fid)["properties"]["outlets"] is None


def test_polygon_is_stored_promoted_in_a_multipolygon_layer(client, engine):
    polygon = {"type": "Polygon", "coordinates": square(120.60, 31.28)}
    feature = {"type": "Feature", "geometry": polygon, "properties": {"name": "Z1", "level": 2}}
    fid, _ = create(client, feature, path=ZONE_ITEMS)
    row = stored(engine, fid, "editable.zones")
    assert row["kind"] == "ST_MultiPolygon"
    assert row["area"] == pytest.approx(0.0001, rel=1e-9)
    multi = {"type": "MultiPolygon", "coordinates": [square(120.7, 31.3), square(120.8, 31.3)]}
    fid, _ = create(client, {**feature, "geometry": multi}, path=ZONE_ITEMS)
    assert stored(engine, fid, "editable.zones")["area"] == pytest.approx(0.0002, rel=1e-9)


def test_replace_sets_every_property_and_nulls_those_left_out(client, engine):
    fid, etag = create(client, hydrant(name="H-r", outlets=2, pressure_bar=4.0, attrs={"a": 1}))
    version_before = layer_version(engine)
    replacement = hydrant(120.64, 31.32, name="H-r2", outlets=3)
    replacement["id"] = fid
    # Left out means null, and in_service may not be null.
    refused = send(client, "PUT", f"{ITEMS}/{fid}", replacement, **{"If-Match": etag})
    assert refused.json["description"] == "property 'in_service': may not be null"
    replacement["properties"]["in_service"] = True

    response = send(client, "PUT", f"{ITEMS}/{fid}", replacement, **{"If-Match": etag})

    assert response.status_code == 200
    row = stored(engine, fid)
    assert response.headers["ETag"] == row["etag"] != etag
    assert (row["x"], row["y"]) == (pytest.approx(120.64, abs=1e-9), pytest.approx(31.32, abs=1e-9))
    properties = row["properties"]
    assert (properties["name"], properties["outlets"]) == ("H-r2", 3)
    assert properties["pressure_bar"] is None and properties["attrs"] is None
    entry = audit_rows(engine, fid)[-1]
    assert entry["action"] == "replace" and entry["outcome"] == "ok"
    assert entry["before"]["properties"]["pressure_bar"] == 4.0
    assert entry["after"] == response.json
    assert layer_version(engine) > version_before


def test_patch_merges_properties_and_keeps_the_geometry(client, engine):
    fid, etag = create(
        client, hydrant(name="H-p", outlets=2, attrs={"valve": "A", "colour": "red", "n": 1})
    )
    version_before = layer_version(engine)
    patch = {"properties": {"outlets": 4, "attrs": {"colour": None, "valve": "B"}}}

    response = send(
        client, "PATCH", f"{ITEMS}/{fid}", patch, content_type=MERGE_PATCH, **{"If-Match": etag}
    )

    assert response.status_code == 200, response.json
    row = stored(engine, fid)
    assert response.headers["ETag"] == row["etag"]
    assert row["properties"]["name"] == "H-p"
    assert row["properties"]["outlets"] == 4
    assert row["properties"]["attrs"] == {"valve": "B", "n": 1}
    assert (row["x"], row["y"]) == (pytest.approx(SUZHOU[0], abs=1e-9), pytest.approx(SUZHOU[1]))
    assert audit_rows(engine, fid)[-1]["action"] == "update"
    assert layer_version(engine) > version_before

    moved = {"geometry": {"type": "Point", "coordinates": [120.65, 31.33]}, "properties": {}}
    response = send(
        client,
        "PATCH",
        f"{ITEMS}/{fid}",
        moved,
        **{"If-Match": response.headers["ETag"]},
    )
    assert response.status_code == 200
    row = stored(engine, fid)
    assert (row["x"], row["y"]) == (pytest.approx(120.65, abs=1e-9), pytest.approx(31.33))
    assert row["properties"]["outlets"] == 4

    nulled = {"properties": {"attrs": None, "pressure_bar": None}}
    response = send(
        client,
        "PATCH",
        f"{ITEMS}/{fid}",
        nulled,
        content_type=MERGE_PATCH,
        **{"If-Match": response.headers["ETag"]},
    )
    assert response.status_code == 200
    assert stored(engine, fid)["properties"]["attrs"] is None


def test_delete_removes_the_feature_and_keeps_its_history(client, engine):
    fid, etag = create(client, hydrant(name="H-d"))
    version_before = layer_version(engine)

    response = send(client, "DELETE", f"{ITEMS}/{fid}", **{"If-Match": etag})

    assert response.status_code == 204 and response.data == b""
    assert stored(engine, fid) is None
    entry = audit_rows(engine, fid)[-1]
    assert entry["action"] == "delete" and entry["after"] is None
    assert entry["before"]["properties"]["name"] == "H-d"
    assert layer_version(engine) > version_before
    again = send(client, "DELETE", f"{ITEMS}/{fid}", **{"If-Match": etag})
    assert again.status_code == 404
    assert again.json["description"] == f"no feature {fid} in collection {HYDRANTS}"
    history = send(client, "GET", f"{ITEMS}/{fid}/history", content_type=None)
    assert [v["action"] for v in history.json["versions"]] == ["create", "delete"]


def test_if_match_star_matches_any_version(client, engine):
    fid, _ = create(client)
    response = send(client, "DELETE", f"{ITEMS}/{fid}", **{"If-Match": "*"})
    assert response.status_code == 204


# --- coordinate reference systems ------------------------------------------------------------


def test_epsg_4490_coordinates_are_latitude_first(client, engine):
    feature = hydrant()
    feature["geometry"]["coordinates"] = [31.311, 120.631]
    fid, _ = create(client, feature, **{"Content-Crs": f"<{EPSG.format(4490)}>"})
    row = stored(engine, fid)
    assert (row["x"], row["y"]) == (pytest.approx(120.631, abs=1e-12), pytest.approx(31.311))


def test_web_mercator_coordinates_are_transformed(client, engine):
    x, y = Transformer.from_crs(4490, 3857, always_xy=True).transform(120.632, 31.312)
    feature = hydrant()
    feature["geometry"]["coordinates"] = [x, y]
    fid, _ = create(client, feature, **{"Content-Crs": f"<{EPSG.format(3857)}>"})
    row = stored(engine, fid)
    assert row["x"] == pytest.approx(120.632, abs=1e-8)
    assert row["y"] == pytest.approx(31.312, abs=1e-8)


def test_city_projected_coordinates_are_northing_first_and_transformed(client, engine):
    # EPSG:4549 lists northing before easting; pyproj without always_xy keeps that order.
    northing, easting = Transformer.from_crs(4490, CITY_SRID).transform(31.313, 120.633)
    feature = hydrant()
    feature["geometry"]["coordinates"] = [northing, easting]
    fid, _ = create(client, feature, **{"Content-Crs": f"<{EPSG.format(CITY_SRID)}>"})
    row = stored(engine, fid)
    assert row["x"] == pytest.approx(120.633, abs=1e-8)
    assert row["y"] == pytest.approx(31.313, abs=1e-8)


def test_coordinates_out_of_range_are_refused_with_a_hint_at_axis_order(client, engine, unchanged):
    response = send(client, "POST", ITEMS, hydrant(120.6, 95.0))
    assert response.status_code == 400
    assert response.json["description"] == (
        "geometry: longitude must lie within [-180, 180] and latitude within [-90, 90]"
    )
    # lon/lat sent as EPSG:4490, which lists latitude first.
    response = send(client, "POST", ITEMS, hydrant(), **{"Content-Crs": f"<{EPSG.format(4490)}>"})
    assert response.status_code == 400
    assert response.json["description"] == (
        "geometry: longitude must lie within [-180, 180] and latitude within [-90, 90]; "
        f"{EPSG.format(4490)} lists latitude first"
    )


def test_an_unsupported_content_crs_is_refused(client, engine, unchanged):
    response = send(client, "POST", ITEMS, hydrant(), **{"Content-Crs": f"<{EPSG.format(2056)}>"})
    assert response.status_code == 400
    assert response.json["description"].startswith(
        f"Content-Crs: unsupported CRS '{EPSG.format(2056)}'"
    )


# --- refusals of the body --------------------------------------------------------------------

BOWTIE = [[[120.6, 31.3], [120.7, 31.4], [120.7, 31.3], [120.6, 31.4], [120.6, 31.3]]]


def _with(**changes) -> dict:
    feature = hydrant()
    for key, value in changes.items():
        if key == "properties":
            feature["properties"] = value
        else:
            feature[key] = value
    return feature


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (
            ITEMS,
            _with(geometry={"type": "LineString", "coordinates": [[120.6, 31.3], [120.7, 31.3]]}),
            "geometry: expected Point, got LineString",
        ),
        (
            ZONE_ITEMS,
            _with(geometry={"type": "Point", "coordinates": [120.6, 31.3]}),
            "geometry: expected MultiPolygon or Polygon, got Point",
        ),
        (
            ITEMS,
            _with(geometry={"type": "MultiPoint", "coordinates": [[120.6, 31.3]]}),
            "geometry: expected Point, got MultiPoint",
        ),
        (
            ITEMS,
            _with(geometry=None),
            "geometry is required: every feature of editable.hydrants has one",
        ),
        (
            ITEMS,
            _with(geometry={"type": "Point", "coordinates": [120.6, 31.3, 12.0]}),
            "geometry: a position must be [x, y], two numbers, got [120.6, 31.3, 12.0]",
        ),
        (
            ITEMS,
            _with(geometry={"type": "Point", "coordinates": ["120.6", 31.3]}),
            'geometry: a position must be [x, y], two numbers, got ["120.6", 31.3]',
        ),
        (
            ZONE_ITEMS,
            _with(
                geometry={
                    "type": "Polygon",
                    "coordinates": [[[120.6, 31.3], [120.7, 31.3], [120.7, 31.4], [120.6, 31.4]]],
                }
            ),
            "geometry: a polygon ring must be closed (its last position equal to its first)",
        ),
        (
            ITEMS,
            _with(properties={"name": "H", "colour": "red"}),
            "unknown property 'colour': editable.hydrants has name, pressure_bar, outlets, "
            "in_service, installed, inspected_at, attrs",
        ),
        (
            ITEMS,
            _with(properties={"name": "H", "outlets": "three"}),
            "property 'outlets': expected integer, got 'three'",
        ),
        (
            ITEMS,
            _with(properties={"name": "H", "outlets": 2.5}),
            "property 'outlets': expected integer, got 2.5",
        ),
        (
            ITEMS,
            _with(properties={"name": "H", "in_service": "yes"}),
            "property 'in_service': expected boolean, got 'yes'",
        ),
        (
            ITEMS,
            _with(properties={"name": "H", "pressure_bar": True}),
            "property 'pressure_bar': expected number, got true",
        ),
        (
            ITEMS,
            _with(properties={"name": "H", "installed": "2019-02-30"}),
            "property 'installed': expected date (YYYY-MM-DD), got '2019-02-30'",
        ),
        (
            ITEMS,
            _with(properties={"name": "H", "inspected_at": "2026-11-20T09:30:00"}),
            "property 'inspected_at': expected datetime (RFC 3339 with a time zone), "
            "got '2026-11-20T09:30:00'",
        ),
        (
            ITEMS,
            _with(properties={"name": 7}),
            "property 'name': expected string, got 7",
        ),
        (ITEMS, _with(properties={"name": None}), "property 'name': may not be null"),
        (ITEMS, _with(properties=["name"]), 'properties must be an object, got ["name"]'),
        (
            ITEMS,
            {"type": "FeatureCollection", "features": []},
            "body must be a GeoJSON Feature (type 'Feature'), got 'FeatureCollection'",
        ),
        (
            ITEMS,
            _with(properties={"name": "H", "outlets": 9}),
            'the feature breaks a rule of editable.hydrants: new row for relation "hydrants" '
            'violates check constraint "hydrants_outlets_check"',
        ),
        (
            ITEMS,
            b'{"type": "Feature" "geometry": null}',
            "request body is not valid JSON: Expecting ',' delimiter: line 1 column 20 (char 19)",
        ),
        (
            ITEMS,
            b'{"type": "Feature", "properties": {"name": "\xff"}}',
            "request body is not UTF-8: byte 0xff at offset 44",
        ),
        (
            ITEMS,
            b'{"type": "Feature", "properties": {"pressure_bar": NaN}}',
            "request body is not valid JSON: NaN is not a JSON value",
        ),
        (ITEMS, b"", "request body is empty; send a GeoJSON Feature"),
    ],
)
def test_a_bad_body_is_refused_with_a_message_naming_the_problem(
    client, engine, unchanged, path, body, message
):
    response = send(client, "POST", path, body)
    assert response.status_code == 400
    assert response.json == {"code": "InvalidParameterValue", "description": message}


def test_an_invalid_geometry_is_refused_with_the_reason(client, engine, unchanged):
    feature = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": BOWTIE}}
    response = send(client, "POST", ZONE_ITEMS, feature)
    assert response.status_code == 400
    description = response.json["description"]
    assert description.startswith("geometry is not valid: Self-intersection[120.65")


def test_an_invalid_geometry_is_refused_in_a_replacement_too(client, engine):
    fid, etag = create(
        client,
        path=ZONE_ITEMS,
        feature={
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": square(120.6, 31.3)},
        },
    )
    before = everything(engine)
    feature = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": BOWTIE}}
    response = send(client, "PUT", f"{ZONE_ITEMS}/{fid}", feature, **{"If-Match": etag})
    assert response.status_code == 400
    assert response.json["description"].startswith("geometry is not valid: Self-intersection")
    assert everything(engine) == before


def test_replace_refuses_a_body_id_other_than_the_path_id(client, engine):
    fid, etag = create(client)
    before = everything(engine)
    feature = {**hydrant(), "id": fid + 1}
    response = send(client, "PUT", f"{ITEMS}/{fid}", feature, **{"If-Match": etag})
    assert response.status_code == 400
    assert (
        response.json["description"]
        == f"id {fid + 1} in the body does not match '{fid}' in the path"
    )
    assert everything(engine) == before


def test_edits_take_bodies_up_to_their_own_limit_above_the_global_one(client):
    feature = hydrant(name="x" * 20_000)
    assert len(json.dumps(feature)) > 4096
    response = send(client, "POST", ITEMS, feature)
    assert response.status_code == 201, response.json
    assert response.json["properties"]["name"] == "x" * 20_000
    other = client.post(
        "/maps/preview/style.json", data=json.dumps(feature), content_type="application/json"
    )
    assert other.status_code == 413
    assert other.json["description"].endswith("over the limit of 4096 bytes")


def test_a_body_over_the_limit_is_refused_with_413(client, engine, unchanged):
    feature = hydrant(name="x" * MAX_BODY)
    response = send(client, "POST", ITEMS, feature)
    assert response.status_code == 413
    size = len(json.dumps(feature))
    assert response.json["description"] == (
        f"request body of {size} bytes is over the limit of {MAX_BODY} bytes"
    )


@pytest.mark.parametrize(
    ("method", "content_type"),
    [
        ("POST", "text/plain"),
        ("POST", None),
        ("POST", "application/geo+json; charset=latin-1"),
        ("PATCH", "application/json"),
    ],
)
def test_other_media_types_are_refused_with_415(client, engine, method, content_type):
    fid, etag = create(client)
    before = everything(engine)
    path = ITEMS if method == "POST" else f"{ITEMS}/{fid}"
    response = send(
        client, method, path, hydrant(), content_type=content_type, **{"If-Match": etag}
    )
    assert response.status_code == 415
    assert response.json["code"] == "UnsupportedMediaType"
    assert everything(engine) == before


def test_geojson_and_json_are_both_accepted_for_features(client, engine):
    response = send(client, "POST", ITEMS, hydrant(), content_type="application/json")
    assert response.status_code == 201
    fid, etag = response.json["id"], response.headers["ETag"]
    patch = {"properties": {"outlets": 1}}
    response = send(client, "PATCH", f"{ITEMS}/{fid}", patch, **{"If-Match": etag})
    assert response.status_code == 200


# --- preconditions ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_a_change_without_if_match_is_refused_with_428(client, engine, method):
    fid, _ = create(client)
    before = everything(engine)
    body = None if method == "DELETE" else hydrant()
    response = send(client, method, f"{ITEMS}/{fid}", body)
    assert response.status_code == 428
    assert response.json["code"] == "PreconditionRequired"
    assert everything(engine) == before


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_a_stale_if_match_is_refused_with_412_and_the_current_etag(client, engine, method):
    fid, old_etag = create(client)
    current = send(
        client, "PATCH", f"{ITEMS}/{fid}", {"properties": {"outlets": 1}}, **{"If-Match": old_etag}
    ).headers["ETag"]
    row_before, version_before = stored(engine, fid), layer_version(engine)
    body = None if method == "DELETE" else hydrant(name="late")

    response = send(client, method, f"{ITEMS}/{fid}", body, **{"If-Match": old_etag})

    assert response.status_code == 412
    assert response.headers["ETag"] == current == row_before["etag"]
    assert response.json["code"] == "PreconditionFailed"
    assert stored(engine, fid) == row_before
    assert layer_version(engine) == version_before
    rejected = audit_rows(engine, fid)[-1]
    assert rejected["outcome"] == "rejected" and rejected["after"] is None
    assert rejected["before"]["properties"]["outlets"] == 1


def test_weak_or_malformed_if_match_never_matches(client, engine):
    fid, etag = create(client)
    for header in (f"W/{etag}", etag.strip('"'), "garbage"):
        response = send(client, "DELETE", f"{ITEMS}/{fid}", **{"If-Match": header})
        assert response.status_code == 412
    assert stored(engine, fid) is not None


def test_change_of_a_missing_feature_is_404(client, engine, unchanged):
    for fid in ("987654321", "not-a-number", "99999999999999999999999"):
        response = send(client, "DELETE", f"{ITEMS}/{fid}", **{"If-Match": "*"})
        assert response.status_code == 404
        assert response.json["description"] == f"no feature {fid} in collection {HYDRANTS}"


# --- who may edit ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status", "description"),
    [
        (
            WATER_VIEWER,
            403,
            "water_utility viewers may not edit editable.hydrants; it takes an editor or admin "
            "key of water_utility",
        ),
        (
            EMERGENCY_EDITOR,
            403,
            "emergency_management editors may not edit editable.hydrants; it takes an editor or "
            "admin key of water_utility",
        ),
        (GAS_EDITOR, 404, "no collection 'editable.hydrants'"),
        (None, 404, "no collection 'editable.hydrants'"),
    ],
)
def test_only_editors_of_an_editing_department_may_change(client, engine, who, status, description):
    fid, etag = create(client)
    before = everything(engine)
    for method, path, body in (
        ("POST", ITEMS, hydrant()),
        ("PUT", f"{ITEMS}/{fid}", hydrant()),
        ("PATCH", f"{ITEMS}/{fid}", {"properties": {"outlets": 1}}),
        ("DELETE", f"{ITEMS}/{fid}", None),
    ):
        response = send(client, method, path, body, who=who, **{"If-Match": etag})
        assert (response.status_code, response.json["description"]) == (status, description)
    assert everything(engine) == before


def test_a_layer_nobody_edits_answers_405(client, engine, unchanged):
    response = send(client, "POST", f"/collections/{PUBLISHED}/items", hydrant())
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"
    assert response.json["description"] == (
        f"collection '{PUBLISHED}' is read-only: no department edits it through the API"
    )
    response = send(client, "DELETE", f"/collections/{PUBLISHED}/items/1", **{"If-Match": "*"})
    assert response.status_code == 405


def test_an_admin_of_the_editing_department_may_edit(client, engine):
    fid, _ = create(client, who=WATER_ADMIN)
    assert audit_rows(engine, fid)[0]["role"] == "admin"


# --- concurrency -----------------------------------------------------------------------------


def _waiting_on_locks(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text(
                """SELECT count(*) FROM pg_stat_activity
                    WHERE datname = current_database() AND wait_event_type = 'Lock'"""
            )
        ).scalar_one()


def test_two_edits_with_one_etag_one_applies_the_other_is_refused(app, engine):
    client = app.test_client()
    fid, etag = create(client, hydrant(name="contested"))
    results: dict[str, object] = {}
    start = threading.Barrier(2)

    def edit(name: str) -> None:
        try:
            start.wait(5)
            results[name] = send(
                app.test_client(),
                "PATCH",
                f"{ITEMS}/{fid}",
                {"properties": {"name": name}},
                **{"If-Match": etag},
            )
        except Exception as error:  # reported by the main thread
            results[name] = error

    # The test holds the row lock until both edits wait for it, so they truly contend.
    with engine.connect() as holder:
        holder.execute(
            text("SELECT 1 FROM editable.hydrants WHERE id = :id FOR UPDATE"), {"id": fid}
        )
        threads = [threading.Thread(target=edit, args=(name,)) for name in ("first", "second")]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while _waiting_on_locks(engine) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _waiting_on_locks(engine) == 2
        holder.rollback()
    for thread in threads:
        thread.join(10)

    statuses = {name: response.status_code for name, response in results.items()}
    assert sorted(statuses.values()) == [200, 412]
    winner = next(name for name, status in statuses.items() if status == 200)
    loser = next(name for name, status in statuses.items() if status == 412)
    row = stored(engine, fid)
    assert row["properties"]["name"] == winner
    assert results[winner].headers["ETag"] == row["etag"] == results[loser].headers["ETag"]
    updates = [
        (r["outcome"], r["before"]["properties"]["name"]) for r in audit_rows(engine, fid)[1:]
    ]
    assert updates == [("ok", "contested"), ("rejected", winner)]


# --- history and audit -----------------------------------------------------------------------


def test_history_lists_the_versions_oldest_first_for_every_reader(client, engine):
    fid, etag = create(client, hydrant(name="v1"))
    etag = send(
        client, "PATCH", f"{ITEMS}/{fid}", {"properties": {"name": "v2"}}, **{"If-Match": etag}
    ).headers["ETag"]
    send(client, "PATCH", f"{ITEMS}/{fid}", {"properties": {"name": "x"}}, **{"If-Match": '"0"'})
    etag = send(
        client, "PUT", f"{ITEMS}/{fid}", hydrant(name="v3", in_service=True), **{"If-Match": etag}
    ).headers["ETag"]

    response = send(client, "GET", f"{ITEMS}/{fid}/history", who=EMERGENCY_VIEWER)

    assert response.status_code == 200
    versions = response.json["versions"]
    assert [v["action"] for v in versions] == ["create", "update", "replace"]
    assert [v["version"] for v in versions] == [1, 2, 3]
    assert [v["after"]["properties"]["name"] for v in versions] == ["v1", "v2", "v3"]
    assert versions[0]["before"] is None
    assert versions[1]["before"] == versions[0]["after"]
    assert versions[0]["department"] == "water_utility"
    assert versions[0]["at"] <= versions[1]["at"] <= versions[2]["at"]
    assert response.json["featureId"] == str(fid)

    for who in (GAS_EDITOR, None):
        assert send(client, "GET", f"{ITEMS}/{fid}/history", who=who).status_code == 404
    missing = send(client, "GET", f"{ITEMS}/987654321/history")
    assert missing.status_code == 404


def test_audit_is_for_admins_of_layers_they_may_read(client, engine):
    fid, _ = create(client, hydrant(name="audited"))
    zone = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": square(120.5, 31.2)}}
    zone_id, _ = create(client, zone, path=ZONE_ITEMS)

    for who in (WATER_EDITOR, EMERGENCY_VIEWER, None):
        response = send(client, "GET", "/audit", who=who)
        assert response.status_code == 403
        assert response.json["description"] == (
            "the audit log is open to administrators only; send an admin key"
        )

    everything_seen = send(client, "GET", "/audit?limit=1000", who=WATER_ADMIN).json["entries"]
    assert {(e["layer"], e["featureId"]) for e in everything_seen} >= {
        (HYDRANTS, str(fid)),
        (ZONES, str(zone_id)),
    }
    hydrants_only = send(client, "GET", f"/audit?layer={HYDRANTS}&limit=1000", who=WATER_ADMIN)
    assert {e["layer"] for e in hydrants_only.json["entries"]} == {HYDRANTS}
    # Gas may read the internal zones but not the hydrants.
    gas = send(client, "GET", "/audit?limit=1000", who=GAS_ADMIN).json["entries"]
    assert {e["layer"] for e in gas} == {ZONES}
    assert send(client, "GET", f"/audit?layer={HYDRANTS}", who=GAS_ADMIN).status_code == 404


def test_audit_filters_by_time_and_pages(client, engine):
    with engine.connect() as conn:
        now = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
    created = [create(client, hydrant(name=f"paged-{i}"))[0] for i in range(3)]
    since = now.isoformat()

    response = client.get(
        "/audit",
        query_string={"since": since, "limit": 2},
        headers={"X-Test-Principal": WATER_ADMIN},
    )
    page = response.json
    assert [e["featureId"] for e in page["entries"]] == [str(f) for f in created[:2]]
    assert page["numberReturned"] == 2
    next_link = next(link["href"] for link in page["links"] if link["rel"] == "next")
    rest = client.get(next_link, headers={"X-Test-Principal": WATER_ADMIN}).json
    assert [e["featureId"] for e in rest["entries"]] == [str(created[2])]
    until = client.get(
        "/audit",
        query_string={"since": since, "until": since},
        headers={"X-Test-Principal": WATER_ADMIN},
    ).json
    assert until["entries"] == []

    for name, value, expected in (
        ("since", "yesterday", "since: expected an RFC 3339 date-time with a time zone"),
        ("until", "2026-11-23T08:00:00", "until: expected an RFC 3339 date-time with a time zone"),
        ("limit", "0", "limit: expected an integer from 1 to 1000, got '0'"),
        ("limit", "many", "limit: expected an integer from 1 to 1000, got 'many'"),
    ):
        response = client.get(
            "/audit", query_string={name: value}, headers={"X-Test-Principal": WATER_ADMIN}
        )
        assert response.status_code == 400
        assert response.json["description"].startswith(expected)


# --- tiles follow edits ----------------------------------------------------------------------


def _tile_ids(client, lon, lat, z=15, layer_id=HYDRANTS) -> tuple[set, str]:
    tile = TMS.tile(lon, lat, z)
    response = client.get(
        f"/tiles/{layer_id}/{z}/{tile.x}/{tile.y}.mvt", headers={"X-Test-Principal": WATER_VIEWER}
    )
    if response.status_code == 204:
        return set(), response.headers.get("ETag", "")
    layers = mapbox_vector_tile.decode(response.data)
    ids = {f["id"] for f in layers.get(layer_id, {}).get("features", [])}
    return ids, response.headers["ETag"]


def test_an_edit_reaches_the_tiles(app, client, engine):
    service = app.blueprints["tiles"].tile_service
    assert service.versions.wait_live(10)
    fid, etag = create(client, hydrant(120.91, 31.51, name="tiled"))
    deadline = time.monotonic() + 5
    while fid not in _tile_ids(client, 120.91, 31.51)[0] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fid in _tile_ids(client, 120.91, 31.51)[0]

    moved = {"geometry": {"type": "Point", "coordinates": [120.95, 31.55]}}
    assert send(client, "PATCH", f"{ITEMS}/{fid}", moved, **{"If-Match": etag}).status_code == 200

    deadline = time.monotonic() + 5
    while fid in _tile_ids(client, 120.91, 31.51)[0] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fid not in _tile_ids(client, 120.91, 31.51)[0]
    assert fid in _tile_ids(client, 120.95, 31.55)[0]


def test_the_etag_a_read_sends_is_the_one_an_edit_takes(client, engine):
    fid, created_etag = create(client, hydrant(name="read-then-edit"))
    viewer = {"X-Test-Principal": EMERGENCY_VIEWER}
    read = client.get(f"{ITEMS}/{fid}", headers=viewer)
    assert read.headers["ETag"] == created_etag

    patch = {"properties": {"outlets": 5}}
    edited = send(client, "PATCH", f"{ITEMS}/{fid}", patch, **{"If-Match": read.headers["ETag"]})

    assert edited.status_code == 200
    assert client.get(f"{ITEMS}/{fid}", headers=viewer).headers["ETag"] == edited.headers["ETag"]


def test_nul_character_in_a_property_is_refused(client, unchanged):
    feature = hydrant(name="H\u00001")
    response = send(client, "POST", ITEMS, feature)
    assert response.status_code == 400, response.json
    assert response.json["code"] == "InvalidParameterValue"
    assert "NUL" in response.json["description"]


def test_an_edit_reaches_the_tiles_of_every_layer_over_the_same_table(app, client, engine):
    # editable.published_hydrants reads editable.hydrants too: an edit through one layer must not
    # leave the other's cached tiles standing.
    service = app.blueprints["tiles"].tile_service
    assert service.versions.wait_live(10)

    def published_ids() -> set:
        return _tile_ids(client, 120.87, 31.47, layer_id=PUBLISHED)[0]

    before = published_ids()  # cached now
    fid, _ = create(client, hydrant(120.87, 31.47, name="published"))
    deadline = time.monotonic() + 5
    while fid not in published_ids() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert published_ids() == before | {fid}


# --- counts and extents follow edits -----------------------------------------------------------


def _collection(client, layer_id) -> dict:
    response = client.get(f"/collections/{layer_id}", headers={"X-Test-Principal": WATER_VIEWER})
    assert response.status_code == 200, response.json
    return response.json


def test_edits_keep_the_count_and_cover_the_extent_of_every_layer_over_the_table(client, engine):
    # Past the extent of everything created so far (the tests create features up to 120.95E).
    fid, etag = create(client, hydrant(121.20, 31.05, name="far south-east"))
    for layer_id in (HYDRANTS, PUBLISHED):
        collection = _collection(client, layer_id)
        assert collection["featureCount"] == count_rows(engine, HYDRANTS)
        west, south, east, north = collection["extent"]["spatial"]["bbox"][0]
        assert east == pytest.approx(121.20) and south == pytest.approx(31.05)

    moved = {"geometry": {"type": "Point", "coordinates": [121.25, 31.02]}}
    response = send(client, "PATCH", f"{ITEMS}/{fid}", moved, **{"If-Match": etag})
    assert response.status_code == 200
    west, south, east, north = _collection(client, HYDRANTS)["extent"]["spatial"]["bbox"][0]
    assert east == pytest.approx(121.25) and south == pytest.approx(31.02)

    response = send(client, "DELETE", f"{ITEMS}/{fid}", **{"If-Match": response.headers["ETag"]})
    assert response.status_code == 204
    for layer_id in (HYDRANTS, PUBLISHED):
        collection = _collection(client, layer_id)
        assert collection["featureCount"] == count_rows(engine, HYDRANTS)
        # An extent is kept covering, not tight: a delete leaves it as it was until the next
        # load (the bbox of OGC API collections may be larger than the data).
        west, south, east, north = collection["extent"]["spatial"]["bbox"][0]
        assert east == pytest.approx(121.25)
