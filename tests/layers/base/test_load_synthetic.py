"""A small extract the test writes itself, in China, loads with exactly the expected rows."""

from __future__ import annotations

import osmium
import pytest
from osmium.osm.mutable import Node, Relation, Way
from pyproj import Transformer
from sqlalchemy import text

from geoplatform.db import make_engine
from layers.base.load import load_osm

# A Suzhou-like spot: inside China, so the CGCS2000 3-degree GK zone CM 120E (EPSG:4549) is used.
ORIGIN_E, ORIGIN_N = 562_000.0, 3_463_000.0
GK_120E = 4549
to_lonlat = Transformer.from_crs(GK_120E, 4490, always_xy=True)


class ExtractWriter:
    """Writes nodes and ways laid out in metres east/north of an origin as an .osm.pbf file."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.ways: list[Way] = []
        self.relations: list[Relation] = []
        self._next_node = 1

    def node(self, east: float, north: float, tags: dict | None = None, node_id=None) -> int:
        node_id = node_id or self._next_node
        self._next_node = max(self._next_node, node_id) + 1
        lon, lat = to_lonlat.transform(ORIGIN_E + east, ORIGIN_N + north)
        self.nodes.append(Node(id=node_id, location=(lon, lat), tags=tags or {}, version=1))
        return node_id

    def way(self, way_id: int, points: list[tuple[float, float]], tags=None, close=False) -> None:
        refs = [self.node(e, n) for e, n in points]
        if close:
            refs.append(refs[0])
        self.ways.append(Way(id=way_id, nodes=refs, tags=tags or {}, version=1))

    def rectangle(self, way_id: int, east, north, width, height, tags=None) -> None:
        corners = [
            (east, north),
            (east + width, north),
            (east + width, north + height),
            (east, north + height),
        ]
        self.way(way_id, corners, tags, close=True)

    def relation(self, relation_id: int, members: list[tuple[int, str]], tags: dict) -> None:
        self.relations.append(
            Relation(
                id=relation_id,
                members=[("w", ref, role) for ref, role in members],
                tags=tags,
                version=1,
            )
        )

    def write(self, path) -> None:
        with osmium.SimpleWriter(str(path)) as writer:
            for node in sorted(self.nodes, key=lambda n: n.id):
                writer.add_node(node)
            for way in self.ways:
                writer.add_way(way)
            for relation in self.relations:
                writer.add_relation(relation)


def small_town(path) -> None:
    w = ExtractWriter()
    w.rectangle(
        100,
        0,
        0,
        20,
        10,
        {
            "building": "residential",
            "building:levels": "6",
            "name": "测试楼",
            "name:en": "Test Block",
            "addr:street": "人民路",
            "addr:housenumber": "88",
        },
    )
    w.rectangle(101, -200, -200, 100, 100)
    w.rectangle(102, -160, -160, 20, 20)
    w.relation(300, [(101, "outer"), (102, "inner")], {"type": "multipolygon", "landuse": "forest"})
    w.way(
        103,
        [(-100, -20), (200, -20)],
        {"highway": "primary", "maxspeed": "50", "name": "人民路", "oneway": "-1"},
    )
    w.way(104, [(30, -20), (30, 150)], {"highway": "residential"})
    w.way(105, [(-300, 300), (300, 300)], {"waterway": "river", "name": "护城河"})
    w.node(
        40,
        40,
        {
            "amenity": "school",
            "name": "实验小学",
            "name:zh": "实验小学",
            "name:en": "Experimental Primary School",
        },
        node_id=1000,
    )
    w.node(60, 60, {"place": "village", "name": "测试村", "population": "1200"}, node_id=1001)
    w.node(5, 5, {"addr:street": "人民路", "addr:housenumber": "90"}, node_id=1002)
    w.node(90, 90, {"highway": "bus_stop", "name": "人民路站"}, node_id=1003)
    w.rectangle(106, -500, -500, 1000, 1000)
    w.relation(
        301,
        [(106, "outer")],
        {"type": "boundary", "boundary": "administrative", "admin_level": "8", "name": "测试镇"},
    )
    w.way(107, [(300, 0), (350, 0), (350, 50)])
    w.relation(302, [(107, "outer")], {"type": "multipolygon", "landuse": "meadow"})
    w.write(path)


@pytest.fixture(scope="module")
def town(make_database, tmp_path_factory):
    path = tmp_path_factory.mktemp("osm") / "small-town.osm.pbf"
    small_town(path)
    settings = make_database("town")
    engine = make_engine(settings)
    summary = load_osm(engine, settings, path)
    yield engine, summary
    engine.dispose()


def query(engine, sql: str):
    with engine.connect() as conn:
        return conn.execute(text(sql)).mappings().all()


def test_rows_per_layer(town):
    _, summary = town
    assert summary.rows() == {
        "base.admin_areas": 1,
        "base.roads": 2,
        "base.buildings": 1,
        "base.water": 1,
        "base.landuse": 1,
        "base.pois": 1,
        "base.places": 1,
        "base.addresses": 2,
    }
    landuse = next(s for s in summary.layers if s.layer == "base.landuse")
    assert dict(landuse.skipped) == {"area could not be assembled (incomplete or broken rings)": 1}


def test_projected_crs_chosen_from_extent(town):
    engine, summary = town
    assert summary.projected_srid == GK_120E
    assert query(engine, "SELECT projected_srid FROM platform.city")[0]["projected_srid"] == GK_120E


def test_building(town):
    engine, _ = town
    (building,) = query(engine, "SELECT * FROM base.buildings")
    assert building["id"] == 100 * 10 + 2
    assert building["area_m2"] == pytest.approx(200, rel=1e-3)
    assert (building["levels"], building["levels_source"]) == (6, "tagged")
    assert (building["height_m"], building["height_source"]) == (18.0, "estimated")
    assert (building["name"], building["name_en"]) == ("测试楼", "Test Block")
    assert building["address"] == "人民路 88"


def test_multipolygon_keeps_its_hole(town):
    engine, _ = town
    (forest,) = query(
        engine,
        "SELECT osm_type, osm_id, osm_class, area_m2, ST_NumInteriorRings(ST_GeometryN(geom, 1))"
        " AS holes FROM base.landuse",
    )
    assert (forest["osm_type"], forest["osm_id"], forest["osm_class"]) == ("r", 300, "forest")
    assert forest["holes"] == 1
    assert forest["area_m2"] == pytest.approx(100 * 100 - 20 * 20, rel=1e-3)


def test_roads(town):
    engine, _ = town
    roads = {r["osm_id"]: r for r in query(engine, "SELECT * FROM base.roads")}
    assert roads[103]["length_m"] == pytest.approx(300, rel=1e-3)
    assert (roads[103]["maxspeed"], roads[103]["maxspeed_source"]) == (50, "tagged")
    assert roads[103]["oneway"] == -1
    assert (roads[104]["maxspeed"], roads[104]["maxspeed_source"]) == (30, "class")
    assert roads[104]["length_m"] == pytest.approx(170, rel=1e-3)


def test_points_and_addresses(town):
    engine, _ = town
    (poi,) = query(engine, "SELECT * FROM base.pois")
    assert (poi["category"], poi["subcategory"], poi["name_en"]) == (
        "amenity",
        "school",
        "Experimental Primary School",
    )
    (place,) = query(engine, "SELECT * FROM base.places")
    assert (place["type"], place["population"], place["rank"]) == ("village", 1200, 3)
    addresses = {a["label"]: a for a in query(engine, "SELECT * FROM base.addresses")}
    assert set(addresses) == {"人民路 88", "人民路 90"}
    assert addresses["人民路 88"]["source"] == "building"
    assert addresses["人民路 90"]["building_id"] == 1002  # the point lies in building way 100


def test_admin_area(town):
    engine, _ = town
    (area,) = query(engine, "SELECT * FROM base.admin_areas")
    assert (area["name"], area["level"], area["parent_id"]) == ("测试镇", "city", None)
    assert area["area_m2"] == pytest.approx(1e6, rel=1e-3)
