"""The import as a service: every format round-trips into the layer's table, coordinates are
reprojected into the storage CRS, geometries are promoted and repaired, and the layer's version,
count and audit trail move with the data."""

from __future__ import annotations

import json

import pytest
import shapely
from pyproj import Transformer
from sqlalchemy import text

from geoplatform.imports import ImportOptions, import_file
from tests.imports import files
from tests.imports.conftest import layer_version, snapshot

HYDRANTS = "editable.hydrants"
ZONES = "editable.zones"
# CGCS2000 / 3-degree Gauss-Kruger CM 120E: the projected CRS of a city at 120.6°E.
GAUSS_KRUGER_120 = "EPSG:4549"


def run_import(platform, layer_id, path, **options):
    layer = platform.registry.get(layer_id)
    return import_file(platform.engine, platform.registry, layer, path, ImportOptions(**options))


def stored_hydrants(engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                """SELECT name, outlets, installed, ST_AsBinary(geom) AS wkb, ST_SRID(geom) AS srid
                     FROM editable.hydrants ORDER BY id"""
            )
        )
        return [row._asdict() for row in rows]


@pytest.mark.parametrize(
    ("suffix", "options"),
    [
        (".gpkg", {}),
        (".zip", {}),
        (".shp", {}),
        (".geojson", {}),
        (".fgb", {}),
        (".csv", {"crs": "EPSG:4490"}),
        ("lonlat.csv", {"crs": "EPSG:4490"}),
    ],
    ids=[
        "GeoPackage",
        "zipped Shapefile",
        "Shapefile",
        "GeoJSON",
        "FlatGeobuf",
        "CSV WKT",
        "CSV lon/lat",
    ],
)
def test_each_format_round_trips_into_the_layer(
    platform, engine, empty_layers, tmp_path, suffix, options
):
    source = files.hydrants(7)
    if suffix == "lonlat.csv":
        path = files.write_csv(source, tmp_path / "hydrants.csv", geometry="lonlat")
    else:
        path = files.write(source, tmp_path / f"hydrants{suffix}")

    result = run_import(platform, HYDRANTS, path, **options)

    assert (result.report.read, result.written, result.before, result.after) == (7, 7, 0, 7)
    assert result.report.refused_total == 0
    # By name: FlatGeobuf files keep their features in the order of their spatial index.
    stored = {row["name"]: row for row in stored_hydrants(engine)}
    assert sorted(stored) == sorted(source["name"])
    for expected in source.itertuples():
        row = stored[expected.name]
        assert (row["outlets"], row["installed"], row["srid"]) == (
            expected.outlets,
            expected.installed,
            4490,
        )
        assert shapely.from_wkb(row["wkb"]).equals_exact(expected.geometry, tolerance=1e-9)


def test_coordinates_in_another_crs_are_reprojected_into_the_storage_crs(
    platform, engine, empty_layers, tmp_path
):
    lon, lat = 120.6301234, 31.3104321
    to_gk = Transformer.from_crs("EPSG:4490", GAUSS_KRUGER_120, always_xy=True)
    easting, northing = to_gk.transform(lon, lat)
    source = files.hydrants(1, crs=GAUSS_KRUGER_120)
    source.geometry = [shapely.Point(easting, northing)]
    path = files.write(source, tmp_path / "projected.gpkg")

    run_import(platform, HYDRANTS, path)

    stored = shapely.from_wkb(stored_hydrants(engine)[0]["wkb"])
    assert stored.x == pytest.approx(lon, abs=1e-6)
    assert stored.y == pytest.approx(lat, abs=1e-6)
    back = to_gk.transform(stored.x, stored.y)
    assert back == pytest.approx((easting, northing), abs=0.01)


def test_a_csv_in_web_mercator_lands_where_its_lon_lat_would(
    platform, engine, empty_layers, tmp_path
):
    lon, lat = files.SUZHOU
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True).transform(lon, lat)
    path = tmp_path / "mercator.csv"
    path.write_text(f"name,x,y\nH-1,{x!r},{y!r}\n")

    run_import(platform, HYDRANTS, path, crs="EPSG:3857")

    stored = shapely.from_wkb(stored_hydrants(engine)[0]["wkb"])
    # CGCS2000 and WGS 84 agree to centimetres; the transformation is the null one.
    assert (stored.x, stored.y) == pytest.approx((lon, lat), abs=1e-6)


def test_polygons_are_promoted_into_a_multipolygon_layer(platform, engine, empty_layers, tmp_path):
    path = files.write(files.zones(), tmp_path / "zones.gpkg")

    result = run_import(platform, ZONES, path)

    assert result.written == 3
    with engine.connect() as conn:
        kinds = conn.execute(
            text("SELECT DISTINCT ST_GeometryType(geom) FROM editable.zones")
        ).scalars()
        assert list(kinds) == ["ST_MultiPolygon"]


def test_an_invalid_polygon_is_repaired_and_counted(platform, engine, empty_layers, tmp_path):
    source = files.zones()
    source.loc[1, "geometry"] = files.bow_tie(*files.SUZHOU)
    path = files.write(source, tmp_path / "zones.gpkg")

    result = run_import(platform, ZONES, path)

    assert (result.written, result.report.repaired) == (3, 1)
    with engine.connect() as conn:
        valid, parts = conn.execute(
            text(
                "SELECT ST_IsValid(geom), ST_NumGeometries(geom) FROM editable.zones "
                "WHERE name = 'centre'"
            )
        ).one()
    assert (valid, parts) == (True, 2)


def test_append_adds_to_the_layer_and_bumps_its_version_and_audit(
    platform, engine, empty_layers, tmp_path
):
    first = run_import(platform, HYDRANTS, files.write(files.hydrants(4), tmp_path / "a.gpkg"))
    before = snapshot(engine, HYDRANTS)

    second = run_import(platform, HYDRANTS, files.write(files.hydrants(3), tmp_path / "b.fgb"))

    after = snapshot(engine, HYDRANTS)
    assert (second.before, second.after, after.rows) == (4, 7, 7)
    assert after.version == second.version > before.version == first.version
    # The published view of the same table changed with it.
    assert layer_version(engine, "editable.published_hydrants") > before.version
    with engine.connect() as conn:
        audit = conn.execute(
            text(
                "SELECT action, role, after FROM platform.audit_log "
                "WHERE layer_id = :layer AND fid LIKE 'import:%' ORDER BY id DESC LIMIT 1"
            ),
            {"layer": HYDRANTS},
        ).one()
    assert audit.action == "create"
    assert audit.role == "operator"
    assert audit.after["import"] | {"sha256": None} == {
        "file": "b.fgb",
        "format": "FlatGeobuf",
        "sha256": None,
        "mode": "append",
        "before": 4,
        "written": 3,
        "after": 7,
    }


def test_extra_columns_are_reported_and_ignored(platform, engine, empty_layers, tmp_path):
    source = files.hydrants(2)
    source["colour"] = ["red", "blue"]
    path = files.write(source, tmp_path / "extra.gpkg")

    result = run_import(platform, HYDRANTS, path)

    assert result.written == 2
    assert result.report.ignored_columns == ["colour"]
    assert any("colour" in note for note in result.report.notes)


def stored_properties(engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                """SELECT name, pressure_bar, outlets, in_service, installed, inspected_at, attrs
                     FROM editable.hydrants ORDER BY id"""
            )
        )
        return [row._asdict() for row in rows]


def test_text_cells_convert_to_every_declared_type(platform, engine, empty_layers, tmp_path):
    path = tmp_path / "hydrants.csv"
    path.write_text(
        "name,pressure_bar,outlets,in_service,installed,inspected_at,attrs,lon,lat\n"
        'H-1,3.5,2,false,2019-04-30,2026-11-20T09:30:00+08:00,"{""valve"": ""A""}",120.6,31.3\n'
        "H-2,,,true,,,,120.61,31.31\n"
    )

    run_import(platform, HYDRANTS, path, crs="EPSG:4326")

    first, second = stored_properties(engine)
    assert first["pressure_bar"] == 3.5
    assert (first["outlets"], first["in_service"]) == (2, False)
    assert first["installed"].isoformat() == "2019-04-30"
    assert first["inspected_at"].isoformat() == "2026-11-20T01:30:00+00:00"
    assert first["attrs"] == {"valve": "A"}
    assert second == {
        "name": "H-2",
        "pressure_bar": None,
        "outlets": None,
        "in_service": True,
        "installed": None,
        "inspected_at": None,
        "attrs": None,
    }


def test_a_column_left_out_takes_its_default(platform, engine, empty_layers, tmp_path):
    path = files.write(files.hydrants(2), tmp_path / "hydrants.gpkg")

    run_import(platform, HYDRANTS, path)

    assert [row["in_service"] for row in stored_properties(engine)] == [True, True]


def test_typed_geojson_values_are_stored_as_they_are(platform, engine, empty_layers, tmp_path):
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": list(files.SUZHOU)},
        "properties": {
            "name": "H-1",
            "pressure_bar": 4,
            "outlets": 3,
            "in_service": True,
            "installed": "2020-02-29",
            "inspected_at": "2026-11-20T09:30:00Z",
            "attrs": {"valve": "B", "sizes": [80, 100]},
        },
    }
    path = tmp_path / "hydrants.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))

    run_import(platform, HYDRANTS, path)

    (stored,) = stored_properties(engine)
    assert stored["pressure_bar"] == 4.0 and stored["outlets"] == 3
    assert stored["installed"].isoformat() == "2020-02-29"
    assert stored["inspected_at"].isoformat() == "2026-11-20T09:30:00+00:00"
    assert stored["attrs"] == {"valve": "B", "sizes": [80, 100]}
