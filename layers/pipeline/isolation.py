"""Burst isolation (爆管分析): which valves to close, what is shut off, who loses supply.

The isolated segment is what a crew must shut to stop a burst: walking the graph from the burst
along pipes, a valve that is normally open and operable stops the walk and goes on the list to
close; a valve already closed in normal operation is a boundary that needs nothing; a valve
reported inoperable cannot be closed, so the walk passes through it and goes on to the next
valves out (the extended isolation). Everything the walk reaches is shut off.

Closing the segment can cut other parts off from every source (a main fed only through the
segment). Those parts lose supply as well: after removing the segment and the closed valves,
every component of the remaining graph without a source is cut off.

With all valves operable, the segment of a pipe is its valve segment in the sense of WNTR's
``valve_segments`` (Walski's segments), which the tests check on EPANET's Net3 and KY10.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from shapely.geometry import Point

from geoplatform.errors import InvalidParameter, NotFound
from layers.pipeline.network import Network

# A point given as the burst location must lie this close to a pipe (metres).
MAX_BURST_DISTANCE_M = 50.0


class UnknownPipe(NotFound):
    """The pipe code is not in the network."""


class NoPipeNearby(InvalidParameter):
    """The burst point is too far from every pipe to say which one burst."""


@dataclass(frozen=True)
class Burst:
    pipe_code: str
    distance_m: float  # along the pipe from its start
    xy: tuple[float, float]  # projected


@dataclass
class Isolation:
    network: str
    burst: Burst
    valves_to_close: list[str]
    # Valves the walk met that cannot be closed (inoperable in the data or reported so).
    inoperable_valves: list[str]
    # The valves a crew would close if every valve worked: differs from valves_to_close when
    # the isolation had to be extended.
    primary_valves: list[str]
    segment_edges: list[int]
    cut_off_edges: list[int]
    # Pipes whose middle lies in the segment: the pipes the segment is made of, in the sense of
    # WNTR's link segments (a metre of pipe between a junction and its valve is not counted).
    segment_pipes: list[str]
    segment_nodes: list[str]
    affected_connections: list[str]  # service connection codes, segment and cut off

    @property
    def extended(self) -> bool:
        return bool(self.inoperable_valves)


def locate_burst(
    network: Network,
    *,
    pipe_code: str | None = None,
    point: tuple[float, float] | None = None,
) -> Burst:
    """The burst position: the middle of the pipe, or the point on the pipe nearest ``point``
    (projected coordinates) within MAX_BURST_DISTANCE_M."""
    if pipe_code is not None:
        pipe = network.pipes.get(pipe_code)
        if pipe is None:
            raise UnknownPipe(f"no pipe {pipe_code!r} in network {network.code!r}")
        if point is None:
            middle = pipe.geometry.interpolate(0.5, normalized=True)
            return Burst(pipe_code, pipe.length / 2, (middle.x, middle.y))
        nearest = pipe
    elif point is not None:
        nearest = network.nearest_pipe(point, MAX_BURST_DISTANCE_M)
    else:
        raise InvalidParameter("give the burst as a pipe code or a point")
    location = Point(point)
    if nearest is None or nearest.geometry.distance(location) > MAX_BURST_DISTANCE_M:
        raise NoPipeNearby(
            f"no pipe of network {network.code!r} within {MAX_BURST_DISTANCE_M:g} m of the point"
        )
    distance = nearest.geometry.project(location)
    on_pipe = nearest.geometry.interpolate(distance)
    return Burst(nearest.code, float(distance), (on_pipe.x, on_pipe.y))


def isolate_burst(
    network: Network,
    *,
    pipe_code: str | None = None,
    point: tuple[float, float] | None = None,
    inoperable: Iterable[str] = (),
) -> Isolation:
    """Isolate a burst on ``pipe_code`` (at its middle) or nearest ``point`` (projected)."""
    reported = set(inoperable)
    unknown = sorted(
        code
        for code in reported
        if code not in network.points or network.points[code].kind != "valve"
    )
    if unknown:
        raise InvalidParameter(f"not valves of network {network.code!r}: {', '.join(unknown)}")
    burst = locate_burst(network, pipe_code=pipe_code, point=point)
    start = network.locate(burst.pipe_code, burst.distance_m)
    primary = _walk(network, start, stuck=set())
    stuck = {
        code
        for code in primary.boundary
        if code in reported or network.points[code].operable is False
    }
    walk = _walk(network, start, stuck) if stuck else primary
    cut_off = _cut_off_edges(network, walk)
    affected = sorted(
        code
        for node in walk.nodes | cut_off.nodes
        for code in network.points_at.get(node, ())
        if network.points[code].kind == "service_connection"
    )
    return Isolation(
        network=network.code,
        burst=burst,
        valves_to_close=sorted(walk.boundary),
        inoperable_valves=sorted(walk.passed),
        primary_valves=sorted(primary.boundary),
        segment_edges=sorted(walk.edges),
        cut_off_edges=sorted(cut_off.edges),
        segment_pipes=sorted(
            {
                network.edge_pipe[edge]
                for edge in walk.edges
                if edge == network.middle_piece(network.edge_pipe[edge])
            }
        ),
        segment_nodes=sorted(
            code
            for node in walk.nodes
            for code in network.points_at.get(node, ())
            if network.points[code].kind not in ("valve", "service_connection")
        ),
        affected_connections=affected,
    )


@dataclass
class _Walk:
    edges: set[int]
    nodes: set[int]
    boundary: set[str]  # valves to close
    passed: set[str]  # inoperable valves walked through
    closed: set[int]  # valve nodes that stop the flow (to close, or closed already)


def _walk(network: Network, start_edge: int, stuck: set[str]) -> _Walk:
    edges = {start_edge}
    nodes: set[int] = set()
    boundary: set[str] = set()
    passed: set[str] = set()
    closed: set[int] = set()
    queue = [int(network.edge_u[start_edge]), int(network.edge_v[start_edge])]
    seen = set(queue)
    while queue:
        node = queue.pop()
        valve = network.valve_at.get(node)
        if valve is not None:
            point = network.points[valve]
            if point.normal_state == "closed":
                closed.add(node)
                continue
            if valve not in stuck:
                boundary.add(valve)
                closed.add(node)
                continue
            passed.add(valve)
        nodes.add(node)
        for neighbour, edge in network.adjacency[node]:
            edges.add(edge)
            if neighbour not in seen:
                seen.add(neighbour)
                queue.append(neighbour)
    # A valve the walk reached from both sides (round a loop) lies inside the segment: it
    # bounds nothing, so nobody needs to close it.
    for node in [n for n in closed if network.valve_at[n] in boundary]:
        if all(edge in edges for _, edge in network.adjacency[node]):
            boundary.discard(network.valve_at[node])
            closed.discard(node)
    return _Walk(edges, nodes, boundary, passed, closed)


@dataclass
class _CutOff:
    edges: set[int]
    nodes: set[int]


def _cut_off_edges(network: Network, walk: _Walk) -> _CutOff:
    """Pieces outside the segment that a source fed before the closure and none feeds after.

    Parts no source reaches even in normal operation are not the burst's doing: the topology
    check reports them.
    """
    blocked_nodes = walk.closed | network.closed_valve_nodes | walk.nodes
    blocked = np.zeros(network.node_count, dtype=bool)
    blocked[list(blocked_nodes)] = True
    keep = ~(blocked[network.edge_u] | blocked[network.edge_v])
    fed = network.fed_nodes(keep, blocked)
    lost = network.normally_fed & ~fed
    # Nodes with at least one kept piece, fed before and not now, not in the segment.
    touched = np.zeros(network.node_count, dtype=bool)
    touched[network.edge_u[keep]] = True
    touched[network.edge_v[keep]] = True
    cut_nodes = np.flatnonzero(touched & lost & ~blocked)
    cut = keep & lost[network.edge_u]
    # The stub between a closed valve and a node that lost its supply is cut off too.
    in_segment = np.zeros(len(keep), dtype=bool)
    in_segment[list(walk.edges)] = True
    stub = ~keep & ~in_segment
    cut |= stub & ~blocked[network.edge_u] & lost[network.edge_u]
    cut |= stub & ~blocked[network.edge_v] & lost[network.edge_v]
    return _CutOff(set(np.flatnonzero(cut).tolist()), set(cut_nodes.tolist()))
