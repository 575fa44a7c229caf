"""The topology check on a network drawn with one fault of each kind it must report."""

from __future__ import annotations

import pytest

from geoplatform.db import make_engine, transaction
from layers.pipeline.network import load_network
from layers.pipeline.topology import check_topology
from tests.layers.pipeline.drawing import add_network, add_pipe, add_point

NETWORK = "test_water"
PIPES = {
    "P1": [(0, 0), (100, 0)],
    "P2": [(100, 0), (200, 0)],
    # Crosses P2 without a junction, and is connected to nothing.
    "P3": [(150, -50), (150, 50)],
    # P1 drawn again the other way round.
    "P4": [(100, 0), (0, 0)],
    # Shorter than the snapping tolerance.
    "P5": [(300, 300), (300, 300.1)],
    # A service line ending 5 cm past the main it is tapped on: a tee, not a crossing.
    "P6": [(50, -10), (50, 0.05)],
}


@pytest.fixture(scope="module")
def report(make_database):
    engine = make_engine(make_database("topology"))
    with transaction(engine) as conn:
        add_network(conn, NETWORK, "JS", "拓扑测试", "Topology test")
        for code, coords in PIPES.items():
            add_pipe(conn, NETWORK, code, coords)
        add_point(conn, NETWORK, "S", "source", (0, 0), source_kind="plant")
        add_point(conn, NETWORK, "Voff", "valve", (500, 500), normal_state="open")
    with engine.connect() as conn:
        yield check_topology(conn, load_network(conn, NETWORK))
    engine.dispose()


def test_counts(report):
    assert report["counts"] == {
        "pipes": 6,
        "points": 2,
        "nodes": 8,
        "components": 3,
        "unreachable_components": 2,
        "unreachable_pipes": 2,
        "dangling_ends": 4,
        "crossings_without_junction": 1,
        "duplicates": 1,
        "zero_length": 1,
        "points_off_network": 1,
    }


def test_components_largest_first_with_their_sources(report):
    assert [(c["pipes"], c["sources"], c["sample_pipes"]) for c in report["components"]] == [
        (4, ["S"], ["P1", "P2", "P4", "P6"]),
        (1, [], ["P3"]),
        (1, [], ["P5"]),
    ]


def test_faults_are_named(report):
    assert sorted(e["pipe"] for e in report["dangling_ends"]) == ["P2", "P3", "P3", "P6"]
    assert [c["pipes"] for c in report["crossings_without_junction"]] == [["P2", "P3"]]
    lon, lat = report["crossings_without_junction"][0]["location"]
    assert 9.4 < lon < 9.6 and 47.1 < lat < 47.2
    assert [d["pipes"] for d in report["duplicates"]] == [["P1", "P4"]]
    assert report["zero_length"] == ["P5"]
    assert report["points_off_network"] == ["Voff"]
