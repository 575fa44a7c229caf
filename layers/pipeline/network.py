"""The network graph of one utility network, built from geometry alone.

Surveyed networks rarely carry reliable from/to ids, so connectivity comes from where things
are, in the city's projected CRS (metres):

- pipe endpoints closer than the network's snapping tolerance are one node;
- an endpoint lying on another pipe's interior is a tee on that pipe (a service line tapped on
  a main: the main is not split in the data);
- a valve sits on a pipe (its ``pipe_code``, else the nearest pipe within the tolerance) and
  splits it: closing the valve stops flow at that point of that pipe, and nowhere else. A valve
  a metre from a junction therefore isolates the pipe it is mounted on from the junction, which
  is exactly the (link, node) valve of EPANET/WNTR valve layers;
- hydrants and other points on a pipe's interior split it too (they do not block);
- sources, junctions, service connections and other points at a node belong to that node.

Each pipe becomes one or more *pieces* (graph edges) between consecutive split positions. The
graph is plain arrays (numbers, not objects): analyses walk it per request in milliseconds, and
whole-network reachability runs in scipy's compiled connected-components.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from shapely.geometry import LineString, Point
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geoplatform.errors import NotFound
from layers.pipeline.measure import measuring_srid

_NETWORK = """
SELECT n.code, n.utility, n.snap_tolerance_m
  FROM pipeline.networks AS n
 WHERE n.code = :network
"""

_PIPES = """
SELECT code, role, diameter_mm, ST_AsBinary(ST_Transform(geom, :srid)) AS wkb
  FROM pipeline.pipes
 WHERE network = :network
 ORDER BY code
"""

_POINTS = """
SELECT code, kind, pipe_code, normal_state, operable, source_kind, building_id, address,
       customers, ST_AsBinary(ST_Transform(geom, :srid)) AS wkb
  FROM pipeline.points
 WHERE network = :network
 ORDER BY code
"""

# Points that sit on a pipe and split it; all others belong to the node they are at.
ON_PIPE_KINDS = frozenset({"valve", "hydrant"})


@dataclass(frozen=True)
class PointInfo:
    code: str
    kind: str
    node: int | None  # graph node it is at (None: not on the network)
    pipe_code: str | None = None
    normal_state: str | None = None
    operable: bool | None = None
    source_kind: str | None = None
    building_id: int | None = None
    address: str | None = None
    customers: int | None = None
    xy: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True)
class PipeInfo:
    code: str
    role: str
    diameter_mm: int | None
    geometry: LineString  # projected
    pieces: tuple[int, ...]  # edge indices, from the start of the pipe to its end

    @property
    def length(self) -> float:
        return self.geometry.length


@dataclass
class Network:
    """One network's graph: nodes are integers, edges (pieces) are rows of the arrays."""

    code: str
    utility: str
    srid: int
    tolerance: float
    pipes: dict[str, PipeInfo]
    points: dict[str, PointInfo]
    # Pieces: edge i runs from node edge_u[i] to edge_v[i], along pipe edge_pipe[i] from
    # distance edge_from[i] to edge_to[i] (metres from the pipe's start).
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_pipe: list[str]
    edge_from: np.ndarray
    edge_to: np.ndarray
    # node -> [(neighbour, edge)], the walk of an isolation.
    adjacency: list[list[tuple[int, int]]]
    valve_at: dict[int, str]  # valve node -> valve code
    points_at: dict[int, list[str]]  # node -> codes of the points there
    node_xy: np.ndarray  # (node_count, 2) projected positions
    unattached: list[str] = field(default_factory=list)  # points off the network
    pipe_tree: shapely.STRtree | None = None
    pipe_order: list[str] = field(default_factory=list)  # pipe codes in pipe_tree's order
    # Derived once per graph (the graph never changes; a new data version is a new graph).
    source_nodes: list[int] = field(init=False)
    closed_valve_nodes: frozenset[int] = field(init=False)  # closed in normal operation
    normally_fed: np.ndarray = field(init=False, repr=False)  # per node, by a source

    def __post_init__(self) -> None:
        self.source_nodes = sorted(
            {p.node for p in self.points.values() if p.kind == "source" and p.node is not None}
        )
        self.closed_valve_nodes = frozenset(
            node
            for node, code in self.valve_at.items()
            if self.points[code].normal_state == "closed"
        )
        self.normally_fed = self._fed_in_normal_operation()

    @property
    def node_count(self) -> int:
        return len(self.node_xy)

    def nearest_pipe(self, xy: tuple[float, float], max_distance: float) -> PipeInfo | None:
        if self.pipe_tree is None or not self.pipe_order:
            return None
        found = self.pipe_tree.query_nearest(
            Point(xy), max_distance=max_distance, all_matches=False
        )
        return self.pipes[self.pipe_order[int(found[0])]] if len(found) else None

    def components(self, keep_edges: np.ndarray | None = None) -> np.ndarray:
        """Component label of every node over the pieces kept (all when None)."""
        u, v = self.edge_u, self.edge_v
        if keep_edges is not None:
            u, v = u[keep_edges], v[keep_edges]
        matrix = coo_matrix(
            (np.ones(len(u), dtype=np.int8), (u, v)), shape=(self.node_count, self.node_count)
        )
        return connected_components(matrix, directed=False)[1]

    def fed_nodes(self, keep_edges: np.ndarray, blocked: np.ndarray) -> np.ndarray:
        """Per node: whether a source not blocked reaches it over the pieces kept."""
        labels = self.components(keep_edges)
        sources = [n for n in self.source_nodes if not blocked[n]]
        if not sources:
            return np.zeros(self.node_count, dtype=bool)
        return np.isin(labels, labels[sources]) & ~blocked

    def _fed_in_normal_operation(self) -> np.ndarray:
        blocked = np.zeros(self.node_count, dtype=bool)
        blocked[list(self.closed_valve_nodes)] = True
        keep = ~(blocked[self.edge_u] | blocked[self.edge_v])
        fed = self.fed_nodes(keep, blocked)
        # A closed valve node itself is part of the fed network when either side is fed.
        for node in np.flatnonzero(blocked):
            fed[node] = any(fed[n] for n, _ in self.adjacency[node])
        return fed

    def piece_geometry(self, edge: int) -> LineString:
        pipe = self.pipes[self.edge_pipe[edge]]
        return shapely.ops.substring(
            pipe.geometry, float(self.edge_from[edge]), float(self.edge_to[edge])
        )

    def middle_piece(self, pipe_code: str) -> int:
        return self.locate(pipe_code, self.pipes[pipe_code].length / 2)

    def locate(self, pipe_code: str, distance: float) -> int:
        """The piece of ``pipe_code`` holding the position ``distance`` metres along it."""
        pieces = self.pipes[pipe_code].pieces
        for edge in pieces:
            if distance <= self.edge_to[edge]:
                return edge
        return pieces[-1]


def load_network(conn: Connection, network: str) -> Network:
    """Read one network's pipes and points and build its graph."""
    row = conn.execute(text(_NETWORK), {"network": network}).one_or_none()
    if row is None:
        raise NotFound(f"no network {network!r}")
    srid = measuring_srid(conn)
    params = {"network": network, "srid": srid}
    pipe_rows = conn.execute(text(_PIPES), params).all()
    point_rows = conn.execute(text(_POINTS), params).all()
    return build_network(row.code, row.utility, srid, row.snap_tolerance_m, pipe_rows, point_rows)


def build_network(code, utility, srid, tolerance, pipe_rows, point_rows) -> Network:
    lines = shapely.from_wkb([r.wkb for r in pipe_rows]) if pipe_rows else np.array([])
    builder = _GraphBuilder(tolerance, [r.code for r in pipe_rows], lines)
    builder.snap_endpoints()
    builder.attach_tees()
    point_geoms = shapely.from_wkb([r.wkb for r in point_rows]) if point_rows else []
    pairs = zip(point_rows, point_geoms, strict=True)
    points = {row.code: builder.attach_point(row, geometry) for row, geometry in pairs}
    return builder.finish(code, utility, srid, pipe_rows, points)


class _GraphBuilder:
    def __init__(self, tolerance: float, codes: list[str], lines: np.ndarray) -> None:
        self.tolerance = tolerance
        self.codes = codes
        self.index = {code: i for i, code in enumerate(codes)}
        self.lines = lines
        self.lengths = shapely.length(lines) if len(lines) else np.array([])
        self.tree = shapely.STRtree(lines)
        # Split positions per pipe: (distance along, node, valve code or None).
        self.splits: dict[int, list[tuple[float, int, str | None]]] = defaultdict(list)
        self.node_xy: list[tuple[float, float]] = []
        self.end_nodes = np.zeros((len(codes), 2), dtype=np.int64)
        # The nodes pipe ends snapped to, where points at a node are looked for.
        self.end_node_tree = shapely.STRtree([])

    @property
    def node_count(self) -> int:
        return len(self.node_xy)

    def _new_node(self, xy) -> int:
        self.node_xy.append((float(xy[0]), float(xy[1])))
        return self.node_count - 1

    def snap_endpoints(self) -> None:
        """Endpoints within the tolerance of each other become one node."""
        n = len(self.codes)
        if n == 0:
            return
        starts = shapely.get_point(self.lines, 0)
        ends = shapely.get_point(self.lines, -1)
        ends_all = np.concatenate([starts, ends])
        tree = shapely.STRtree(ends_all)
        left, right = tree.query(ends_all, predicate="dwithin", distance=self.tolerance)
        matrix = coo_matrix(
            (np.ones(len(left), dtype=np.int8), (left, right)), shape=(2 * n, 2 * n)
        )
        count, labels = connected_components(matrix, directed=False)
        coords = shapely.get_coordinates(ends_all)
        first = {}
        for i, label in enumerate(labels):
            first.setdefault(label, i)
        self.node_xy = [tuple(coords[first[label]]) for label in range(count)]
        self.end_nodes[:, 0] = labels[:n]
        self.end_nodes[:, 1] = labels[n:]
        self.end_node_tree = shapely.STRtree(shapely.points(np.array(self.node_xy)))

    def attach_tees(self) -> None:
        """A node lying on another pipe's interior is a tee on that pipe."""
        if not self.node_count:
            return
        nodes = shapely.points(np.array(self.node_xy))
        node_index, pipe_index = self.tree.query(
            nodes, predicate="dwithin", distance=self.tolerance
        )
        for node, pipe in zip(node_index.tolist(), pipe_index.tolist(), strict=True):
            if node in self.end_nodes[pipe]:
                continue
            distance = float(shapely.line_locate_point(self.lines[pipe], nodes[node]))
            if self.tolerance < distance < self.lengths[pipe] - self.tolerance:
                self.splits[pipe].append((distance, node, None))

    def attach_point(self, row, geometry: Point) -> PointInfo:
        xy = (geometry.x, geometry.y)
        node = self._point_on_pipe(row, geometry) if row.kind in ON_PIPE_KINDS else None
        if node is None:
            node = self._point_at_node(geometry)
        if node is None and row.kind not in ON_PIPE_KINDS:
            node = self._point_on_pipe(row, geometry)
        return PointInfo(
            code=row.code,
            kind=row.kind,
            node=node,
            pipe_code=row.pipe_code,
            normal_state=row.normal_state,
            operable=row.operable,
            source_kind=row.source_kind,
            building_id=row.building_id,
            address=row.address,
            customers=row.customers,
            xy=xy,
        )

    def _point_at_node(self, geometry: Point) -> int | None:
        nearest = self.end_node_tree.query_nearest(
            geometry, max_distance=self.tolerance, all_matches=False
        )
        return int(nearest[0]) if len(nearest) else None

    def _point_on_pipe(self, row, geometry: Point) -> int | None:
        pipe = self.index.get(row.pipe_code) if row.pipe_code else None
        if pipe is None or shapely.distance(self.lines[pipe], geometry) > self.tolerance:
            nearest = self.tree.query_nearest(
                geometry, max_distance=self.tolerance, all_matches=False
            )
            if not len(nearest):
                return None
            pipe = int(nearest[0])
        distance = float(shapely.line_locate_point(self.lines[pipe], geometry))
        valve = row.code if row.kind == "valve" else None
        if valve is None:
            # A hydrant at a pipe's end belongs to the node there; only interiors split.
            if distance <= self.tolerance:
                return int(self.end_nodes[pipe][0])
            if distance >= self.lengths[pipe] - self.tolerance:
                return int(self.end_nodes[pipe][1])
        on_pipe = shapely.line_interpolate_point(self.lines[pipe], distance)
        node = self._new_node((on_pipe.x, on_pipe.y))
        self.splits[pipe].append((distance, node, valve))
        return node

    def finish(self, code, utility, srid, pipe_rows, points) -> Network:
        edge_u, edge_v, edge_pipe, edge_from, edge_to = [], [], [], [], []
        pipes: dict[str, PipeInfo] = {}
        valve_at: dict[int, str] = {}
        for i, row in enumerate(pipe_rows):
            length = float(self.lengths[i])
            stops = [(0.0, int(self.end_nodes[i][0]), None)]
            stops += sorted(self.splits.get(i, ()), key=lambda s: (s[0], s[1]))
            stops.append((length, int(self.end_nodes[i][1]), None))
            pieces = []
            for (d0, n0, _), (d1, n1, _) in itertools.pairwise(stops):
                pieces.append(len(edge_u))
                edge_u.append(n0)
                edge_v.append(n1)
                edge_pipe.append(row.code)
                edge_from.append(d0)
                edge_to.append(d1)
            for _, node, valve in stops:
                if valve is not None:
                    valve_at[node] = valve
            pipes[row.code] = PipeInfo(
                row.code, row.role, row.diameter_mm, self.lines[i], tuple(pieces)
            )
        adjacency: list[list[tuple[int, int]]] = [[] for _ in range(self.node_count)]
        for edge, (u, v) in enumerate(zip(edge_u, edge_v, strict=True)):
            adjacency[u].append((v, edge))
            adjacency[v].append((u, edge))
        points_at: dict[int, list[str]] = defaultdict(list)
        for point in points.values():
            if point.node is not None:
                points_at[point.node].append(point.code)
        return Network(
            code=code,
            utility=utility,
            srid=srid,
            tolerance=self.tolerance,
            pipes=pipes,
            points=points,
            edge_u=np.array(edge_u, dtype=np.int64),
            edge_v=np.array(edge_v, dtype=np.int64),
            edge_pipe=edge_pipe,
            edge_from=np.array(edge_from),
            edge_to=np.array(edge_to),
            adjacency=adjacency,
            valve_at=valve_at,
            points_at=dict(points_at),
            node_xy=np.array(self.node_xy, dtype=float).reshape(-1, 2),
            unattached=sorted(c for c, p in points.items() if p.node is None),
            pipe_tree=self.tree,
            pipe_order=list(self.codes),
        )
