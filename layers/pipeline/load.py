"""Demo water and gas networks generated from the city's real streets and buildings.

``load_demo_networks`` replaces the networks ``demo_water`` (JS) and ``demo_gas`` (RQ) in one
transaction: their rows are deleted (pipes and points cascade) and rebuilt; on any error nothing
changes. Nothing else is written except the versions of the water and gas layers. It works on
any OSM extract loaded into ``base``; lengths and distances are measured in the city's
projected CRS (``platform.city.projected_srid``).

Every random attribute is drawn from a hash of (seed, network, asset), not from a random stream,
so the same seed gives the same rows and one asset's draw never depends on the order of work.
The parameters below the rules come from ``data/`` (see the report of each CSV's source):
``demo_networks.csv`` per utility, ``pipe_diameters.csv``, ``pipe_materials.csv``,
``pipe_pressure_classes.csv``, ``service_customers.csv`` and ``service_pipe_sizes.csv``.

Rules, each checked by ``tests/layers/pipeline/test_load.py``:

1. Mains follow the road centrelines of the classes listed for the utility in
   ``pipe_diameters.csv`` (no mains under footways, paths, tracks or motorways), beside them.
   The roads are noded at shared vertices: a road vertex used by two main roads (or twice by
   one) and every road end is a node, and each stretch of road between two nodes is one pipe,
   laid at the utility's ``main_offset_m`` (``demo_networks.csv``: water +1.5 m, gas -1.5 m)
   from that stretch of centreline, so water and gas run on opposite sides of the street and do
   not lie on one another. Shared vertices rather than ``ST_Node``, because OSM joins roads that
   meet at grade with a shared node, while a bridge or tunnel crosses another road without one:
   ``ST_Node`` would invent a junction between a bridge and the road below. Mains are numbered
   in road id order, and along each road in the order of its stretches.

   *Side.* Decided once per road (OSM way) from its chord, first to last vertex (the first
   segment for a closed way): a positive offset lies on the side of the chord's normal that
   points north-east (its x and y components sum to more than 0), i.e. north of an east-west
   road and east of a north-south road, whatever direction the way was drawn in. So a main never
   changes side along one way; two ways of one street whose chords straddle the south-west to
   north-east diagonal can take different sides, and the main then crosses the street at the
   node between them. *Geometry.* Each stretch is offset with shapely's ``offset_curve`` (round
   joins) in the projected CRS. Each node's position is computed once, as the mean of the offset
   ends of its incident stretches, and every main starts and ends exactly there: an offset end
   within 1 mm of it is moved onto it, any other is joined to it by a straight segment. So pipes
   that met at a node share one endpoint, the graph has the connectivity of the centrelines,
   and every point of a main is the offset away from its stretch except on those joins near the
   nodes (a node lies within the offset of its road vertex, or farther for a loop offset on the
   inside of its sharp corner at the node). Everything below (valve and hydrant positions, lengths,
   service connections, sources, junction points) is computed on these offset mains.

   Diameter by road class; material by utility, diameter and install year (first matching row
   of ``pipe_materials.csv``); install year drawn once per road (a road's mains were laid in one
   campaign) between the utility's first and last year; depths drawn per node within the
   utility's range, so pipes meeting at a node agree on its depth; gas pressure class by
   diameter; codes ``JS000001`` …; start/end node = codes of the node points.
2. Valves: at every node of degree >= 3, one valve on every incident main except the one of
   largest diameter (ties: the smallest pipe code), ``min(3 m, length / 3)`` along the pipe from
   the node (the N-1 rule: the feeding main stays unvalved at the node). Besides, a main longer
   than the valve spacing ``s`` (300 m) carries ``ceil(L / s) - 1`` line valves at ``k * L /
   ceil(L / s)``, so no stretch of main between valves or pipe ends exceeds ``s``. Valves are
   open; a drawn 3 % are not operable.
3. Hydrants (water): a main of diameter >= 100 mm and length ``L`` carries ``m = ceil(L / 120)``
   hydrants at ``(k - 0.5) * L / m``, k = 1..m: consecutive hydrants are ``L / m <= 120 m`` apart
   (GB 50974-2014 §7.2.5) and every point of the main is within 60 m along it of a hydrant.
4. Service connections: each building is joined to its nearest main (ties: smallest code) by a
   straight service pipe (role ``service``, PE) from the nearest point on the main, which is not
   split, to the nearest point of the building outline, plus a ``service_connection`` point at
   the building end. Buildings farther than the utility's maximum (water 150 m, gas 60 m) are
   not served, nor are buildings a main runs under (closer than 0.5 m: no room for a service
   line); both are counted by reason. Customers: per level or per building by use
   (``service_customers.csv``, residential 2 households per level); the service diameter is the
   first row of ``service_pipe_sizes.csv`` that the customers and footprint area fit.
5. Sources: every connected component of the mains with at least 20 pipes gets one source at
   its node of largest total incident diameter (ties: smallest node code). Water: a ``plant``
   for the largest component, a ``reservoir`` for the others; gas: a ``regulating_station``.
   Smaller components get none, so a topology check reports them as unreachable: intended.
6. Junction points (kind ``junction``) at every node of the mains, at its offset position,
   whatever its degree, so every start_node/end_node of a main names a point at that end of the
   main. Service pipes have no start node (their tee is a point on the main, which stays whole)
   and end at their service connection point.

Point codes carry a kind letter after the utility: N node, V valve, H hydrant, C service
connection, S source (``JSV000001``). Service pipes continue the mains' numbering.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import networkx as nx
from shapely import from_wkb, line_merge
from shapely.geometry import LineString, Point
from shapely.ops import substring
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from geoplatform.city import projected_srid
from geoplatform.ingest import copy_rows, create_staging
from geoplatform.refdata import read_table
from layers.pipeline.changes import networks_changed
from layers.pipeline.utilities import BY_CODE, Utility

Progress = Callable[[str, int, int], None]
EMPTY_LINE = LineString()

CLOSED_WAY_M = 0.001  # a way whose ends are closer is closed: its side comes from its 1st segment
SAME_POINT_M = 0.001  # an offset end this close to its node position is moved onto it, not joined
JUNCTION_VALVE_OFFSET_M = 3.0
INOPERABLE_SHARE = 0.03
SOURCE_MIN_PIPES = 20
MIN_SERVICE_M = 0.5
NEAREST_MAINS = 8  # candidates from the index among which a building's nearest main is chosen
SERVICE_MATERIAL = "PE"
LAYING = "ZM"  # CJJ 61 C.0.2 直埋: buried directly.
NETWORK_SOURCE = "generated from base.roads and base.buildings (layers/pipeline/load.py)"
NOT_SERVED_FAR = "farther than {max_m:g} m from any main"
NOT_SERVED_UNDER = "a main runs under the building"
NOT_SERVED_NO_MAINS = "the network has no mains"

# Columns written from the generator's rows (geometry and length are computed in SQL).
_ASSET_COLUMNS = (
    "network",
    "code",
    "utility",
    "subtype",
    "feature_code",
    "install_year",
    "owner",
    "status",
)
PIPE_COLUMNS = (
    *_ASSET_COLUMNS,
    "role",
    "diameter_mm",
    "material",
    "start_node",
    "end_node",
    "start_depth_m",
    "end_depth_m",
    "pressure_class",
    "laying",
    "road_name",
)
POINT_COLUMNS = (
    *_ASSET_COLUMNS,
    "kind",
    "pipe_code",
    "normal_state",
    "operable",
    "source_kind",
    "building_id",
    "address",
    "customers",
    "depth_m",
)


class DemoNetworkError(Exception):
    """The demo networks cannot be generated (e.g. no city loaded)."""


# --- SQL, one statement per concern -----------------------------------------------------------

_DELETE_NETWORKS = "DELETE FROM pipeline.networks WHERE code = ANY(:codes)"

_INSERT_NETWORK = """
INSERT INTO pipeline.networks (code, utility, name_zh, name_en, source)
VALUES (:code, :utility, :name_zh, :name_en, :source)
"""

_MAIN_ROADS = """
SELECT id, class AS road_class, coalesce(name_zh, name) AS name,
       ST_AsBinary(geom) AS wkb, ST_AsBinary(ST_Transform(geom, :srid)) AS wkb_projected
  FROM base.roads
 WHERE class = ANY(:classes)
 ORDER BY id
"""

_INSERT_PIPES = """
INSERT INTO pipeline.pipes ({columns}, length_m, geom)
SELECT {columns}, ST_Length(ST_Transform(geom, :srid)), geom
  FROM (SELECT {columns}, ST_Transform(ST_GeomFromWKB(wkb, :wkb_srid), 4490) AS geom
          FROM {stage}) AS staged
"""

_INSERT_POINTS = """
INSERT INTO pipeline.points ({columns}, geom)
SELECT {columns}, ST_Transform(ST_GeomFromWKB(wkb, :srid), 4490) FROM {stage}
"""

# The network's mains in the projected CRS with their own index, so that the nearest main of
# each building is an index-assisted KNN search in metres rather than in degrees.
_STAGE_MAINS = """
CREATE TEMP TABLE demo_mains ON COMMIT DROP AS
SELECT code, install_year, road_name, ST_Transform(geom, :srid) AS geom
  FROM pipeline.pipes
 WHERE network = :network AND role = 'main'
"""
_INDEX_MAINS = "CREATE INDEX ON demo_mains USING gist (geom)"
_ANALYZE_MAINS = "ANALYZE demo_mains"
_DROP_MAINS = "DROP TABLE demo_mains"

# The line runs from the nearest point on the main to the nearest point of the building. The
# index orders by distance alone, so a few nearest are taken from it and the tie (mains meeting
# at the node nearest the building) is broken by code outside: a second sort key inside the KNN
# query would make PostgreSQL sort every main for every building.
_SERVICE_LINES = """
SELECT b.id AS building_id, b.use, b.levels, b.area_m2,
       coalesce(a.label, b.address) AS address,
       m.code AS main_code, m.install_year AS main_year, m.road_name,
       m.distance AS distance_m,
       ST_AsBinary(ST_ShortestLine(m.geom, bg.geom)) AS wkb
  FROM base.buildings AS b
 CROSS JOIN LATERAL (SELECT ST_Transform(b.geom, :srid) AS geom) AS bg
  LEFT JOIN LATERAL (
       SELECT code, install_year, road_name, geom, ST_Distance(geom, bg.geom) AS distance
         FROM (SELECT * FROM demo_mains ORDER BY geom <-> bg.geom LIMIT :nearest) AS near
        ORDER BY distance, code
        LIMIT 1) AS m ON true
  LEFT JOIN LATERAL (
       SELECT label FROM base.addresses
        WHERE building_id = b.id
        ORDER BY label
        LIMIT 1) AS a ON true
 ORDER BY b.id
"""


# --- reference data ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkRules:
    """What ``data/demo_networks.csv`` says about one utility's demo network."""

    utility: Utility
    network: str
    name_zh: str
    name_en: str
    subtype: str
    line_feature_code: str
    valve_feature_code: str
    hydrant_feature_code: str | None
    hydrant_min_diameter_mm: int | None
    hydrant_spacing_m: float | None
    valve_spacing_m: float
    first_year: int
    last_year: int
    min_depth_m: float
    max_depth_m: float
    service_max_m: float
    main_source_kind: str
    other_source_kind: str
    main_offset_m: float  # lateral offset of the mains from the centreline; + north-east side
    diameters: dict[str, int]


def network_rules() -> tuple[NetworkRules, ...]:
    """The demo networks to generate, in order, with their rules from ``data/``."""
    return tuple(_rules_of(row) for row in read_table("demo_networks"))


def _rules_of(row: dict[str, str]) -> NetworkRules:
    def optional(name: str, kind: type) -> object | None:
        return kind(row[name]) if row[name] else None

    return NetworkRules(
        utility=BY_CODE[row["utility"]],
        network=row["network"],
        name_zh=row["name_zh"],
        name_en=row["name_en"],
        subtype=row["subtype"],
        line_feature_code=row["line_feature_code"],
        valve_feature_code=row["valve_feature_code"],
        hydrant_feature_code=optional("hydrant_feature_code", str),
        hydrant_min_diameter_mm=optional("hydrant_min_diameter_mm", int),
        hydrant_spacing_m=optional("hydrant_spacing_m", float),
        valve_spacing_m=float(row["valve_spacing_m"]),
        first_year=int(row["first_year"]),
        last_year=int(row["last_year"]),
        min_depth_m=float(row["min_depth_m"]),
        max_depth_m=float(row["max_depth_m"]),
        service_max_m=float(row["service_max_m"]),
        main_source_kind=row["main_source_kind"],
        other_source_kind=row["other_source_kind"],
        main_offset_m=float(row["main_offset_m"]),
        diameters={
            r["road_class"]: int(r["diameter_mm"])
            for r in read_table("pipe_diameters")
            if r["utility"] == row["utility"]
        },
    )


def material_for(utility: str, diameter_mm: int, install_year: int) -> str:
    """CJJ 61 C.0.1 material code: the first row of ``pipe_materials.csv`` that fits."""
    for row in read_table("pipe_materials"):
        if (
            row["utility"] == utility
            and (not row["first_year"] or install_year >= int(row["first_year"]))
            and (not row["last_year"] or install_year <= int(row["last_year"]))
            and (not row["max_diameter_mm"] or diameter_mm <= int(row["max_diameter_mm"]))
        ):
            return row["material"]
    raise DemoNetworkError(f"no material in pipe_materials.csv for {utility} {diameter_mm} mm")


def pressure_class_for(utility: str, diameter_mm: int) -> str | None:
    """The pressure class of the largest ``min_diameter_mm`` the diameter reaches, if any."""
    rows = [
        r
        for r in read_table("pipe_pressure_classes")
        if r["utility"] == utility and diameter_mm >= int(r["min_diameter_mm"])
    ]
    if not rows:
        return None
    return max(rows, key=lambda r: int(r["min_diameter_mm"]))["pressure_class"]


def customers_for(use: str, levels: int) -> int:
    """Estimated customers (households or accounts) behind one building's service connection."""
    rows = {r["use"]: r for r in read_table("service_customers")}
    row = rows.get(use, rows["default"])
    per = int(row["customers"])
    return per * max(levels, 1) if row["basis"] == "level" else per


def service_diameter_for(customers: int, area_m2: float) -> int:
    for row in read_table("service_pipe_sizes"):
        fits_customers = not row["max_customers"] or customers <= int(row["max_customers"])
        fits_area = not row["max_area_m2"] or area_m2 <= float(row["max_area_m2"])
        if fits_customers and fits_area:
            return int(row["diameter_mm"])
    raise DemoNetworkError("service_pipe_sizes.csv needs a last row without limits")


# --- summary ----------------------------------------------------------------------------------


@dataclass
class NetworkSummary:
    network: str
    utility: str
    pipes: Counter = field(default_factory=Counter)  # by role
    points: Counter = field(default_factory=Counter)  # by kind
    main_km: float = 0.0
    service_km: float = 0.0
    components: int = 0
    buildings_served: int = 0
    not_served: Counter = field(default_factory=Counter)  # by reason


@dataclass
class DemoSummary:
    seed: int
    networks: dict[str, NetworkSummary]
    seconds: float


# --- geometry of the mains --------------------------------------------------------------------


@dataclass
class Road:
    id: int
    road_class: str
    name: str | None
    coords: list[tuple[float, float]]  # CGCS2000, exactly as stored
    projected: list[tuple[float, float]]  # the same vertices in the projected CRS

    def side(self) -> int:
        """+1 when the road's left side is its north-east side, else -1 (see rule 1).

        The left normal of the chord d (first to last vertex; the first segment for a closed
        way) is (-dy, dx); it points north-east (positive sum of components) when dx > dy.
        Reversing the way flips both, so the side on the ground does not depend on the drawing
        direction. A chord exactly along the south-west to north-east diagonal (a tie) takes
        the south-east side.
        """
        (x0, y0), (x1, y1) = self.projected[0], self.projected[-1]
        if math.hypot(x1 - x0, y1 - y0) < CLOSED_WAY_M:
            (x0, y0), (x1, y1) = self.projected[0], self.projected[1]
        dx, dy = x1 - x0, y1 - y0
        if dx != dy:
            return 1 if dx > dy else -1
        return 1 if dx < 0 else -1


@dataclass
class Node:
    code: str
    coord: tuple[float, float]  # the road vertex, CGCS2000, exactly as stored
    centre: tuple[float, float]  # the road vertex, projected
    xy: tuple[float, float] = (0.0, 0.0)  # where the mains meet: the offset node (rule 1)
    ends: list[tuple[Main, bool]] = field(default_factory=list)  # (pipe, node is its start)
    depth_m: float = 0.0


@dataclass
class Main:
    code: str
    road: Road
    centreline: LineString  # the stretch of road, projected
    start: Node
    end: Node
    diameter_mm: int = 0
    install_year: int = 0
    line: LineString = EMPTY_LINE  # the pipe, projected: the centreline offset (rule 1)

    @property
    def length_m(self) -> float:
        return self.line.length


def split_at_shared_vertices(roads: Sequence[Road]) -> list[tuple[Road, int, int]]:
    """(road, first, last) vertex index ranges between nodes: road ends and shared vertices."""
    uses = Counter(vertex for road in roads for vertex in road.coords)
    stretches = []
    for road in roads:
        last = len(road.coords) - 1
        cuts = [i for i, v in enumerate(road.coords) if i in (0, last) or uses[v] > 1]
        for first, second in zip(cuts, cuts[1:], strict=False):
            if len(set(road.coords[first : second + 1])) > 1:
                stretches.append((road, first, second))
    return stretches


def _build_mains(
    roads: Sequence[Road], rules: NetworkRules, draw: Drawer
) -> tuple[list[Main], list[Node]]:
    prefix = rules.utility.code
    nodes: dict[tuple[float, float], Node] = {}

    def node_at(road: Road, index: int) -> Node:
        coord = road.coords[index]
        if coord not in nodes:
            nodes[coord] = Node(f"{prefix}N{len(nodes) + 1:06d}", coord, road.projected[index])
        return nodes[coord]

    mains = []
    for road, first, last in split_at_shared_vertices(roads):
        main = Main(
            code=f"{prefix}{len(mains) + 1:06d}",
            road=road,
            centreline=LineString(road.projected[first : last + 1]),
            start=node_at(road, first),
            end=node_at(road, last),
            diameter_mm=rules.diameters[road.road_class],
            install_year=draw.year(f"road {road.id}"),
        )
        main.start.ends.append((main, True))
        main.end.ends.append((main, False))
        mains.append(main)
    lay_offset(mains, nodes.values(), rules.main_offset_m)
    for node in nodes.values():
        node.depth_m = draw.depth(node.code)
    return mains, list(nodes.values())


def lay_offset(mains: Sequence[Main], nodes: Iterable[Node], offset_m: float) -> None:
    """Set every main's line and every node's position ``offset_m`` beside the centreline.

    Each stretch is offset on its road's side (``Road.side``); each node's position is the mean
    of the offset ends of its incident mains, computed once; then every main starts and ends
    exactly at its nodes' positions: an offset end within ``SAME_POINT_M`` of it is moved onto
    it, any other is joined to it by a straight segment.
    """
    offsets = {
        main.code: offset_curve(main.centreline, offset_m * main.road.side()) for main in mains
    }
    for node in nodes:
        ends = [offsets[main.code].coords[0 if at_start else -1] for main, at_start in node.ends]
        node.xy = (
            math.fsum(x for x, _ in ends) / len(ends),
            math.fsum(y for _, y in ends) / len(ends),
        )
    for main in mains:
        coords = list(offsets[main.code].coords)
        for index, node in ((0, main.start), (-1, main.end)):
            if math.dist(coords[index], node.xy) < SAME_POINT_M:
                coords[index] = node.xy
            elif index == 0:
                coords.insert(0, node.xy)
            else:
                coords.append(node.xy)
        main.line = LineString(coords)


def offset_curve(line: LineString, distance_m: float) -> LineString:
    """The line ``distance_m`` to its left (right when negative), drawn in the same direction.

    shapely's (GEOS) offset curve with round joins, so every point of it is the distance from
    the line; GEOS sometimes returns a collinear offset in two parts, which are merged. A closed
    line (a loop from a node back to it) gives a closed ring started at its point nearest the
    node.
    """
    if distance_m == 0:
        return line
    found = line.offset_curve(distance_m)
    if found.geom_type == "MultiLineString":
        found = line_merge(found)
    if found.geom_type == "MultiLineString":  # not mergeable: parts in GEOS's order, joined
        found = LineString([c for part in found.geoms for c in part.coords])
    if found.is_empty or found.geom_type != "LineString":
        raise DemoNetworkError(f"cannot offset a road stretch by {distance_m} m: {found.wkt}")
    start = line.coords[0]
    if line.is_closed and found.is_closed:
        # A loop (a turning circle) gives a ring that GEOS starts anywhere: start it nearest
        # the loop's node instead.
        at = found.project(Point(start))
        if 0 < at < found.length:
            head, tail = substring(found, at, found.length), substring(found, 0, at)
            found = LineString(list(head.coords) + list(tail.coords)[1:])
    elif math.dist(found.coords[0], start) > math.dist(found.coords[-1], start):
        found = found.reverse()
    return found


def _fetch_roads(conn: Connection, rules: NetworkRules, srid: int) -> list[Road]:
    rows = conn.execute(text(_MAIN_ROADS), {"srid": srid, "classes": sorted(rules.diameters)})
    return [
        Road(
            row.id,
            row.road_class,
            row.name,
            [tuple(c) for c in from_wkb(bytes(row.wkb)).coords],
            [tuple(c) for c in from_wkb(bytes(row.wkb_projected)).coords],
        )
        for row in rows
    ]


# --- seeded draws -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Drawer:
    """Uniform draws keyed by (seed, network, key): stable whatever the order of work."""

    seed: int
    rules: NetworkRules

    def unit(self, key: str) -> float:
        message = f"{self.seed}|{self.rules.network}|{key}".encode()
        digest = hashlib.blake2b(message, digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    def year(self, key: str, first: int | None = None) -> int:
        first = self.rules.first_year if first is None else first
        span = self.rules.last_year - first + 1
        return first + int(self.unit(f"{key} year") * span)

    def depth(self, key: str) -> float:
        low, high = self.rules.min_depth_m, self.rules.max_depth_m
        return round(low + self.unit(f"{key} depth") * (high - low), 2)


# --- rows -------------------------------------------------------------------------------------


def _asset(rules: NetworkRules, code: str, feature_code: str | None, year: int | None) -> dict:
    return {
        "network": rules.network,
        "code": code,
        "utility": rules.utility.code,
        "subtype": rules.subtype,
        "feature_code": feature_code,
        "install_year": year,
        "owner": rules.utility.department,
        "status": "0",
    }


def _main_row(rules: NetworkRules, main: Main) -> dict:
    return {
        **_asset(rules, main.code, rules.line_feature_code, main.install_year),
        "role": "main",
        "diameter_mm": main.diameter_mm,
        "material": material_for(rules.utility.code, main.diameter_mm, main.install_year),
        "start_node": main.start.code,
        "end_node": main.end.code,
        "start_depth_m": main.start.depth_m,
        "end_depth_m": main.end.depth_m,
        "pressure_class": pressure_class_for(rules.utility.code, main.diameter_mm),
        "laying": LAYING,
        "road_name": main.road.name,
        "wkb": main.line.wkb,
    }


def _point_row(rules: NetworkRules, code: str, kind: str, xy, **values) -> dict:
    row = dict.fromkeys(POINT_COLUMNS)
    row.update(_asset(rules, code, values.pop("feature_code", None), values.pop("year", None)))
    row.update(kind=kind, wkb=Point(xy).wkb, **values)
    return row


def _on_main(main: Main, distance_m: float) -> dict:
    """Where a point at ``distance_m`` along a main lies, and its depth there."""
    fraction = distance_m / main.length_m
    depth = main.start.depth_m + fraction * (main.end.depth_m - main.start.depth_m)
    return {"xy": main.line.interpolate(distance_m).coords[0], "depth_m": round(depth, 2)}


# --- rules 2, 3, 5, 6: points on the mains ----------------------------------------------------


def junction_points(rules: NetworkRules, nodes: Iterable[Node]) -> list[dict]:
    return [
        _point_row(rules, node.code, "junction", node.xy, depth_m=node.depth_m) for node in nodes
    ]


def valve_positions(mains: Sequence[Main], nodes: Iterable[Node], spacing_m: float):
    """(main, distance along it) of every valve: N-1 at junctions, then line valves."""
    positions = []
    for node in nodes:
        if len(node.ends) < 3:
            continue
        feeder, *others = sorted(node.ends, key=_feeding_first)
        for main, at_start in others:
            offset = min(JUNCTION_VALVE_OFFSET_M, main.length_m / 3)
            positions.append((main, offset if at_start else main.length_m - offset))
    for main in mains:
        stretches = math.ceil(main.length_m / spacing_m)
        positions.extend((main, k * main.length_m / stretches) for k in range(1, stretches))
    return sorted(positions, key=lambda p: (p[0].code, p[1]))


def valve_points(
    rules: NetworkRules, mains: Sequence[Main], nodes: Iterable[Node], draw: Drawer
) -> list[dict]:
    rows = []
    for number, (main, distance) in enumerate(
        valve_positions(mains, nodes, rules.valve_spacing_m), start=1
    ):
        code = f"{rules.utility.code}V{number:06d}"
        rows.append(
            _point_row(
                rules,
                code,
                "valve",
                feature_code=rules.valve_feature_code,
                year=main.install_year,
                pipe_code=main.code,
                normal_state="open",
                operable=draw.unit(f"{code} operable") >= INOPERABLE_SHARE,
                **_on_main(main, distance),
            )
        )
    return rows


def hydrant_points(rules: NetworkRules, mains: Sequence[Main]) -> list[dict]:
    if rules.hydrant_spacing_m is None or rules.hydrant_min_diameter_mm is None:
        return []
    rows = []
    for main in mains:
        if main.diameter_mm < rules.hydrant_min_diameter_mm:
            continue
        count = math.ceil(main.length_m / rules.hydrant_spacing_m)
        for k in range(1, count + 1):
            rows.append(
                _point_row(
                    rules,
                    f"{rules.utility.code}H{len(rows) + 1:06d}",
                    "hydrant",
                    feature_code=rules.hydrant_feature_code,
                    year=main.install_year,
                    pipe_code=main.code,
                    **_on_main(main, (k - 0.5) * main.length_m / count),
                )
            )
    return rows


def components_of(mains: Sequence[Main]) -> list[list[Main]]:
    """Connected components of the mains, largest first (ties: smallest pipe code)."""
    graph = nx.MultiGraph()
    for main in mains:
        graph.add_edge(main.start.code, main.end.code, main=main)
    components = [
        sorted((d["main"] for *_, d in graph.subgraph(nodes).edges(data=True)), key=_code)
        for nodes in nx.connected_components(graph)
    ]
    return sorted(components, key=lambda c: (-len(c), c[0].code))


def source_node(component: Sequence[Main]) -> Node:
    """The node with the largest total diameter of incident pipe ends (ties: smallest code)."""
    nodes = {node.code: node for main in component for node in (main.start, main.end)}
    return min(nodes.values(), key=lambda n: (-sum(m.diameter_mm for m, _ in n.ends), n.code))


def source_points(rules: NetworkRules, components: Sequence[Sequence[Main]]) -> list[dict]:
    rows = []
    for component in components:
        if len(component) < SOURCE_MIN_PIPES:
            continue
        node = source_node(component)
        feeder = min(node.ends, key=_feeding_first)
        kind = rules.other_source_kind if rows else rules.main_source_kind
        rows.append(
            _point_row(
                rules,
                f"{rules.utility.code}S{len(rows) + 1:06d}",
                "source",
                node.xy,
                source_kind=kind,
                pipe_code=feeder[0].code,
                depth_m=node.depth_m,
            )
        )
    return rows


def _code(main: Main) -> str:
    return main.code


def _feeding_first(end: tuple[Main, bool]) -> tuple[int, str, bool]:
    """Order of a node's pipe ends: the largest diameter first, ties by the smaller code."""
    main, at_start = end
    return (-main.diameter_mm, main.code, at_start)


# --- rule 4: service connections --------------------------------------------------------------


@dataclass
class Services:
    pipes: list[dict]
    points: list[dict]
    not_served: Counter


def service_connections(
    conn: Connection,
    rules: NetworkRules,
    srid: int,
    first_number: int,
    draw: Drawer,
    report: Progress,
) -> Services:
    """Service pipes and connection points of every building the network serves."""
    stage = f"{rules.utility.name} service connections"
    conn.execute(text(_STAGE_MAINS), {"srid": srid, "network": rules.network})
    conn.execute(text(_INDEX_MAINS))
    conn.execute(text(_ANALYZE_MAINS))
    params = {"srid": srid, "nearest": NEAREST_MAINS}
    candidates = conn.execute(text(_SERVICE_LINES), params).all()
    conn.execute(text(_DROP_MAINS))
    report(stage, 0, len(candidates))
    services = Services([], [], Counter())
    for row in candidates:
        reason = _not_served_because(rules, row.main_code, row.distance_m)
        if reason:
            services.not_served[reason] += 1
            continue
        pipe_code = f"{rules.utility.code}{first_number + len(services.pipes):06d}"
        point_code = f"{rules.utility.code}C{len(services.points) + 1:06d}"
        pipe, point = _service(rules, row, pipe_code, point_code, draw)
        services.pipes.append(pipe)
        services.points.append(point)
    report(stage, len(candidates), len(candidates))
    return services


def _not_served_because(rules: NetworkRules, main_code: str | None, distance: float) -> str:
    if main_code is None:
        return NOT_SERVED_NO_MAINS
    if distance > rules.service_max_m:
        return NOT_SERVED_FAR.format(max_m=rules.service_max_m)
    if distance < MIN_SERVICE_M:
        return NOT_SERVED_UNDER
    return ""


def _service(rules: NetworkRules, row, pipe_code: str, point_code: str, draw: Drawer):
    line = from_wkb(bytes(row.wkb))
    customers = customers_for(row.use, row.levels)
    diameter = service_diameter_for(customers, row.area_m2)
    year = draw.year(pipe_code, first=max(row.main_year, rules.first_year))
    pipe = {
        **_asset(rules, pipe_code, rules.line_feature_code, year),
        "role": "service",
        "diameter_mm": diameter,
        "material": SERVICE_MATERIAL,
        "start_node": None,
        "end_node": point_code,
        "start_depth_m": draw.depth(f"{pipe_code} start"),
        "end_depth_m": draw.depth(f"{pipe_code} end"),
        "pressure_class": pressure_class_for(rules.utility.code, diameter),
        "laying": LAYING,
        "road_name": row.road_name,
        "wkb": line.wkb,
    }
    point = _point_row(
        rules,
        point_code,
        "service_connection",
        line.coords[-1],
        year=year,
        pipe_code=pipe_code,
        building_id=row.building_id,
        address=row.address,
        customers=customers,
        depth_m=pipe["end_depth_m"],
    )
    return pipe, point


# --- writing ----------------------------------------------------------------------------------


def _insert_pipes(
    conn: Connection, stage: str, rows: Sequence[dict], wkb_srid: int, srid: int
) -> None:
    _stage(conn, stage, ("pipeline", "pipes"), PIPE_COLUMNS, rows)
    statement = _INSERT_PIPES.format(columns=", ".join(PIPE_COLUMNS), stage=stage)
    conn.execute(text(statement), {"srid": srid, "wkb_srid": wkb_srid})


def _insert_points(conn: Connection, stage: str, rows: Sequence[dict], srid: int) -> None:
    _stage(conn, stage, ("pipeline", "points"), POINT_COLUMNS, rows)
    statement = _INSERT_POINTS.format(columns=", ".join(POINT_COLUMNS), stage=stage)
    conn.execute(text(statement), {"srid": srid})


def _stage(conn, stage: str, target: tuple[str, str], columns, rows: Sequence[dict]) -> None:
    cursor = conn.connection.driver_connection.cursor()
    create_staging(cursor, stage, target, columns)
    copy_rows(cursor, stage, columns, ([row[c] for c in columns] + [row["wkb"]] for row in rows))


# --- the load ---------------------------------------------------------------------------------


def load_demo_networks(
    engine: Engine, *, seed: int = 7, progress: Progress | None = None
) -> DemoSummary:
    """Replace the demo water and gas networks with ones generated from the base layers."""
    started = time.perf_counter()
    report = progress or _no_progress
    all_rules = network_rules()
    with engine.begin() as conn:
        srid = projected_srid(conn)
        if srid is None:
            raise DemoNetworkError("no city is loaded: run `geoplatform base load-osm` first")
        conn.execute(text(_DELETE_NETWORKS), {"codes": [r.network for r in all_rules]})
        summaries = {
            rules.network: _generate_network(conn, rules, srid, Drawer(seed, rules), report)
            for rules in all_rules
        }
        networks_changed(conn, [rules.utility for rules in all_rules])
    return DemoSummary(seed, summaries, time.perf_counter() - started)


def _generate_network(
    conn: Connection, rules: NetworkRules, srid: int, draw: Drawer, report: Progress
) -> NetworkSummary:
    name = rules.utility.name
    conn.execute(
        text(_INSERT_NETWORK),
        {
            "code": rules.network,
            "utility": rules.utility.code,
            "name_zh": rules.name_zh,
            "name_en": rules.name_en,
            "source": NETWORK_SOURCE,
        },
    )
    roads = _fetch_roads(conn, rules, srid)
    report(f"{name} mains", 0, len(roads))
    mains, nodes = _build_mains(roads, rules, draw)
    _insert_pipes(conn, f"stage_{name}_mains", [_main_row(rules, m) for m in mains], srid, srid)
    report(f"{name} mains", len(roads), len(roads))

    points = junction_points(rules, nodes)
    report(f"{name} valves", 0, len(nodes))
    points += valve_points(rules, mains, nodes, draw)
    report(f"{name} valves", len(nodes), len(nodes))
    report(f"{name} hydrants", 0, len(mains))
    points += hydrant_points(rules, mains)
    report(f"{name} hydrants", len(mains), len(mains))
    components = components_of(mains)
    points += source_points(rules, components)
    report(f"{name} sources", len(components), len(components))

    services = service_connections(conn, rules, srid, len(mains) + 1, draw, report)
    _insert_pipes(conn, f"stage_{name}_services", services.pipes, srid, srid)
    _insert_points(conn, f"stage_{name}_points", points + services.points, srid)
    return _summary(rules, mains, components, points + services.points, services)


def _summary(rules, mains, components, points, services: Services) -> NetworkSummary:
    service_m = sum(from_wkb(p["wkb"]).length for p in services.pipes)
    return NetworkSummary(
        network=rules.network,
        utility=rules.utility.code,
        pipes=Counter({"main": len(mains), "service": len(services.pipes)}),
        points=Counter(p["kind"] for p in points),
        main_km=round(sum(m.length_m for m in mains) / 1000, 3),
        service_km=round(service_m / 1000, 3),
        components=len(components),
        buildings_served=len(services.points),
        not_served=services.not_served,
    )


def _no_progress(stage: str, done: int, total: int) -> None:
    return None
