"""The demo city loads into the eight base layers as an independent reading of the file says."""

from __future__ import annotations

import pytest
from pyproj import Geod
from shapely import wkb
from sqlalchemy import text

from layers.base.osm import LAYER_NAMES
from tests.conftest import DEMO_OSM, count_rows
from tests.osm_count import GdalSelection, outer_ways_of_tagged_multipolygons

LIECHTENSTEIN_BBOX = (9.47, 47.04, 9.64, 47.28)


@pytest.fixture(scope="module")
def gdal():
    return GdalSelection(DEMO_OSM)


def stored_keys(engine, layer: str) -> set[tuple[str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT osm_type, osm_id FROM base.{layer}"))
        return {(t, i) for t, i in rows}


@pytest.mark.parametrize("layer", LAYER_NAMES)
def test_layer_holds_exactly_the_objects_gdal_selects(demo_engine, gdal, layer):
    ours = stored_keys(demo_engine, layer)
    theirs = getattr(gdal, layer)()
    assert theirs - ours == set(), f"{layer}: objects GDAL selects that were not loaded"
    # The only extra objects allowed are tagged outer ways GDAL hides (see osm_count).
    assert ours - theirs <= outer_ways_of_tagged_multipolygons(DEMO_OSM)
    assert len(ours - theirs) <= 1


def test_summary_counts_match_the_tables(demo_engine, demo_load):
    for layer in demo_load.layers:
        assert count_rows(demo_engine, layer.layer) == layer.rows
    rows = demo_load.rows()
    assert rows["base.roads"] == 4658
    assert rows["base.admin_areas"] == 14
    skipped = {s.layer: sum(s.skipped.values()) for s in demo_load.layers}
    # 31 boundary relations of neighbouring Swiss/Austrian areas are cut by the extract.
    assert skipped["base.admin_areas"] == 31


def test_admin_tree_of_liechtenstein(demo_engine):
    with demo_engine.connect() as conn:
        rows = conn.execute(
            text(
                """SELECT a.name, a.level, a.area_m2, p.name AS parent, gp.name AS grandparent
                     FROM base.admin_areas a
                     LEFT JOIN base.admin_areas p ON p.id = a.parent_id
                     LEFT JOIN base.admin_areas gp ON gp.id = p.parent_id"""
            )
        ).mappings()
        areas = {row["name"]: row for row in rows}
    municipalities = [n for n, r in areas.items() if r["level"] == "township"]
    assert len(municipalities) == 11
    assert areas["Liechtenstein"]["level"] == "city"
    assert areas["Liechtenstein"]["parent"] is None
    assert areas["Vaduz"]["parent"] == "Wahlkreis Oberland"
    assert areas["Vaduz"]["grandparent"] == "Liechtenstein"
    assert areas["Ruggell"]["parent"] == "Wahlkreis Unterland"
    # Official areas: Liechtenstein 160.5 km², Vaduz 17.3 km².
    assert areas["Liechtenstein"]["area_m2"] / 1e6 == pytest.approx(160.5, rel=0.01)
    assert areas["Vaduz"]["area_m2"] / 1e6 == pytest.approx(17.3, rel=0.01)


def test_geometries_valid_in_cgcs2000_with_mercator_copy(demo_engine):
    with demo_engine.connect() as conn:
        for layer in LAYER_NAMES:
            row = conn.execute(
                text(
                    f"""SELECT count(*) FILTER (WHERE NOT ST_IsValid(geom)) AS invalid,
                               count(*) FILTER (WHERE ST_SRID(geom) <> 4490) AS wrong_srid,
                               max(ST_Distance(geom_3857, ST_Transform(geom, 3857))) AS drift
                          FROM base.{layer}"""
                )
            ).one()
            assert row.invalid == 0, layer
            assert row.wrong_srid == 0, layer
            assert row.drift == 0, layer
        srid = conn.execute(text("SELECT projected_srid FROM platform.city")).scalar_one()
    assert srid == 32632


def test_building_area_matches_geodesic_area(demo_engine):
    """Stored areas (UTM 32N) agree with geodesic areas on the ellipsoid within 0.5 %."""
    geod = Geod(ellps="GRS80")
    with demo_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT area_m2, ST_AsBinary(geom) FROM base.buildings ORDER BY id LIMIT 200")
        ).all()
    for area, geometry in rows:
        geodesic = abs(geod.geometry_area_perimeter(wkb.loads(geometry))[0])
        assert area == pytest.approx(geodesic, rel=0.005)


def test_road_attributes(demo_engine):
    with demo_engine.connect() as conn:
        rows = (
            conn.execute(
                text(
                    """SELECT class, maxspeed, maxspeed_source, oneway, length_m, name
                     FROM base.roads"""
                )
            )
            .mappings()
            .all()
        )
    assert all(r["length_m"] > 0 for r in rows)
    assert {r["maxspeed_source"] for r in rows} == {"tagged", "class"}
    residential = [
        r for r in rows if r["class"] == "residential" and r["maxspeed_source"] == "class"
    ]
    assert residential and all(r["maxspeed"] == 30 for r in residential)
    assert any(r["oneway"] == 1 for r in rows)
    named = {r["name"] for r in rows if r["name"]}
    assert "Landstrasse" in named
    total_km = sum(r["length_m"] for r in rows) / 1000
    assert 1000 < total_km < 2000


def test_addresses_link_to_buildings(demo_engine):
    with demo_engine.connect() as conn:
        row = conn.execute(
            text(
                """SELECT count(*) FILTER (WHERE source = 'building') AS building,
                          count(*) FILTER (WHERE source = 'building' AND a.building_id = a.id)
                              AS own,
                          count(*) FILTER (WHERE source = 'point' AND building_id IS NOT NULL)
                              AS points_in_buildings,
                          count(*) FILTER (WHERE b.id IS NULL AND a.building_id IS NOT NULL)
                              AS dangling
                     FROM base.addresses a LEFT JOIN base.buildings b ON b.id = a.building_id"""
            )
        ).one()
    assert row.building > 800
    assert row.own == row.building
    assert row.points_in_buildings > 0
    assert row.dangling == 0


def test_every_layer_has_a_version_count_and_extent(demo_engine, demo_load):
    with demo_engine.connect() as conn:
        states = conn.execute(
            text("SELECT layer_id, version, feature_count, bbox FROM platform.layer_state")
        ).all()
    assert {s.layer_id for s in states} == {f"base.{n}" for n in LAYER_NAMES}
    rows = demo_load.rows()
    for state in states:
        assert state.feature_count == rows[state.layer_id]
        west, south, east, north = state.bbox
        assert west < east and south < north
        assert west > 9.3 and east < 9.8 and south > 46.9 and north < 47.6
