"""Reverse geocoding: what lies at a point, from the layers a caller may read, by their
``reverse_role``.

- "admin": every area containing the point, largest first (country, district, municipality …);
- "address", "road": the nearest feature that has a name (its ``label_column``), with the
  distance in metres on the ellipsoid and the point of it nearest to the asked one, if one lies
  within ``NEAREST_WITHIN_M``: farther away an address or a road no longer says where the
  point is (outside the city the answer is then empty, not an address kilometres away);
- "cell": the smallest cell containing the point of the layers that declare the role (a
  thematic module's unit grid; the core knows none by name).

Nearest means nearest in metres: candidates come from the GiST index of the layer's Web
Mercator copy (a conformal projection: ranking by it is ranking by true distance over a city's
extent), and the best few are measured on the ellipsoid.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from geoplatform.crs import CGCS2000, WEB_MERCATOR
from geoplatform.reads import Reads
from geoplatform.registry import Layer
from geoplatform.search.query import (
    DEGREE_DIGITS,
    quote_identifier,
    storage_geometry,
    table_name,
    text_or_null,
)

NEAREST_WITHIN_M = 5000.0
# Index candidates per layer measured on the ellipsoid; a handful covers any difference between
# Mercator and ellipsoidal ranking at city scale.
KNN_CANDIDATES = 8
# Web Mercator ends here; a point nearer a pole asks the index from the edge of the map.
MERCATOR_MAX_LAT = 85.0511

_POINT = f"ST_SetSRID(ST_MakePoint($1, $2), {CGCS2000})"


@dataclass(frozen=True)
class Found:
    """A feature found at or near the point."""

    layer: Layer
    fid: int | str
    name: str | None
    type: str | None
    distance_m: float | None = None
    point: dict | None = None  # GeoJSON Point: where the feature comes nearest


@dataclass(frozen=True)
class Location:
    lon: float
    lat: float
    admin_areas: list[Found]
    address: Found | None
    road: Found | None
    grid: Found | None


def reverse_geocode(pool: Reads, layers: Sequence[Layer], lon: float, lat: float) -> Location:
    """What lies at (lon, lat) in ``layers``, which the caller may read."""

    def role(name: str) -> tuple[Layer, ...]:
        return tuple(layer for layer in layers if layer.reverse_role == name)

    cells = containing(pool, role("cell"), lon, lat)
    return Location(
        lon=lon,
        lat=lat,
        admin_areas=containing(pool, role("admin"), lon, lat),
        address=nearest(pool, role("address"), lon, lat),
        road=nearest(pool, role("road"), lon, lat),
        grid=cells[-1] if cells else None,
    )


def containing(pool: Reads, layers: tuple[Layer, ...], lon: float, lat: float) -> list[Found]:
    """The features of ``layers`` containing the point, largest first."""
    if not layers:
        return []
    rows = pool.rows(containing_sql(layers), [lon, lat])
    return [Found(layers[index], fid, name, type_) for index, fid, name, type_ in rows]


def nearest(pool: Reads, layers: tuple[Layer, ...], lon: float, lat: float) -> Found | None:
    """The nearest named feature of ``layers`` within NEAREST_WITHIN_M, or None."""
    if not layers:
        return None
    rows = pool.rows(nearest_sql(layers), [lon, lat, NEAREST_WITHIN_M])
    if not rows:
        return None
    index, fid, name, type_, distance, point = rows[0]
    return Found(layers[index], fid, name, type_, round(distance, 2), json.loads(point))


def _point_in(layer: Layer) -> str:
    return _POINT if layer.srid == CGCS2000 else f"ST_Transform({_POINT}, {layer.srid})"


@lru_cache(maxsize=64)
def containing_sql(layers: tuple[Layer, ...]) -> str:
    # Planar area in degrees orders nested areas as their true areas do.
    parts = "\n    UNION ALL".join(
        f"""
    SELECT {index} AS layer, to_jsonb(t.{quote_identifier(layer.id_column)}) AS fid,
           {text_or_null(layer, layer.label_column)} AS name,
           {text_or_null(layer, layer.search_type)} AS type,
           ST_Area({storage_geometry(layer)}) AS size
      FROM {table_name(layer)} AS t
     WHERE ST_Intersects(t.{quote_identifier(layer.geometry_column)}, {_point_in(layer)})"""
        for index, layer in enumerate(layers)
    )
    return f"""
SELECT layer, fid, name, type FROM ({parts}
) AS found
 ORDER BY size DESC, layer, fid"""


@lru_cache(maxsize=64)
def nearest_sql(layers: tuple[Layer, ...]) -> str:
    probe = (
        f"ST_Transform(ST_SetSRID(ST_MakePoint($1, "
        f"least(greatest($2, -{MERCATOR_MAX_LAT}), {MERCATOR_MAX_LAT})), {CGCS2000}), "
        f"{WEB_MERCATOR})"
    )
    parts = "\n    UNION ALL".join(
        f"""
    (SELECT {index} AS layer, c.fid, c.name, c.type,
            ST_Distance(c.geom::geography, {_POINT}::geography) AS distance_m,
            ST_AsGeoJSON(ST_ClosestPoint(c.geom, {_POINT}), {DEGREE_DIGITS}, 0) AS point
       FROM (SELECT to_jsonb(t.{quote_identifier(layer.id_column)}) AS fid,
                    {text_or_null(layer, layer.label_column)} AS name,
                    {text_or_null(layer, layer.search_type)} AS type,
                    {storage_geometry(layer)} AS geom
               FROM {table_name(layer)} AS t
              WHERE {text_or_null(layer, layer.label_column)} IS NOT NULL
              ORDER BY t.{quote_identifier(layer.mercator_column)} <-> {probe}
              LIMIT {KNN_CANDIDATES}) AS c)"""
        for index, layer in enumerate(layers)
    )
    return f"""
SELECT layer, fid, name, type, distance_m, point FROM ({parts}
) AS found
 WHERE distance_m <= $3
 ORDER BY distance_m, layer, fid
 LIMIT 1"""
