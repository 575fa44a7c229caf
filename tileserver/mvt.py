"""Mapbox Vector Tiles from PostGIS: one SQL statement per tile, built once per layer set and zoom.

The statement reads each layer's stored Web Mercator column through its GiST index (``&&`` on
the tile envelope grown by the buffer), generalises by the declaration (simplification and
minimum sizes in tile pixels, per-value min zooms, a smaller property set at low zoom), and
concatenates one ``ST_AsMVT`` per layer: an MVT is a sequence of layers, so the bytes of
per-layer tiles joined together are the composite tile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache

from geoplatform.registry import Layer

EXTENT = 4096
BUFFER = 64
# Width of the Web Mercator world in metres, and so of tile (0, 0, 0).
WORLD_SIZE = 2 * 20037508.342789244
MAX_ZOOM = 24
_POLYGONAL = {"Polygon", "MultiPolygon"}
_LINEAR = {"LineString", "MultiLineString"}
_NAMED = re.compile(r"%\((\w+)\)s")


class TileRangeError(ValueError):
    """z/x/y outside the tile matrix."""


def pixel_size(z: int) -> float:
    """Metres (Web Mercator) per pixel of a 256-pixel tile at zoom z."""
    return WORLD_SIZE / (256 * 2**z)


def check_tile(z: int, x: int, y: int) -> None:
    if not 0 <= z <= MAX_ZOOM:
        raise TileRangeError(f"zoom {z} is outside 0..{MAX_ZOOM}")
    last = 2**z - 1
    if not (0 <= x <= last and 0 <= y <= last):
        raise TileRangeError(f"tile {z}/{x}/{y} is outside the matrix: x and y must be 0..{last}")


def _quote(name: str) -> str:
    # Identifiers come only from validated declarations (lower-case [a-z0-9_]); quoting keeps
    # reserved words such as "class" working.
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class TileQuery:
    """The statement for a set of layers at one zoom, and the parameters it binds."""

    sql: str
    params: dict[str, object]
    layer_ids: tuple[str, ...]

    def bind(self, z: int, x: int, y: int) -> dict[str, object]:
        return {**self.params, "z": z, "x": x, "y": y}

    @cached_property
    def native(self) -> tuple[str, tuple[str, ...]]:
        """The statement with PostgreSQL's own ``$n`` placeholders, and the names they stand for.

        psycopg caches its conversion of ``%(name)s`` only for statements under 4 KB; a
        composite tile's is longer, and converting it cost 0.4 ms a tile.
        """
        names: list[str] = []

        def number(match: re.Match) -> str:
            if match.group(1) not in names:
                names.append(match.group(1))
            return f"${names.index(match.group(1)) + 1}"

        return _NAMED.sub(number, self.sql), tuple(names)

    def bind_native(self, z: int, x: int, y: int) -> list[object]:
        values = self.bind(z, x, y)
        return [values[name] for name in self.native[1]]


def layers_at(layers: tuple[Layer, ...], z: int) -> tuple[Layer, ...]:
    return tuple(layer for layer in layers if layer.minzoom <= z)


@lru_cache(maxsize=4096)
def tile_query(layers: tuple[Layer, ...], z: int) -> TileQuery | None:
    """The one statement for these layers at zoom z; None when no layer shows at this zoom."""
    shown = layers_at(layers, z)
    if not shown:
        return None
    params: dict[str, object] = {}
    parts = []
    for index, layer in enumerate(shown):
        sql, layer_params = _layer_sql(layer, z, f"l{index}_")
        parts.append(f"COALESCE(({sql}), ''::bytea)")
        params.update(layer_params)
    return TileQuery("SELECT " + "\n    || ".join(parts), params, tuple(x.id for x in shown))


def _layer_sql(layer: Layer, z: int, prefix: str) -> tuple[str, dict[str, object]]:
    geom = _quote(layer.mercator_column)
    size = pixel_size(z)
    params: dict[str, object] = {f"{prefix}name": layer.id}
    columns = ", ".join(_quote(p.name) for p in layer.properties_at(z))
    select_columns = f"{_quote(layer.id_column)} AS id" + (f", {columns}" if columns else "")

    source = geom
    if layer.geometry_type not in ("Point", "MultiPoint") and layer.simplify_px > 0:
        source = f"ST_Simplify({geom}, %({prefix}tolerance)s, true)"
        params[f"{prefix}tolerance"] = layer.simplify_px * size

    conditions = [f"{geom} && ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => {BUFFER / EXTENT})"]
    size_condition = _size_condition(layer, geom, prefix, size, params)
    if size_condition:
        conditions.append(size_condition)
    class_condition = _class_condition(layer, z, prefix, params)
    if class_condition:
        conditions.append(class_condition)

    sql = f"""SELECT ST_AsMVT(tile, %({prefix}name)s, {EXTENT}, 'geom', 'id')
      FROM (SELECT {select_columns},
                   ST_AsMVTGeom({source}, ST_TileEnvelope(%(z)s, %(x)s, %(y)s),
                                {EXTENT}, {BUFFER}, true) AS geom
              FROM {_quote(layer.schema_name)}.{_quote(layer.table_name)}
             WHERE {" AND ".join(conditions)}) AS tile
     WHERE tile.geom IS NOT NULL"""
    return sql, params


def _size_condition(layer: Layer, geom: str, prefix: str, size: float, params: dict) -> str:
    """Drop features smaller than the declared minimum pixel area (polygons) or length (lines)."""
    area = layer.min_area_px * size * size
    length = layer.min_length_px * size
    polygons = layer.geometry_type in _POLYGONAL or layer.geometry_type == "Geometry"
    lines = layer.geometry_type in _LINEAR or layer.geometry_type == "Geometry"
    checks = []
    if polygons and area > 0:
        params[f"{prefix}min_area"] = area
        checks.append(f"WHEN 2 THEN ST_Area({geom}) >= %({prefix}min_area)s")
    if lines and length > 0:
        params[f"{prefix}min_length"] = length
        checks.append(f"WHEN 1 THEN ST_Length({geom}) >= %({prefix}min_length)s")
    if not checks:
        return ""
    return f"CASE ST_Dimension({geom}) {' '.join(checks)} ELSE true END"


def _class_condition(layer: Layer, z: int, prefix: str, params: dict) -> str:
    rule = layer.class_minzoom
    if rule is None:
        return ""
    visible = rule.visible_values(z)
    listed = [value for value, _ in rule.minzooms]
    column = _quote(rule.column)
    if rule.shows_unlisted(z):
        if len(visible) == len(listed):
            return ""
        params[f"{prefix}hidden"] = [value for value in listed if value not in visible]
        return f"({column} IS NULL OR {column} <> ALL(%({prefix}hidden)s))"
    params[f"{prefix}visible"] = visible
    return f"{column} = ANY(%({prefix}visible)s)"
