"""GET /reverse on the demo city: the areas around a point, the nearest address and road, and
the grid cell from whichever readable layer declares itself one."""

from __future__ import annotations

import pytest
from sqlalchemy import text

VADUZ_CENTRE = (9.5209, 47.1410)
TRIESENBERG = (9.5420, 47.1180)
OUTSIDE = (9.70, 47.30)  # Austria, some 15 km north-east of Schaan


def reverse(client, point, headers=None) -> dict:
    lon, lat = point
    response = client.get(f"/reverse?lon={lon}&lat={lat}", headers=headers or {})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.json


def nearest_by_sql(engine, table: str, point, named: str | None = None) -> tuple[int, float]:
    """The nearest feature measured on the ellipsoid against every row: no index, no shortcut."""
    where = f"WHERE {named} IS NOT NULL" if named else ""
    with engine.connect() as conn:
        return tuple(
            conn.execute(
                text(
                    f"""SELECT id, ST_Distance(geom::geography, p::geography) AS d
                          FROM {table},
                               ST_SetSRID(ST_MakePoint(:lon, :lat), 4490) AS p
                          {where}
                         ORDER BY d, id
                         LIMIT 1"""
                ),
                {"lon": point[0], "lat": point[1]},
            ).one()
        )


def test_a_point_in_vaduz_lies_in_liechtenstein_and_vaduz(client):
    areas = reverse(client, VADUZ_CENTRE)["admin_areas"]
    assert [(a["name"], a["type"]) for a in areas] == [
        ("Liechtenstein", "city"),
        ("Wahlkreis Oberland", "district"),
        ("Vaduz", "township"),
    ]
    assert {a["layer"] for a in areas} == {"base.admin_areas"}


@pytest.mark.parametrize("point", [VADUZ_CENTRE, TRIESENBERG], ids=["vaduz", "triesenberg"])
def test_nearest_address_and_road_are_those_sql_finds(client, demo_engine, point):
    found = reverse(client, point)
    expected = {
        "address": nearest_by_sql(demo_engine, "base.addresses", point),
        "road": nearest_by_sql(demo_engine, "base.roads", point, named="name"),
    }
    for member, (fid, distance) in expected.items():
        assert found[member]["id"] == fid, member
        assert found[member]["distance_m"] == pytest.approx(distance, abs=0.5), member
        assert found[member]["nearest_point"]["type"] == "Point"
    assert found["road"]["layer"] == "base.roads" and found["road"]["name"]
    assert found["address"]["layer"] == "base.addresses"


def test_the_nearest_point_of_a_road_lies_on_it_at_the_distance_given(client, demo_engine):
    road = reverse(client, VADUZ_CENTRE)["road"]
    lon, lat = road["nearest_point"]["coordinates"]
    with demo_engine.connect() as conn:
        on_road, to_point = conn.execute(
            text(
                """SELECT ST_Distance(geom::geography, q::geography),
                          ST_Distance(q::geography, p::geography)
                     FROM base.roads,
                          ST_SetSRID(ST_MakePoint(:lon, :lat), 4490) AS q,
                          ST_SetSRID(ST_MakePoint(:x, :y), 4490) AS p
                    WHERE id = :id"""
            ),
            {"lon": lon, "lat": lat, "x": VADUZ_CENTRE[0], "y": VADUZ_CENTRE[1], "id": road["id"]},
        ).one()
    assert on_road < 0.05
    assert to_point == pytest.approx(road["distance_m"], abs=0.5)


def test_outside_the_city_there_are_no_areas_and_nothing_is_near(client):
    assert reverse(client, OUTSIDE) == {
        "lon": OUTSIDE[0],
        "lat": OUTSIDE[1],
        "admin_areas": [],
        "address": None,
        "road": None,
        "grid": None,
    }


def test_just_outside_the_border_the_nearest_road_is_still_given(client, demo_engine):
    # On the Swiss bank of the Rhine opposite Vaduz: outside every area, roads within metres.
    point = (9.5000, 47.1400)
    found = reverse(client, point)
    assert found["admin_areas"] == []
    fid, distance = nearest_by_sql(demo_engine, "base.roads", point, named="name")
    assert found["road"]["id"] == fid and found["road"]["distance_m"] < 5000


def test_without_a_grid_layer_the_grid_is_null(client):
    assert reverse(client, VADUZ_CENTRE)["grid"] is None


def test_the_grid_cell_comes_from_a_readable_layer_that_declares_itself_one(
    internal_client, key_for
):
    assert reverse(internal_client, VADUZ_CENTRE)["grid"] is None  # internal: not for anonymous
    cell = reverse(internal_client, VADUZ_CENTRE, key_for("gas_utility"))["grid"]
    assert (cell["layer"], cell["name"], cell["type"]) == (
        "cells.municipalities",
        "Vaduz",
        "township",
    )
    assert "distance_m" not in cell


def test_anonymous_answers_name_no_internal_layer(internal_client, key_for):
    anonymous = internal_client.get("/reverse?lon=9.5209&lat=47.1410")
    assert "internal." not in anonymous.get_data(as_text=True)
    assert "cells." not in anonymous.get_data(as_text=True)
    assert anonymous.headers["Cache-Control"].startswith("public")
    keyed = internal_client.get("/reverse?lon=9.5209&lat=47.1410", headers=key_for("gas_utility"))
    assert keyed.headers["Cache-Control"].startswith("private")
