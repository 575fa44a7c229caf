"""The demo network generator, rule by rule, against the database it wrote.

Every rule of ``layers/pipeline/load.py`` is checked on the demo city and on a small synthetic
town whose counts are known by hand. The mains lie beside the road centrelines (rule 1), so they
are matched to the road stretches the tests compute themselves from ``base.roads``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections import Counter, defaultdict

import networkx as nx
import pytest
from shapely import from_wkb
from shapely.geometry import LineString, Point
from sqlalchemy import text

from geoplatform.db import make_engine
from geoplatform.layer_state import layer_states
from layers.base.load import load_osm
from layers.pipeline import load
from layers.pipeline.load import (
    JUNCTION_VALVE_OFFSET_M,
    MIN_SERVICE_M,
    SOURCE_MIN_PIPES,
    customers_for,
    load_demo_networks,
    material_for,
    network_rules,
    pressure_class_for,
    service_diameter_for,
)
from layers.pipeline.network import load_network
from layers.pipeline.topology import check_topology
from tests.layers.base.test_load_synthetic import ExtractWriter

RULES = {rules.network: rules for rules in network_rules()}
WATER, GAS = "demo_water", "demo_gas"
ON = 0.01  # metres: "on" a line or point, allowing for the round trip through CGCS2000
BESIDE = 0.05  # metres: tolerance of "at the offset from the centreline" (round joins' chords)


def rows(engine, sql: str, **params) -> list:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).mappings().all()


def srid_of(engine) -> int:
    return rows(engine, "SELECT projected_srid FROM platform.city")[0]["projected_srid"]


# --- a town small enough to count by hand -----------------------------------------------------

STREET_ROWS = (0, 150, 300, 450)  # north, metres; the first is a primary road
STREET_COLUMNS = (0, 150, 300, 450, 600)  # east


def pipe_town(path) -> None:
    """A 4 x 5 street grid (31 blocks of 150 m), a footway, a far service road and 4 buildings."""
    w = ExtractWriter()
    for number, north in enumerate(STREET_ROWS):
        highway = "primary" if north == 0 else "residential"
        w.way(10 + number, [(e, north) for e in STREET_COLUMNS], {"highway": highway})
    for number, east in enumerate(STREET_COLUMNS):
        w.way(20 + number, [(east, n) for n in STREET_ROWS], {"highway": "residential"})
    w.way(30, [(300, 450), (300, 520)], {"highway": "footway"})
    w.way(31, [(1500, 0), (1500, 700)], {"highway": "service", "name": "Far Lane"})
    residential = {
        "building": "residential",
        "building:levels": "6",
        "addr:street": "Main Street",
        "addr:housenumber": "1",
    }
    w.rectangle(100, 30, 20, 20, 10, residential)  # 20 m from the primary road
    w.rectangle(101, 300, 560, 10, 10, {"building": "house"})  # 110 m from the grid
    w.rectangle(102, 300, 700, 10, 10, {"building": "house"})  # 250 m from any main
    w.rectangle(103, 100, 145, 10, 10, {"building": "house"})  # a main runs under it
    w.write(path)


@pytest.fixture(scope="module")
def town_pipeline(make_database, tmp_path_factory):
    path = tmp_path_factory.mktemp("osm") / "pipe-town.osm.pbf"
    pipe_town(path)
    settings = make_database("pipetown")
    engine = make_engine(settings)
    load_osm(engine, settings, path)
    yield engine, load_demo_networks(engine)
    engine.dispose()


@pytest.fixture(params=["demo", "town"])
def generated(request):
    """(engine, summary) of the demo city and of the synthetic town: each rule runs on both."""
    if request.param == "demo":
        return request.getfixturevalue("demo_engine"), request.getfixturevalue("demo_pipeline")
    return request.getfixturevalue("town_pipeline")


# --- reading the networks back ----------------------------------------------------------------


def mains_of(engine, network: str) -> list:
    return rows(
        engine,
        """
        SELECT p.*, ST_AsBinary(p.geom) AS wkb,
               ST_AsBinary(ST_Transform(p.geom, c.projected_srid)) AS wkb_m,
               ST_Length(ST_Transform(p.geom, c.projected_srid)) AS measured_m
          FROM pipeline.pipes AS p, platform.city AS c
         WHERE network = :network AND role = 'main'
         ORDER BY code
        """,
        network=network,
    )


def points_on_pipes(engine, network: str, kind: str) -> list:
    """Points of a kind with how far along their pipe they lie and how far off it."""
    return rows(
        engine,
        """
        WITH m AS (
            SELECT t.*, ST_Transform(t.geom, c.projected_srid) AS gm
              FROM pipeline.points AS t, platform.city AS c
             WHERE network = :network AND kind = :kind),
        p AS (
            SELECT code, diameter_mm, ST_Transform(geom, c.projected_srid) AS gm
              FROM pipeline.pipes, platform.city AS c
             WHERE network = :network)
        SELECT m.code, m.pipe_code, m.operable, m.normal_state, m.feature_code,
               ST_LineLocatePoint(p.gm, m.gm) * ST_Length(p.gm) AS along_m,
               ST_Distance(p.gm, m.gm) AS off_m
          FROM m LEFT JOIN p ON p.code = m.pipe_code
        """,
        network=network,
        kind=kind,
    )


def pipe_ends(mains) -> dict[str, list]:
    ends = defaultdict(list)
    for main in mains:
        ends[main["start_node"]].append((main, True))
        ends[main["end_node"]].append((main, False))
    return ends


def assert_same_positions(expected: list, actual: list) -> None:
    """Multisets of (pipe code, metres along) equal to the centimetre."""
    expected, actual = sorted(expected), sorted(actual)
    assert len(actual) == len(expected)
    for (pipe_e, along_e), (pipe_a, along_a) in zip(expected, actual, strict=True):
        assert pipe_a == pipe_e
        assert along_a == pytest.approx(along_e, abs=ON)


# --- rule 1: mains beside the road centrelines ------------------------------------------------


def north_east_is_left(line: LineString) -> bool:
    """Whether a road's north-east side (rule 1) is the left of its drawing direction."""
    (x0, y0), (x1, y1) = line.coords[0], line.coords[-1]
    if math.hypot(x1 - x0, y1 - y0) < 0.001:  # a closed way: its first segment decides
        (x0, y0), (x1, y1) = line.coords[0], line.coords[1]
    normal = (y0 - y1, x1 - x0)  # the chord's left normal
    if normal[0] + normal[1] != 0:
        return normal[0] + normal[1] > 0
    return normal[0] > 0 and normal[1] < 0  # exactly diagonal: the south-east side


def road_stretches(engine, network: str) -> list[dict]:
    """The listed roads split at shared vertices and road ends, in the order mains are numbered.

    Each: the road's id, class and name, the end vertices as stored (CGCS2000), the stretch in
    metres and which side a positive offset takes (+1 left of the stretch, -1 right).
    """
    roads = rows(
        engine,
        """
        SELECT r.id, r.class, coalesce(r.name_zh, r.name) AS name, ST_AsBinary(r.geom) AS wkb,
               ST_AsBinary(ST_Transform(r.geom, c.projected_srid)) AS wkb_m
          FROM base.roads AS r, platform.city AS c
         WHERE r.class = ANY(:classes)
         ORDER BY r.id
        """,
        classes=sorted(RULES[network].diameters),
    )
    lines = [(r, from_wkb(bytes(r["wkb"])).coords, from_wkb(bytes(r["wkb_m"]))) for r in roads]
    uses = Counter(v for _, coords, _ in lines for v in coords)
    stretches = []
    for road, coords, metres in lines:
        last = len(coords) - 1
        cuts = [i for i, v in enumerate(coords) if i in (0, last) or uses[v] > 1]
        side = 1 if north_east_is_left(metres) else -1
        for first, second in itertools.pairwise(cuts):
            if len(set(coords[first : second + 1])) > 1:
                stretches.append(
                    {
                        "road": road["id"],
                        "class": road["class"],
                        "name": road["name"],
                        "ends": (coords[first], coords[second]),
                        "line": LineString(metres.coords[first : second + 1]),
                        "side": side,
                    }
                )
    return stretches


def mains_with_stretches(engine, network: str) -> list[tuple[dict, dict]]:
    mains, stretches = mains_of(engine, network), road_stretches(engine, network)
    assert len(mains) == len(stretches)  # one main per stretch of listed road
    return list(zip(mains, stretches, strict=True))


def midpoint(main) -> Point:
    return from_wkb(bytes(main["wkb_m"])).interpolate(0.5, normalized=True)


def side_of(line: LineString, point: Point) -> int:
    """+1 when the point is left of the line's segment nearest to it, -1 when right.

    (Not a single-sided buffer: GEOS gets those wrong for closed lines.)
    """
    along, walked = line.project(point), 0.0
    for a, b in itertools.pairwise(line.coords):
        walked += math.dist(a, b)
        if walked >= along:
            break
    cross = (b[0] - a[0]) * (point.y - a[1]) - (b[1] - a[1]) * (point.x - a[0])
    return 1 if cross > 0 else -1


@pytest.mark.parametrize("network", [WATER, GAS])
def test_every_main_runs_beside_a_stretch_of_a_listed_road_with_its_class_diameter(
    generated, network
):
    engine, _ = generated
    rules = RULES[network]
    offset = rules.main_offset_m
    assert offset != 0
    for main, stretch in mains_with_stretches(engine, network):
        assert main["diameter_mm"] == rules.diameters[stretch["class"]], main["code"]
        assert main["road_name"] == stretch["name"]
        # Near its nodes a main may bend to the node's position; its midpoint is clear of
        # them (on every main of the demo city and of the town).
        middle = midpoint(main)
        assert stretch["line"].distance(middle) == pytest.approx(abs(offset), abs=BESIDE)
        # On the stated side: left of the stretch when the signed offset says left.
        expected = 1 if offset * stretch["side"] > 0 else -1
        assert side_of(stretch["line"], middle) == expected, main["code"]


@pytest.mark.parametrize("network", [WATER, GAS])
def test_mains_cover_the_listed_roads_once(generated, network):
    engine, _ = generated
    (roads,) = rows(
        engine,
        "SELECT sum(length_m) AS m FROM base.roads WHERE class = ANY(:classes)",
        classes=sorted(RULES[network].diameters),
    )
    pairs = mains_with_stretches(engine, network)
    assert sum(s["line"].length for _, s in pairs) == pytest.approx(roads["m"], rel=1e-6)
    # Offset curves are longer or shorter by the offset times the turning of the road, and
    # the joins at the nodes add a little: on the demo city, water +1.4 %, gas +1.0 %.
    assert sum(m["length_m"] for m, _ in pairs) == pytest.approx(roads["m"], rel=0.02)
    for main, _ in pairs:
        assert main["length_m"] == pytest.approx(main["measured_m"], abs=1e-6)


@pytest.mark.parametrize("network", [WATER, GAS])
def test_mains_are_noded_at_every_shared_road_vertex_and_nowhere_else(generated, network):
    engine, _ = generated
    offset = abs(RULES[network].main_offset_m)
    pairs = mains_with_stretches(engine, network)
    vertex_of: dict[str, tuple] = {}  # node code -> road vertex (CGCS2000, as stored)
    at: dict[str, set] = defaultdict(set)  # node code -> the pipe ends there
    for main, stretch in pairs:
        line = from_wkb(bytes(main["wkb"])).coords
        for node, vertex, end in zip(
            (main["start_node"], main["end_node"]),
            stretch["ends"],
            (line[0], line[-1]),
            strict=True,
        ):
            assert vertex_of.setdefault(node, vertex) == vertex, node
            at[node].add(end)
    uses = Counter(v for _, s in pairs for v in s["ends"])
    road_vertices = rows(
        engine,
        "SELECT ST_AsBinary(geom) AS wkb FROM base.roads WHERE class = ANY(:classes)",
        classes=sorted(RULES[network].diameters),
    )
    shared = Counter(v for r in road_vertices for v in from_wkb(bytes(r["wkb"])).coords)
    road_ends = {
        c
        for r in road_vertices
        for c in (lambda g: (g.coords[0], g.coords[-1]))(from_wkb(bytes(r["wkb"])))
    }
    # One node per shared vertex and road end, and no other.
    assert set(vertex_of.values()) == {v for v, n in shared.items() if n > 1} | road_ends
    assert len(set(vertex_of.values())) == len(vertex_of) == len(uses)
    # The mains that meet at a node share one end point exactly, no two nodes share one, and
    # no main passes through a node's point.
    assert all(len(ends) == 1 for ends in at.values())
    points = {next(iter(ends)) for ends in at.values()}
    assert len(points) == len(at)
    interior = {c for main, _ in pairs for c in from_wkb(bytes(main["wkb"])).coords[1:-1]}
    assert not interior & points
    # A node lies within the offset of its road vertex (the mean of offset ends), except at a
    # loop, whose offset on the inside of its sharp corner at the node is farther.
    loops = {main["start_node"] for main, s in pairs if s["ends"][0] == s["ends"][1]}
    vertex_m = {}
    for main, stretch in pairs:
        vertex_m[main["start_node"]] = stretch["line"].coords[0]
        vertex_m[main["end_node"]] = stretch["line"].coords[-1]
    junctions = rows(
        engine,
        """
        SELECT t.code, ST_X(g) AS x, ST_Y(g) AS y
          FROM pipeline.points AS t, platform.city AS c,
               LATERAL ST_Transform(t.geom, c.projected_srid) AS g
         WHERE t.network = :network AND t.kind = 'junction'
        """,
        network=network,
    )
    for j in junctions:
        if j["code"] not in loops:
            assert math.dist((j["x"], j["y"]), vertex_m[j["code"]]) <= offset + ON, j["code"]


def test_water_and_gas_mains_run_on_opposite_sides_of_the_road(generated):
    """Along the same stretch of road, the gas main is the two offsets away from the water main.

    Stretches are the same when both utilities node the road at the same vertices (water also
    has mains on service roads, which add nodes). Near the nodes the mains bend to the nodes'
    positions, so the distance to the whole water main is checked on stretches long enough for
    their midpoints to be clear of that (on the demo city the shortest ones, up to 6.5 m, come
    within 1.65 m).
    """
    engine, _ = generated
    water, gas = RULES[WATER].main_offset_m, RULES[GAS].main_offset_m
    assert water * gas < 0
    apart = abs(water) + abs(gas)
    water_mains = {(s["road"], s["ends"]): m for m, s in mains_with_stretches(engine, WATER)}
    gas_mains = mains_with_stretches(engine, GAS)
    pairs = [
        (water_mains[(s["road"], s["ends"])], m, s)
        for m, s in gas_mains
        if (s["road"], s["ends"]) in water_mains
    ]
    assert len(pairs) > 0.8 * len(gas_mains)
    for water_main, gas_main, stretch in pairs:
        assert midpoint(gas_main).distance(midpoint(water_main)) >= apart - BESIDE
        if stretch["line"].length >= 4 * apart:
            line = from_wkb(bytes(water_main["wkb_m"]))
            assert line.distance(midpoint(gas_main)) >= apart - BESIDE, gas_main["code"]


def main_components(engine, network: str) -> tuple[dict, list[list[str]]]:
    """The topology check's counts and the mains of each component of the network graph."""
    with engine.connect() as conn:
        graph = load_network(conn, network)
        counts = check_topology(conn, graph)["counts"]
    labels = graph.components()
    groups = defaultdict(list)
    for code, pipe in graph.pipes.items():
        groups[int(labels[graph.edge_u[pipe.pieces[0]]])].append((pipe.role, code))
    # Service lines hang on mains: no component without one.
    assert all(any(role == "main" for role, _ in group) for group in groups.values())
    mains = [sorted(code for role, code in group if role == "main") for group in groups.values()]
    return counts, sorted(mains, key=lambda c: (-len(c), c[0]))


def test_the_offset_keeps_the_connectivity_of_the_centrelines(generated, monkeypatch):
    """The graph from geometry alone has the same components of mains as with no offset."""
    engine, _ = generated
    offset = {n: main_components(engine, n) for n in (WATER, GAS)}
    centreline_rules = tuple(dataclasses.replace(r, main_offset_m=0.0) for r in RULES.values())
    monkeypatch.setattr(load, "network_rules", lambda: centreline_rules)
    try:
        load_demo_networks(engine)
        centreline = {n: main_components(engine, n) for n in (WATER, GAS)}
    finally:
        monkeypatch.undo()
        load_demo_networks(engine)  # the fixtures' networks again, with the offsets
    for network in (WATER, GAS):
        (counts_c, mains_c), (counts_o, mains_o) = centreline[network], offset[network]
        assert mains_o == mains_c
        for key in ("components", "unreachable_components", "points_off_network"):
            assert counts_o[key] == counts_c[key], (network, key)


@pytest.mark.parametrize("network", [WATER, GAS])
def test_main_attributes_follow_the_reference_tables(generated, network):
    engine, _ = generated
    rules = RULES[network]
    code = rules.utility.code
    for main in mains_of(engine, network):
        assert main["code"].startswith(code) and len(main["code"]) == 8
        assert (main["utility"], main["subtype"], main["feature_code"]) == (
            code,
            rules.subtype,
            rules.line_feature_code,
        )
        assert (main["owner"], main["status"], main["laying"]) == (
            rules.utility.department,
            "0",
            "ZM",
        )
        assert rules.first_year <= main["install_year"] <= rules.last_year
        assert main["material"] == material_for(code, main["diameter_mm"], main["install_year"])
        assert main["pressure_class"] == pressure_class_for(code, main["diameter_mm"])
        for depth in (main["start_depth_m"], main["end_depth_m"]):
            assert rules.min_depth_m <= depth <= rules.max_depth_m


def test_some_demo_mains_are_past_their_service_life(demo_engine, demo_pipeline):
    overdue = rows(
        demo_engine,
        """
        SELECT network, material, count(*) AS n FROM pipeline.pipes
         WHERE role = 'main' AND install_year + CASE material WHEN 'ZT' THEN 50
                   WHEN 'G' THEN 30 ELSE 50 END <= extract(year FROM current_date)
         GROUP BY network, material
        """,
    )
    assert {(r["network"], r["material"]) for r in overdue} >= {(WATER, "ZT"), (GAS, "G")}


# --- rule 2: valves ---------------------------------------------------------------------------


def expected_valves(mains, spacing_m: float) -> list[tuple[str, float]]:
    expected = []
    for ends in pipe_ends(mains).values():
        if len(ends) < 3:
            continue
        ordered = sorted(ends, key=lambda e: (-e[0]["diameter_mm"], e[0]["code"], e[1]))
        for main, at_start in ordered[1:]:
            offset = min(JUNCTION_VALVE_OFFSET_M, main["length_m"] / 3)
            expected.append((main["code"], offset if at_start else main["length_m"] - offset))
    for main in mains:
        stretches = math.ceil(main["length_m"] / spacing_m)
        expected += [(main["code"], k * main["length_m"] / stretches) for k in range(1, stretches)]
    return expected


@pytest.mark.parametrize("network", [WATER, GAS])
def test_valves_n_minus_one_at_junctions_and_at_the_spacing_on_long_mains(generated, network):
    engine, _ = generated
    rules = RULES[network]
    valves = points_on_pipes(engine, network, "valve")
    assert all(v["off_m"] < ON for v in valves)
    assert {(v["normal_state"], v["feature_code"]) for v in valves} == {
        ("open", rules.valve_feature_code)
    }
    assert_same_positions(
        expected_valves(mains_of(engine, network), rules.valve_spacing_m),
        [(v["pipe_code"], v["along_m"]) for v in valves],
    )


def test_a_few_demo_valves_are_not_operable(demo_engine, demo_pipeline):
    valves = points_on_pipes(demo_engine, WATER, "valve") + points_on_pipes(
        demo_engine, GAS, "valve"
    )
    share = sum(not v["operable"] for v in valves) / len(valves)
    assert 0.01 < share < 0.06


# --- rule 3: hydrants -------------------------------------------------------------------------


def test_hydrants_leave_no_point_of_a_main_farther_than_60_m_along_it(generated):
    engine, _ = generated
    rules = RULES[WATER]
    mains = [
        m for m in mains_of(engine, WATER) if m["diameter_mm"] >= rules.hydrant_min_diameter_mm
    ]
    hydrants = points_on_pipes(engine, WATER, "hydrant")
    assert all(h["off_m"] < ON for h in hydrants)
    assert {h["feature_code"] for h in hydrants} == {rules.hydrant_feature_code}
    along = defaultdict(list)
    for hydrant in hydrants:
        along[hydrant["pipe_code"]].append(hydrant["along_m"])
    for main in mains:
        stops = sorted(along[main["code"]])
        assert len(stops) == math.ceil(main["length_m"] / rules.hydrant_spacing_m)
        gaps = [b - a for a, b in zip(stops, stops[1:], strict=False)]
        assert max(gaps, default=0) <= rules.hydrant_spacing_m + ON
        assert stops[0] <= rules.hydrant_spacing_m / 2 + ON
        assert main["length_m"] - stops[-1] <= rules.hydrant_spacing_m / 2 + ON
    assert not points_on_pipes(engine, GAS, "hydrant")


# --- rule 4: service connections --------------------------------------------------------------


# The test's own indexed copies in metres, so that the reach of 9,000 buildings is a KNN search.
_TEST_MAINS = """
CREATE TEMP TABLE test_mains AS
SELECT ST_Transform(p.geom, c.projected_srid) AS gm
  FROM pipeline.pipes AS p, platform.city AS c
 WHERE network = :network AND role = 'main'
"""
_TEST_SERVICES = """
WITH services AS (
    SELECT t.building_id, t.customers, s.diameter_mm, s.material, s.role,
           s.end_node = t.code AS ends_at_point,
           ST_Transform(ST_StartPoint(s.geom), c.projected_srid) AS start_m,
           ST_Transform(ST_EndPoint(s.geom), c.projected_srid) AS end_m,
           ST_Transform(t.geom, c.projected_srid) AS point_m
      FROM pipeline.points AS t
      JOIN pipeline.pipes AS s ON s.network = t.network AND s.code = t.pipe_code,
           platform.city AS c
     WHERE t.network = :network AND t.kind = 'service_connection')
SELECT b.id, b.use, b.levels, b.area_m2,
       (SELECT m.gm <-> bm.g FROM test_mains AS m ORDER BY m.gm <-> bm.g LIMIT 1) AS reach_m,
       count(s.building_id) AS connections,
       min(s.role) AS role, min(s.material) AS material,
       min(s.diameter_mm) AS diameter_mm, min(s.customers) AS customers,
       bool_and(s.ends_at_point) AS ends_at_point,
       max((SELECT m.gm <-> s.start_m FROM test_mains AS m
             ORDER BY m.gm <-> s.start_m LIMIT 1)) AS start_off_m,
       max(ST_Distance(s.end_m, ST_Boundary(bm.g))) AS end_off_m,
       max(ST_Distance(s.point_m, s.end_m)) AS point_off_m
  FROM base.buildings AS b
 CROSS JOIN LATERAL (
       SELECT ST_Transform(b.geom, (SELECT projected_srid FROM platform.city)) AS g) AS bm
  LEFT JOIN services AS s ON s.building_id = b.id
 GROUP BY b.id, bm.g
"""


def service_lines_by_building(engine, network: str) -> list:
    with engine.connect() as conn:
        conn.execute(text(_TEST_MAINS), {"network": network})
        conn.execute(text("CREATE INDEX ON test_mains USING gist (gm)"))
        conn.execute(text("ANALYZE test_mains"))
        found = conn.execute(text(_TEST_SERVICES), {"network": network}).mappings().all()
        conn.rollback()
    return found


@pytest.mark.parametrize("network", [WATER, GAS])
def test_every_building_within_reach_has_one_service_line_from_a_main(generated, network):
    engine, _ = generated
    rules = RULES[network]
    for b in service_lines_by_building(engine, network):
        served = MIN_SERVICE_M <= b["reach_m"] <= rules.service_max_m
        assert b["connections"] == (1 if served else 0), b["id"]
        if served:
            customers = customers_for(b["use"], b["levels"])
            assert (b["role"], b["material"], b["customers"]) == ("service", "PE", customers)
            assert b["diameter_mm"] == service_diameter_for(customers, b["area_m2"])
            assert b["ends_at_point"]
            assert b["start_off_m"] < ON and b["end_off_m"] < ON and b["point_off_m"] < ON


# --- rule 5: sources --------------------------------------------------------------------------


@pytest.mark.parametrize("network", [WATER, GAS])
def test_one_source_per_component_of_at_least_n_pipes_at_a_pipe_end(generated, network):
    engine, _ = generated
    rules = RULES[network]
    graph = nx.MultiGraph()
    for main in mains_of(engine, network):
        graph.add_edge(main["start_node"], main["end_node"])
    sources = rows(
        engine,
        """
        SELECT s.code, s.source_kind, n.code AS node, ST_Distance(
                   ST_Transform(s.geom, c.projected_srid),
                   ST_Transform(n.geom, c.projected_srid)) AS off_m
          FROM pipeline.points AS s, platform.city AS c
          CROSS JOIN LATERAL (
                SELECT code, geom FROM pipeline.points
                 WHERE network = s.network AND kind = 'junction'
                 ORDER BY geom <-> s.geom LIMIT 1) AS n
         WHERE s.network = :network AND s.kind = 'source'
        """,
        network=network,
    )
    assert all(s["off_m"] < ON for s in sources)
    components = sorted(
        nx.connected_components(graph), key=lambda c: -graph.subgraph(c).number_of_edges()
    )
    by_node = {s["node"]: s for s in sources}
    for rank, component in enumerate(components):
        found = [by_node[n] for n in component if n in by_node]
        if graph.subgraph(component).number_of_edges() < SOURCE_MIN_PIPES:
            assert not found
            continue
        assert len(found) == 1
        main_kind = rules.main_source_kind if rank == 0 else rules.other_source_kind
        assert found[0]["source_kind"] == main_kind
    assert len(by_node) == len(sources)


# --- rule 6: nodes ----------------------------------------------------------------------------


@pytest.mark.parametrize("network", [WATER, GAS])
def test_every_pipe_node_is_a_junction_point_at_that_pipe_end(generated, network):
    engine, _ = generated
    loose = rows(
        engine,
        """
        SELECT p.code, e.node FROM pipeline.pipes AS p, platform.city AS c,
               LATERAL (VALUES (p.start_node, ST_StartPoint(p.geom)),
                               (p.end_node, ST_EndPoint(p.geom))) AS e (node, at)
          LEFT JOIN pipeline.points AS n ON n.network = :network AND n.code = e.node
         WHERE p.network = :network AND e.node IS NOT NULL
           AND (n.code IS NULL
                OR (p.role = 'main' AND (n.kind <> 'junction' OR ST_Distance(
                    ST_Transform(n.geom, c.projected_srid),
                    ST_Transform(e.at, c.projected_srid)) >= :on)))
        """,
        network=network,
        on=ON,
    )
    assert loose == []
    (nodes,) = rows(
        engine,
        """
        SELECT count(DISTINCT n) AS nodes,
               (SELECT count(*) FROM pipeline.points WHERE network = :network
                   AND kind = 'junction') AS junctions
          FROM pipeline.pipes, unnest(ARRAY[start_node, end_node]) AS n
         WHERE network = :network AND role = 'main'
        """,
        network=network,
    )
    assert nodes["nodes"] == nodes["junctions"]


# --- the summary and the load as a whole ------------------------------------------------------


def test_summary_counts_are_the_rows_in_the_tables(generated):
    engine, summary = generated
    assert set(summary.networks) == {WATER, GAS}
    for network, counts in summary.networks.items():
        pipes = rows(
            engine,
            "SELECT role, count(*) AS n, sum(length_m) / 1000 AS km FROM pipeline.pipes"
            " WHERE network = :network GROUP BY role",
            network=network,
        )
        points = rows(
            engine,
            "SELECT kind, count(*) AS n FROM pipeline.points WHERE network = :network"
            " GROUP BY kind",
            network=network,
        )
        assert dict(counts.pipes) == {p["role"]: p["n"] for p in pipes}
        assert dict(counts.points) == {p["kind"]: p["n"] for p in points}
        km = {p["role"]: p["km"] for p in pipes}
        assert counts.main_km == pytest.approx(km["main"], abs=0.001)
        assert counts.service_km == pytest.approx(km["service"], abs=0.001)
        assert counts.buildings_served == counts.points["service_connection"]
        (buildings,) = rows(engine, "SELECT count(*) AS n FROM base.buildings")
        assert counts.buildings_served + sum(counts.not_served.values()) == buildings["n"]


def test_synthetic_town_counts_by_hand(town_pipeline):
    engine, summary = town_pipeline
    water, gas = summary.networks[WATER], summary.networks[GAS]
    # 4 x 5 grid: 4*4 + 5*3 = 31 blocks; Far Lane (700 m, service class) is water only.
    assert water.pipes == Counter(main=32, service=2)
    assert gas.pipes == Counter(main=31, service=1)
    # 20 grid nodes + Far Lane's 2 ends; 6 inner nodes of degree 4 get 3 valves each, 10 edge
    # nodes of degree 3 get 2; Far Lane gets ceil(700/300) - 1 = 2 line valves.
    assert water.points == Counter(
        junction=22, valve=6 * 3 + 10 * 2 + 2, hydrant=31 * 2 + 6, service_connection=2, source=1
    )
    assert gas.points == Counter(junction=20, valve=38, service_connection=1, source=1)
    assert (water.components, gas.components) == (2, 1)
    assert water.not_served == Counter(
        {"farther than 150 m from any main": 1, "a main runs under the building": 1}
    )
    assert gas.not_served == Counter(
        {"farther than 60 m from any main": 2, "a main runs under the building": 1}
    )
    (block,) = rows(
        engine,
        "SELECT customers, address FROM pipeline.points"
        " WHERE network = :network AND building_id = 100 * 10 + 2",
        network=GAS,
    )
    assert (block["customers"], block["address"]) == (12, "Main Street 1")


def digest(engine) -> str:
    (row,) = rows(
        engine,
        """
        SELECT md5(string_agg(r, '|' ORDER BY r)) AS digest FROM (
            SELECT (to_jsonb(p) - 'id' - 'geom' - 'geom_3857')::text
                   || encode(ST_AsBinary(geom), 'hex') AS r
              FROM pipeline.pipes AS p WHERE network = ANY(:networks)
            UNION ALL
            SELECT (to_jsonb(t) - 'id' - 'geom' - 'geom_3857')::text
                   || encode(ST_AsBinary(geom), 'hex')
              FROM pipeline.points AS t WHERE network = ANY(:networks)) AS rows
        """,
        networks=[WATER, GAS],
    )
    return row["digest"]


def install_years(engine) -> list[int]:
    found = rows(engine, "SELECT install_year FROM pipeline.pipes ORDER BY network, code")
    return [r["install_year"] for r in found]


def test_same_seed_same_rows_and_another_seed_other_years(demo_engine, demo_pipeline):
    before, years = digest(demo_engine), install_years(demo_engine)
    versions = layer_states_now(demo_engine)
    load_demo_networks(demo_engine, seed=8)
    assert install_years(demo_engine) != years
    changed = {k for k, v in layer_states_now(demo_engine).items() if versions.get(k) != v}
    assert changed == {
        f"pipeline.{utility}_{what}"
        for utility in ("water", "gas")
        for what in ("pipes", "points", "replacement")
    }
    load_demo_networks(demo_engine, seed=7)
    assert digest(demo_engine) == before


def layer_states_now(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {k: s.version for k, s in layer_states(conn).items()}


def test_a_failure_midway_changes_nothing(demo_engine, demo_pipeline, monkeypatch):
    before = digest(demo_engine)
    versions = layer_states_now(demo_engine)
    stages = []

    def broken(*args, **kwargs):
        raise RuntimeError("hydrants failed")

    monkeypatch.setattr(load, "hydrant_points", broken)
    with pytest.raises(RuntimeError, match="hydrants failed"):
        load_demo_networks(demo_engine, progress=lambda *stage: stages.append(stage))
    assert any(stage == "water mains" and done == total for stage, done, total in stages)
    assert digest(demo_engine) == before
    assert layer_states_now(demo_engine) == versions


def test_progress_reports_each_stage_to_its_total(town_pipeline):
    engine, _ = town_pipeline
    stages = []
    load_demo_networks(engine, progress=lambda *stage: stages.append(stage))
    finished = {stage for stage, done, total in stages if done == total}
    assert finished >= {
        f"{utility} {stage}"
        for utility in ("water", "gas")
        for stage in ("mains", "valves", "hydrants", "sources", "service connections")
    }
