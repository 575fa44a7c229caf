"""Clearance check on a synthetic network laid out in metres, each distance chosen by hand."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from geoplatform.db import make_engine
from geoplatform.errors import InvalidParameter, NotFound
from geoplatform.refdata import read_table
from layers.pipeline.clearance import (
    HORIZONTAL_TABLE,
    VERTICAL_TABLE,
    check_clearances,
    clearance_rules,
    parse_condition,
    required_clearance,
)
from layers.pipeline.measure import NoProjectedCrs, measuring_srid
from tests.layers.pipeline.drawing import UTM_32N, add_network, add_pipe

ORIGIN = (500_000.0, 5_200_000.0)
NETWORKS = [
    ("water", "JS", "给水管网", "Water mains"),
    ("reclaimed", "JS", "再生水管网", "Reclaimed water"),
    ("gas", "RQ", "燃气管网", "Gas mains"),
]
# code, network, utility, diameter, pressure class, (start, end) depths, line in metres from ORIGIN
PIPES = [
    # Side by side, outer walls 0.65 - 0.15 - 0.10 = 0.40 m apart: 给水 ↔ 燃气 中压 needs 0.5 m.
    ("W1", "water", "JS", 300, None, (1.2, 1.2), [(0, 0), (100, 0)]),
    ("G1", "gas", "RQ", 200, "中压A", (1.0, 1.0), [(20, 0.65), (80, 0.65)]),
    # Same network as W1 and touching it: never compared with W1.
    ("W6", "water", "JS", 300, None, (1.2, 1.2), [(-100, 0), (0, 0)]),
    # Another water network 0.8 m from W1: no row of the table covers 给水 ↔ 给水.
    ("R1", "reclaimed", "JS", 100, None, (1.0, 1.0), [(20, -1.0), (80, -1.0)]),
    # Outer walls 2.1 - 0.05 - 0.05 = 2.0 m apart: fine.
    ("W2", "water", "JS", 100, None, (1.0, 1.0), [(0, 100), (100, 100)]),
    ("G2", "gas", "RQ", 100, "中压B", (1.0, 1.0), [(0, 102.1), (100, 102.1)]),
    # Crossing at the middle of both: depths 1.5 and 1.25, clear 0.25 - 0.10 - 0.05 = 0.10 m.
    ("W3", "water", "JS", 200, None, (1.0, 2.0), [(0, 300), (100, 300)]),
    ("G3", "gas", "RQ", 100, "中压B", (1.0, 1.5), [(50, 250), (50, 350)]),
    # Crossing with depths 2.0 and 1.35: clear 0.65 - 0.15 = 0.50 m, fine.
    ("W4", "water", "JS", 200, None, (2.0, 2.0), [(0, 500), (100, 500)]),
    ("G4", "gas", "RQ", 100, "中压B", (1.35, 1.35), [(50, 450), (50, 550)]),
    # Crossing where the gas pipe's depth is unknown.
    ("W5", "water", "JS", 200, None, (1.0, 1.0), [(0, 700), (100, 700)]),
    ("G5", "gas", "RQ", 100, "中压B", (None, None), [(50, 650), (50, 750)]),
    # Outer walls 0.4 - 0.05 - 0.05 = 0.30 m apart: the worst horizontal violation.
    ("W7", "water", "JS", 100, None, (1.0, 1.0), [(0, 900), (100, 900)]),
    ("G7", "gas", "RQ", 100, "低压", (1.0, 1.0), [(0, 900.4), (100, 900.4)]),
]

INSERT_CITY = text(
    """
    INSERT INTO platform.city (id, projected_srid, bbox)
    VALUES (1, :srid, ARRAY[8.9, 46.9, 9.1, 47.0])
    ON CONFLICT (id) DO UPDATE SET projected_srid = EXCLUDED.projected_srid
    """
)


@pytest.fixture(scope="module")
def engine(make_database):
    engine = make_engine(make_database("clearance"))
    with engine.begin() as conn:
        conn.execute(INSERT_CITY, {"srid": UTM_32N})
        for code, utility, name_zh, name_en in NETWORKS:
            add_network(conn, code, utility, name_zh, name_en)
        for code, network, utility, diameter, pressure, (start, end), points in PIPES:
            add_pipe(
                conn,
                network,
                code,
                points,
                ORIGIN,
                utility,
                diameter_mm=diameter,
                pressure_class=pressure,
                start_depth_m=start,
                end_depth_m=end,
            )
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def report(engine):
    with engine.connect() as conn:
        return check_clearances(conn)


def codes(item) -> tuple[str, str]:
    return tuple(sorted((item.pipe_a.code, item.pipe_b.code)))


def test_parallel_pipes_closer_than_the_table_allows_are_a_horizontal_violation(report):
    worst, violation = report.horizontal
    assert codes(worst) == ("G7", "W7")
    assert worst.measured_m == pytest.approx(0.30, abs=0.01)
    assert codes(violation) == ("G1", "W1")
    assert violation.measured_m == pytest.approx(0.40, abs=0.01)
    assert violation.centreline_m == pytest.approx(0.65, abs=0.01)
    assert violation.required_m == 0.5
    assert violation.shortfall_m == pytest.approx(0.10, abs=0.01)
    assert violation.rule.id == "H10"
    assert violation.rule.clause == "GB 50289-2016 表4.1.9"
    assert violation.assumed == ()


def test_the_location_is_the_shortest_line_between_the_two_pipes(report):
    violation = report.horizontal[1]
    assert violation.geometry["type"] == "LineString"
    (lon_a, lat_a), (lon_b, lat_b) = violation.geometry["coordinates"]
    assert 8.9 < lon_a < 9.1 and 46.9 < lat_a < 47.0
    # 0.65 m north-south is about 5.8e-6 degrees of latitude.
    assert abs(lat_a - lat_b) == pytest.approx(0.65 / 111_200, rel=0.02)


def test_what_was_checked_is_counted(report):
    counts = report.counts
    # W1-G1, W7-G7, R1-G1 (1.5 m, fine) and W2-G2 (2.0 m, fine) have a rule; R1-W1 has none.
    assert counts.horizontal_pairs_checked == 4
    assert counts.horizontal_pairs_without_rule == 1
    assert counts.horizontal_violations == 2
    assert counts.crossings_checked == 3
    assert counts.crossings_without_rule == 0
    assert counts.vertical_violations == 1
    assert counts.unknown_depth_crossings == 1
    assert not report.truncated


def test_a_crossing_closer_than_the_table_allows_is_a_vertical_violation(report):
    [violation] = report.vertical
    assert codes(violation) == ("G3", "W3")
    depths = {
        violation.pipe_a.code: violation.depth_a_m,
        violation.pipe_b.code: violation.depth_b_m,
    }
    assert depths == {"W3": pytest.approx(1.5, abs=0.01), "G3": pytest.approx(1.25, abs=0.01)}
    assert violation.measured_m == pytest.approx(0.10, abs=0.01)
    assert violation.required_m == 0.15
    assert violation.rule.clause == "GB 50289-2016 表4.1.14"
    assert violation.geometry["type"] == "Point"


def test_a_crossing_with_an_unknown_depth_is_reported_as_unknown(report):
    [unknown] = report.unknown_depth
    assert codes(unknown) == ("G5", "W5")
    assert unknown.measured_m is None and unknown.shortfall_m is None
    assert {unknown.depth_a_m, unknown.depth_b_m} == {1.0, None}


def test_the_report_is_json_and_a_feature_collection(report):
    json.dumps(report.to_dict())
    collection = report.feature_collection()
    json.dumps(collection)
    kinds = sorted(feature["properties"]["kind"] for feature in collection["features"])
    assert kinds == ["horizontal", "horizontal", "vertical", "vertical_unknown_depth"]
    horizontal = collection["features"][0]
    assert {horizontal["properties"]["a_code"], horizontal["properties"]["b_code"]} == {"W7", "G7"}
    assert horizontal["properties"]["verified"] == "reference default"


def test_only_the_named_networks_are_compared(engine):
    with engine.connect() as conn:
        report = check_clearances(conn, networks=["water", "reclaimed"])
    assert report.horizontal == [] and report.vertical == []
    assert report.counts.horizontal_pairs_without_rule == 1
    assert report.counts.horizontal_pairs_checked == 0


def test_bbox_keeps_the_pipes_inside_it(engine):
    with engine.connect() as conn:
        (west, south), (east, north) = (
            corner_lonlat(conn, (-10, 250)),
            corner_lonlat(conn, (110, 350)),
        )
        report = check_clearances(conn, bbox=(west, south, east, north))
    assert report.horizontal == []
    assert [codes(item) for item in report.vertical] == [("G3", "W3")]


def corner_lonlat(conn, point: tuple[float, float]) -> tuple[float, float]:
    row = conn.execute(
        text(
            "SELECT ST_X(p), ST_Y(p) FROM "
            "ST_Transform(ST_SetSRID(ST_MakePoint(:x, :y), :srid), 4490) AS p"
        ),
        {"x": ORIGIN[0] + point[0], "y": ORIGIN[1] + point[1], "srid": UTM_32N},
    ).one()
    return row[0], row[1]


def test_limit_cuts_the_lists_but_not_the_counts(engine):
    with engine.connect() as conn:
        report = check_clearances(conn, limit=1)
    assert [codes(item) for item in report.horizontal] == [("G7", "W7")]
    assert report.counts.horizontal_violations == 2
    assert report.truncated


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"networks": ["water", "nope"]}, NotFound, "unknown network(s): nope"),
        ({"bbox": (9.1, 46.9, 8.9, 47.0)}, InvalidParameter, "bbox must be west < east"),
        ({"bbox": (9.0, 47.0)}, InvalidParameter, "bbox must be west, south, east, north"),
        ({"limit": 0}, InvalidParameter, "limit must be a positive integer, got 0"),
    ],
)
def test_bad_arguments_are_refused(engine, kwargs, error, message):
    with engine.connect() as conn, pytest.raises(error) as raised:
        check_clearances(conn, **kwargs)
    assert str(raised.value).startswith(message)


def test_without_a_city_the_pipes_choose_the_crs(engine):
    with engine.connect() as conn:
        conn.execute(text("DELETE FROM platform.city"))
        assert measuring_srid(conn) == 32632  # the UTM zone of the pipes near Vaduz
        conn.execute(text("DELETE FROM pipeline.pipes"))
        with pytest.raises(NoProjectedCrs, match="no city is loaded and no pipe either"):
            check_clearances(conn)
        conn.rollback()


def test_every_table_row_is_readable_and_marked():
    for table in (HORIZONTAL_TABLE, VERTICAL_TABLE):
        rules = clearance_rules(table)
        assert len(rules) == len(read_table(table))
        assert len({rule.id for rule in rules}) == len(rules)
        assert all(rule.min_m > 0 for rule in rules)
        assert {rule.verified for rule in rules} <= {"verified", "reference default"}
    verified = [r.id for r in clearance_rules(HORIZONTAL_TABLE) if r.verified == "verified"]
    # Only the rows of GB 50289-2016 Table 4.1.9 quoted in STANDARDS.md 3.3 (a).
    assert verified == ["H01", "H02", "H03", "H04", "H05", "H06", "H07", "H08"]


def pipe(code: str, utility: str, **attributes) -> dict:
    return {
        "code": code,
        "utility": utility,
        "diameter_mm": None,
        "pressure_class": None,
        "laying": None,
        **attributes,
    }


def test_rows_are_chosen_by_diameter_and_pressure_class_either_way_round():
    rules = clearance_rules(HORIZONTAL_TABLE)
    small_water, large_water = pipe("W", "JS", diameter_mm=200), pipe("W", "JS", diameter_mm=300)
    sewer = pipe("S", "PS", diameter_mm=600)
    assert required_clearance(rules, sewer, small_water).rule.min_m == 1.0
    assert required_clearance(rules, large_water, sewer).rule.min_m == 1.5
    gas = pipe("G", "RQ", pressure_class="次高压A")
    assert required_clearance(rules, sewer, gas).rule.min_m == 2.0
    assert required_clearance(rules, pipe("G", "RQ", pressure_class="high_a"), sewer) is None


def test_an_unknown_attribute_takes_the_most_stringent_row_and_says_so():
    rules = clearance_rules(HORIZONTAL_TABLE)
    requirement = required_clearance(rules, pipe("W", "JS"), pipe("G7", "RQ"))
    assert requirement.rule.min_m == 1.5
    assert requirement.assumed == ("G7: pressure=次高压A (its pressure_class is unknown)",)


def test_a_condition_that_cannot_be_read_is_an_error():
    with pytest.raises(ValueError, match="cannot read clearance condition 'depth>2'"):
        parse_condition("depth>2")
