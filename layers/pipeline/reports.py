"""Analysis results as the JSON and GeoJSON the API returns and the map draws.

Graphs work in the city's projected CRS; everything leaving here is in lon/lat (CRS84), the
coordinates of GeoJSON (RFC 7946).
"""

from __future__ import annotations

from collections import defaultdict
from functools import cache

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import mapping

from layers.pipeline.isolation import Isolation
from layers.pipeline.network import Network


# Building a transformer costs milliseconds; each network has one projected CRS.
@cache
def _to_lonlat(srid: int) -> Transformer:
    return Transformer.from_crs(srid, 4326, always_xy=True)


@cache
def from_lonlat(srid: int) -> Transformer:
    """Lon/lat (CRS84) to the projected CRS ``srid`` the graphs work in."""
    return Transformer.from_crs(4326, srid, always_xy=True)


def lonlat(network: Network, geometry):
    transformer = _to_lonlat(network.srid)
    return shapely.transform(
        geometry, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
    )


def point_lonlat(network: Network, xy: tuple[float, float]) -> list[float]:
    lon, lat = _to_lonlat(network.srid).transform(*xy)
    return [round(lon, 8), round(lat, 8)]


def _feature(geometry, **properties) -> dict:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def _pieces_by_pipe(network: Network, edges: list[int]) -> dict[str, float]:
    lengths: dict[str, float] = defaultdict(float)
    for edge in edges:
        lengths[network.edge_pipe[edge]] += float(network.edge_to[edge] - network.edge_from[edge])
    return lengths


def isolation_report(network: Network, isolation: Isolation) -> dict:
    """The isolation as JSON with a GeoJSON FeatureCollection of everything it names."""
    segment = _pieces_by_pipe(network, isolation.segment_edges)
    cut_off = _pieces_by_pipe(network, isolation.cut_off_edges)
    connections = [network.points[c] for c in isolation.affected_connections]
    buildings = {p.building_id for p in connections if p.building_id is not None}
    customers = sum(p.customers or 0 for p in connections)
    features = []
    pieces = (("isolated", isolation.segment_edges), ("cut_off", isolation.cut_off_edges))
    for role, edges in pieces:
        for edge in edges:
            piece = network.piece_geometry(edge)
            if piece.length <= 0:
                continue
            features.append(
                _feature(
                    mapping(lonlat(network, piece)),
                    kind="pipe",
                    role=role,
                    pipe_code=network.edge_pipe[edge],
                    length_m=round(piece.length, 2),
                )
            )
    valve_roles = [(c, "close") for c in isolation.valves_to_close]
    valve_roles += [(c, "inoperable") for c in isolation.inoperable_valves]
    valves = []
    for code, role in valve_roles:
        point = network.points[code]
        valves.append(
            {"code": code, "pipe_code": point.pipe_code, "role": role, "operable": point.operable}
        )
        features.append(
            _feature(
                {"type": "Point", "coordinates": point_lonlat(network, point.xy)},
                kind="valve",
                role=role,
                code=code,
                pipe_code=point.pipe_code,
            )
        )
    affected = []
    for point in connections:
        entry = {
            "code": point.code,
            "building_id": point.building_id,
            "address": point.address,
            "customers": point.customers,
        }
        affected.append(entry)
        features.append(
            _feature(
                {"type": "Point", "coordinates": point_lonlat(network, point.xy)},
                kind="service_connection",
                role="affected",
                **entry,
            )
        )
    features.append(
        _feature(
            {"type": "Point", "coordinates": point_lonlat(network, isolation.burst.xy)},
            kind="burst",
            role="burst",
            pipe_code=isolation.burst.pipe_code,
        )
    )
    return {
        "network": network.code,
        "utility": network.utility,
        "burst": {
            "pipe_code": isolation.burst.pipe_code,
            "distance_m": round(isolation.burst.distance_m, 2),
            "location": point_lonlat(network, isolation.burst.xy),
        },
        "extended": isolation.extended,
        "valves_to_close": isolation.valves_to_close,
        "inoperable_valves": isolation.inoperable_valves,
        "primary_valves": isolation.primary_valves,
        "valves": valves,
        "isolated_pipes": [
            {
                "code": code,
                "length_m": round(length, 2),
                "whole": abs(length - network.pipes[code].length) < network.tolerance,
            }
            for code, length in sorted(segment.items())
        ],
        "cut_off_pipes": [
            {"code": code, "length_m": round(length, 2)} for code, length in sorted(cut_off.items())
        ],
        "segment_nodes": isolation.segment_nodes,
        "affected_connections": affected,
        "summary": {
            "valves_to_close": len(isolation.valves_to_close),
            "isolated_pipes": len(segment),
            "isolated_length_m": round(sum(segment.values()), 1),
            "cut_off_length_m": round(sum(cut_off.values()), 1),
            "service_connections": len(connections),
            "buildings": len(buildings),
            "customers": customers,
        },
        "geojson": {"type": "FeatureCollection", "features": features},
    }
