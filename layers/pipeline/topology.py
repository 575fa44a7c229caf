"""Topology and connectivity check of one network (拓扑检查).

Reports what makes a network unfit for analysis: dangling ends, disconnected sub-networks (with
their sizes), parts no source reaches, pipes crossing without a junction, duplicated pipes,
zero-length pipes, and points that lie on no pipe. The graph (network.py) decides connectivity
from geometry with the network's snapping tolerance; crossings and duplicates are found in
PostGIS over the spatial index.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Connection

from layers.pipeline.network import Network
from layers.pipeline.reports import point_lonlat

# Interiors that cross: a shared point that is an endpoint of neither pipe. A service line
# ending on a main touches it (endpoint on interior), which is a tee, not a crossing; an end a
# hair past the line it meets (coordinates rounded on the way to EPSG:4490) is a tee too, so a
# crossing within the snapping tolerance of any of the four ends does not count.
_CROSSINGS = """
WITH crossing AS (
    SELECT a.code AS a, b.code AS b, ST_Intersection(a.geom, b.geom) AS at,
           ST_Collect(ARRAY[ST_StartPoint(a.geom), ST_EndPoint(a.geom),
                            ST_StartPoint(b.geom), ST_EndPoint(b.geom)]) AS ends
      FROM pipeline.pipes AS a
      JOIN pipeline.pipes AS b
        ON b.network = a.network AND b.id - a.id > 0 AND a.geom && b.geom
     WHERE a.network = :network
       AND ST_Crosses(a.geom, b.geom)
)
SELECT a, b, ST_AsGeoJSON(ST_PointOnSurface(at), 8) AS at
  FROM crossing
 WHERE NOT ST_DWithin(ST_Transform(at, :srid), ST_Transform(ends, :srid), :tol)
 ORDER BY a, b
"""

# Each pair once: ``b.id - a.id > 0`` rather than ``a.id < b.id``, which the planner would
# AND with the spatial index as a scan of half the primary key for every pipe.

# Same course within the tolerance, whichever direction each was drawn in. Lengths that differ
# by more than twice the tolerance rule a pair out before the costly Hausdorff distance.
_DUPLICATES = """
SELECT a.code AS a, b.code AS b
  FROM pipeline.pipes AS a
  JOIN pipeline.pipes AS b
    ON b.network = a.network AND b.id - a.id > 0 AND a.geom && b.geom
 WHERE a.network = :network
   AND abs(a.length_m - b.length_m) <= 2 * :tol
   AND ST_HausdorffDistance(ST_Transform(a.geom, :srid), ST_Transform(b.geom, :srid)) <= :tol
 ORDER BY a.code, b.code
"""

# Points at which a pipe may legitimately end: the end of a service line at a building, a
# source, a hydrant on its lateral.
_ENDPOINT_KINDS = frozenset({"service_connection", "source", "hydrant"})
LIST_LIMIT = 200


def check_topology(conn: Connection, network: Network) -> dict:
    params = {"network": network.code, "srid": network.srid, "tol": network.tolerance}
    # The plans are many cheap index probes; compiling them (JIT) cost a second more than it saved.
    conn.execute(text("SET LOCAL jit = off"))
    crossings = conn.execute(text(_CROSSINGS), params).all()
    duplicates = conn.execute(text(_DUPLICATES), params).all()
    components = _components(network)
    dangling = _dangling_ends(network)
    zero_length = sorted(
        code for code, pipe in network.pipes.items() if pipe.length < network.tolerance
    )
    unreachable = [c for c in components if not c["sources"]]
    return {
        "network": network.code,
        "snap_tolerance_m": network.tolerance,
        "counts": {
            "pipes": len(network.pipes),
            "points": len(network.points),
            "nodes": network.node_count,
            "components": len(components),
            "unreachable_components": len(unreachable),
            "unreachable_pipes": sum(c["pipes"] for c in unreachable),
            "dangling_ends": len(dangling),
            "crossings_without_junction": len(crossings),
            "duplicates": len(duplicates),
            "zero_length": len(zero_length),
            "points_off_network": len(network.unattached),
        },
        "components": components[:LIST_LIMIT],
        "dangling_ends": dangling[:LIST_LIMIT],
        "crossings_without_junction": [
            {"pipes": [r.a, r.b], "location": _coordinates(r.at)} for r in crossings[:LIST_LIMIT]
        ],
        "duplicates": [{"pipes": [r.a, r.b]} for r in duplicates[:LIST_LIMIT]],
        "zero_length": zero_length[:LIST_LIMIT],
        "points_off_network": network.unattached[:LIST_LIMIT],
    }


def _coordinates(geojson: str) -> list[float]:
    return json.loads(geojson)["coordinates"]


def _components(network: Network) -> list[dict]:
    """Connected sub-networks, largest first, with their sources and service connections."""
    labels = network.components()
    pipes_of: dict[int, set[str]] = defaultdict(set)
    length_of: Counter = Counter()
    for edge, label in enumerate(labels[network.edge_u].tolist()):
        pipes_of[label].add(network.edge_pipe[edge])
        length_of[label] += float(network.edge_to[edge] - network.edge_from[edge])
    sources: dict[int, list[str]] = defaultdict(list)
    connections: Counter = Counter()
    for point in network.points.values():
        if point.node is None:
            continue
        if point.kind == "source":
            sources[int(labels[point.node])].append(point.code)
        elif point.kind == "service_connection":
            connections[int(labels[point.node])] += 1
    ranked = sorted(pipes_of, key=lambda label: (-len(pipes_of[label]), min(pipes_of[label])))
    return [
        {
            "pipes": len(pipes_of[label]),
            "length_m": round(length_of[label], 1),
            "sources": sorted(sources.get(label, ())),
            "service_connections": connections[label],
            "sample_pipes": sorted(pipes_of[label])[:5],
        }
        for label in ranked
    ]


def _dangling_ends(network: Network) -> list[dict]:
    """Pipe ends joined to nothing: nodes of degree one where no point may end a pipe."""
    degree = np.bincount(
        np.concatenate([network.edge_u, network.edge_v]), minlength=network.node_count
    )
    ends = []
    for node in np.flatnonzero(degree == 1).tolist():
        if node in network.valve_at:
            continue
        kinds = {network.points[c].kind for c in network.points_at.get(node, ())}
        if kinds & _ENDPOINT_KINDS:
            continue
        ((_, edge),) = network.adjacency[node]
        location = point_lonlat(network, tuple(network.node_xy[node]))
        ends.append({"pipe": network.edge_pipe[edge], "location": location})
    return sorted(ends, key=lambda e: e["pipe"])
