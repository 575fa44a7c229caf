"""Longitudinal profile along a hand-made run of water pipes, one of them stored backwards."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import text

from geoplatform.db import make_engine
from geoplatform.errors import InvalidParameter, NotFound
from layers.pipeline.profile import BrokenChain, UnknownPipe, nice_ticks, pipe_profile, profile_svg
from tests.layers.pipeline.drawing import UTM_32N, add_network, add_pipe

ORIGIN = (500_000.0, 5_200_000.0)
SVG = "{http://www.w3.org/2000/svg}"
# code, line in metres from ORIGIN as stored, (start, end) ground, (start, end) depth, diameter
PIPES = [
    ("A", [(0, 0), (100, 0)], (10.0, 10.5), (1.2, 1.4), 300),
    # Stored from its far end back to A's end.
    ("B", [(160, 20), (100, 0)], (11.0, 10.5), (1.5, 1.4), 300),
    # Starts 0.3 m from B's far end: within the network's 0.5 m snap tolerance.
    ("C", [(160.3, 20), (250, 20)], (11.0, 11.2), (1.5, 1.6), 200),
    ("D", [(500, 500), (600, 500)], (12.0, 12.0), (1.0, 1.0), 200),
    # Ground level not surveyed.
    ("E", [(250, 20), (300, 20)], (None, None), (1.6, 1.8), 200),
]


@pytest.fixture(scope="module")
def engine(make_database):
    engine = make_engine(make_database("profile"))
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO platform.city (id, projected_srid, bbox) "
                "VALUES (1, :srid, ARRAY[8.9, 46.9, 9.1, 47.0])"
            ),
            {"srid": UTM_32N},
        )
        add_network(conn, "water", "JS", "给水管网", "Water mains")
        for code, points, (g1, g2), (d1, d2), diameter in PIPES:
            add_pipe(
                conn,
                "water",
                code,
                points,
                ORIGIN,
                diameter_mm=diameter,
                material="QM",
                start_ground_m=g1,
                end_ground_m=g2,
                start_depth_m=d1,
                end_depth_m=d2,
            )
    yield engine
    engine.dispose()


def profile_of(engine, codes: list[str], network: str = "water"):
    with engine.connect() as conn:
        return pipe_profile(conn, network, codes)


def stored_lengths(engine, codes: list[str]) -> float:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT sum(length_m) FROM pipeline.pipes WHERE code = ANY(:codes)"),
            {"codes": codes},
        ).scalar_one()


def test_distances_add_up_to_the_pipes_lengths(engine):
    profile = profile_of(engine, ["A", "B", "C"])
    total = stored_lengths(engine, ["A", "B", "C"])
    assert profile.length_m == pytest.approx(total, abs=0.001)
    assert profile.stations[-1].distance_m == pytest.approx(total, abs=0.001)
    assert [p.from_m for p in profile.pipes] == [0.0, 100.0, pytest.approx(163.246, abs=0.001)]
    assert [s.distance_m for s in profile.stations][:4] == [
        0.0,
        100.0,
        100.0,
        pytest.approx(100 + math.hypot(60, 20), abs=0.001),
    ]


def test_a_pipe_stored_backwards_is_walked_from_its_end(engine):
    profile = profile_of(engine, ["A", "B", "C"])
    assert [p.reversed for p in profile.pipes] == [False, True, False]
    b_in, b_out = profile.stations[2:4]
    assert (b_in.pipe_code, b_in.end, b_in.ground_m, b_in.depth_m) == ("B", "end", 10.5, 1.4)
    assert (b_out.end, b_out.ground_m, b_out.depth_m) == ("start", 11.0, 1.5)
    # The map draws it in the direction of the run: it starts where A ends.
    a_line, b_line = profile.pipes[0].geometry, profile.pipes[1].geometry
    assert b_line["coordinates"][0] == pytest.approx(a_line["coordinates"][-1], abs=1e-6)


def test_elevations_follow_from_ground_depth_and_diameter(engine):
    first = profile_of(engine, ["A"]).stations[0]
    assert (first.ground_m, first.depth_m, first.diameter_mm) == (10.0, 1.2, 300)
    assert first.axis_m == pytest.approx(8.8)
    assert first.top_m == pytest.approx(8.95)
    assert first.invert_m == pytest.approx(8.65)


def test_the_run_may_be_given_from_either_end(engine):
    forward, backward = profile_of(engine, ["A", "B", "C"]), profile_of(engine, ["C", "B", "A"])
    assert backward.length_m == forward.length_m
    assert [p.reversed for p in backward.pipes] == [True, False, True]


def test_unknown_ground_leaves_elevations_empty(engine):
    profile = profile_of(engine, ["C", "E"])
    last = profile.stations[-1]
    assert (last.ground_m, last.depth_m, last.axis_m, last.top_m) == (None, 1.8, None, None)
    assert not profile.has_elevations


def test_a_broken_chain_names_the_two_pipes_that_do_not_meet(engine):
    # B is walked backwards, so the run leaves it at its stored start (160, 20); D's nearest
    # end is (500, 500): hypot(340, 480) = 588.22 m.
    with pytest.raises(BrokenChain) as raised:
        profile_of(engine, ["A", "B", "D"])
    assert str(raised.value) == (
        "pipes B and D do not meet: their nearest ends are 588.22 m apart (snap tolerance 0.5 m)"
    )
    assert isinstance(raised.value, InvalidParameter)


def test_unknown_pipes_and_networks_are_not_found(engine):
    with pytest.raises(UnknownPipe) as raised:
        profile_of(engine, ["A", "X", "Y"])
    assert str(raised.value) == "no pipe(s) X, Y in network 'water'"
    with pytest.raises(NotFound, match="unknown network 'gas'"):
        profile_of(engine, ["A"], network="gas")


@pytest.mark.parametrize(
    ("codes", "message"),
    [
        ([], "a profile needs at least one pipe code"),
        (["A", "A"], "pipe(s) A given more than once"),
    ],
)
def test_an_empty_or_repeated_run_is_refused(engine, codes, message):
    with pytest.raises(InvalidParameter) as raised:
        profile_of(engine, codes)
    assert str(raised.value) == message


def test_the_profile_is_json_and_a_feature_collection(engine):
    profile = profile_of(engine, ["A", "B", "C"])
    json.dumps(profile.to_dict())
    collection = profile.feature_collection()
    assert [f["properties"]["code"] for f in collection["features"]] == ["A", "B", "C"]
    assert all(f["geometry"]["type"] == "LineString" for f in collection["features"])


def labels(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "pipe-label"]


def test_the_svg_chart_has_a_band_and_a_label_per_pipe(engine):
    svg = profile_svg(profile_of(engine, ["A", "B", "C"]))
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert labels(svg) == ["A DN300", "B DN300", "C DN200"]
    assert len([p for p in root.iter(f"{SVG}polygon") if p.get("class") == "pipe"]) == 3
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "高程 Elevation (m)" in texts and "距离 Distance (m)" in texts
    assert any(t.startswith("纵断面 Longitudinal profile: water, A → C") for t in texts)


def test_without_ground_levels_the_chart_shows_depths(engine):
    svg = profile_svg(profile_of(engine, ["C", "E"]))
    texts = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]
    assert "埋深 Depth below ground (m)" in texts
    assert labels(svg) == ["C DN200", "E DN200"]


def test_ticks_are_round_numbers():
    assert nice_ticks(0, 263.2) == [0, 50, 100, 150, 200, 250]
    assert nice_ticks(-2.3, 0.5) == [-2.0, -1.5, -1.0, -0.5, 0.0, 0.5]
