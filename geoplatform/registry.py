"""The layer registry: every layer declared once, checked against the live schema at start-up.

A layer is a PostGIS table plus a frozen declaration of what it is. Every endpoint (tiles,
features, styles, search) reads these declarations; nothing else names a table or column.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import Engine, text

log = logging.getLogger(__name__)

PropertyType = Literal["string", "integer", "number", "boolean", "date", "datetime", "json"]

# Each property type as JSON Schema (queryables, tileset propertiesSchema, OpenAPI): dates and
# times are strings with a format, since JSON Schema has no such types; json is any JSON value.
JSON_SCHEMA_TYPES: dict[str, dict] = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
    "json": {},
}
GeometryType = Literal[
    "Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon", "Geometry"
]
PUBLIC = "public"
INTERNAL = "internal"
# What reverse geocoding asks a layer for: the areas containing the point (all levels), the
# nearest address, the nearest road, the cell of a unit grid containing the point.
REVERSE_ROLES = ("admin", "address", "road", "cell")
_AREA_TYPES = ("Polygon", "MultiPolygon", "Geometry")

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_TOKEN = re.compile(r"^[a-z0-9_]+$")
_LAYER_ID = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")

# PostgreSQL data types (information_schema.columns.data_type) each declared type may live in.
_COMPATIBLE_SQL_TYPES: dict[str, set[str]] = {
    "string": {"text", "character varying", "character"},
    "integer": {"smallint", "integer", "bigint"},
    "number": {"real", "double precision", "numeric", "smallint", "integer", "bigint"},
    "boolean": {"boolean"},
    "date": {"date"},
    "datetime": {"timestamp with time zone", "timestamp without time zone"},
    "json": {"jsonb", "json"},
}


class RegistryError(Exception):
    """A declaration is malformed, duplicated, or does not match the live schema."""


@dataclass(frozen=True)
class Property:
    """One attribute column that may leave the database."""

    name: str
    type: PropertyType
    title: str = ""


@dataclass(frozen=True)
class ZoomProperties:
    """A smaller property set served at zooms minzoom..maxzoom (labels-only at low zoom, say)."""

    minzoom: int
    maxzoom: int
    properties: tuple[str, ...]


@dataclass(frozen=True)
class ClassMinZoom:
    """Per-value min zoom of one column: motorways from z5, footways from z14 …"""

    column: str
    minzooms: tuple[tuple[str, int], ...]
    default: int

    def visible_values(self, z: int) -> list[str]:
        return [value for value, minzoom in self.minzooms if minzoom <= z]

    def shows_unlisted(self, z: int) -> bool:
        return self.default <= z


@dataclass(frozen=True)
class Layer:
    """The declaration of one layer. Titles are Chinese first, English second."""

    id: str
    title_zh: str
    title_en: str
    table: str
    geometry_type: GeometryType
    properties: tuple[Property, ...]
    description_zh: str = ""
    description_en: str = ""
    id_column: str = "id"
    geometry_column: str = "geom"
    mercator_column: str = "geom_3857"
    srid: int = 4490
    access: str | frozenset[str] = INTERNAL
    editable_by: frozenset[str] = frozenset()
    minzoom: int = 0
    maxzoom: int = 22
    # The gazetteer: ``searchable`` columns most telling first (a match in a later column counts
    # a little less); ``search_rank`` orders layers on equally good matches (1 first: place
    # names, then admin areas, POIs, roads, addresses, buildings); ``search_type`` is the
    # property giving a result's type, ``search_label`` the one naming it (the first searchable
    # column when unset); features of a ``search_minor`` type rank two steps lower (car parks,
    # signposts: they borrow the name of what they serve); ``reverse_role`` one of
    # REVERSE_ROLES, or None.
    searchable: tuple[str, ...] = ()
    search_rank: int = 6
    search_type: str | None = None
    search_label: str | None = None
    search_minor: tuple[str, ...] = ()
    reverse_role: str | None = None
    attribution: str = ""
    # The date or datetime property the feature API's ``datetime`` parameter filters on.
    temporal: str | None = None
    # Generalisation in tiles, in pixels of a 256-pixel tile at the requested zoom.
    simplify_px: float = 0.5
    min_area_px: float = 0.0
    min_length_px: float = 0.0
    zoom_properties: tuple[ZoomProperties, ...] = ()
    class_minzoom: ClassMinZoom | None = None
    style: tuple[dict, ...] = field(default=(), compare=False, hash=False)

    def __hash__(self) -> int:
        # Layers key the per-request caches (tile statements, fingerprints); hashing every field
        # of the declaration cost a tenth of a millisecond a tile. Equality still compares all.
        return hash(self.id)

    def __post_init__(self) -> None:
        problems = list(self._problems())
        if problems:
            raise RegistryError(f"layer {self.id}: " + "; ".join(problems))

    def _problems(self) -> Iterator[str]:
        if not _LAYER_ID.match(self.id):
            yield "id must be 'module.name' in lower case"
        schema, _, table = self.table.partition(".")
        if not (_IDENTIFIER.match(schema) and _IDENTIFIER.match(table)):
            yield f"table {self.table!r} must be 'schema.table' in lower case"
        names = [self.id_column, self.geometry_column, self.mercator_column]
        names += [p.name for p in self.properties]
        for name in names:
            if not _IDENTIFIER.match(name):
                yield f"column {name!r} is not a plain lower-case identifier"
        property_names = [p.name for p in self.properties]
        if len(set(property_names)) != len(property_names):
            yield "properties list a column twice"
        for column in self.searchable:
            if column not in property_names:
                yield f"searchable column {column!r} is not a declared property"
        yield from self._search_problems(property_names)
        if not 0 <= self.minzoom <= self.maxzoom <= 24:
            yield "zoom range must satisfy 0 <= minzoom <= maxzoom <= 24"
        for band in self.zoom_properties:
            unknown = set(band.properties) - set(property_names)
            if unknown:
                yield f"zoom_properties name undeclared properties {sorted(unknown)}"
        if self.temporal is not None:
            types = {p.name: p.type for p in self.properties}
            if types.get(self.temporal) not in ("date", "datetime"):
                yield f"temporal {self.temporal!r} is not a declared date or datetime property"
        if self.class_minzoom and self.class_minzoom.column not in property_names:
            yield f"class_minzoom column {self.class_minzoom.column!r} is not a declared property"
        if min(self.simplify_px, self.min_area_px, self.min_length_px) < 0:
            yield "generalisation settings must not be negative"
        if isinstance(self.access, str) and self.access not in (PUBLIC, INTERNAL):
            yield f"access must be 'public', 'internal' or a set of departments: {self.access!r}"

    def _search_problems(self, property_names: list[str]) -> Iterator[str]:
        if not 1 <= self.search_rank <= 9:
            yield "search_rank must be 1..9"
        for name in ("search_type", "search_label"):
            column = getattr(self, name)
            if column is not None and column not in property_names:
                yield f"{name} {column!r} is not a declared property"
        if self.search_minor and self.search_type is None:
            yield "search_minor needs search_type"
        # Written into statements as literals, like identifiers: only plain lower-case words.
        for value in self.search_minor:
            if not _TOKEN.match(value):
                yield f"search_minor value {value!r} is not a plain lower-case word"
        if self.reverse_role is None:
            return
        if self.reverse_role not in REVERSE_ROLES:
            yield f"reverse_role must be one of {', '.join(REVERSE_ROLES)}: {self.reverse_role!r}"
        elif self.reverse_role in ("admin", "cell") and self.geometry_type not in _AREA_TYPES:
            yield f"reverse_role {self.reverse_role!r} needs polygons, not {self.geometry_type}"
        if self.reverse_role != "cell" and self.label_column is None:
            yield f"reverse_role {self.reverse_role!r} needs search_label or a searchable column"

    @property
    def label_column(self) -> str | None:
        """The property that names a feature in search and reverse geocoding results."""
        return self.search_label or (self.searchable[0] if self.searchable else None)

    @property
    def schema_name(self) -> str:
        return self.table.partition(".")[0]

    @property
    def table_name(self) -> str:
        return self.table.partition(".")[2]

    @property
    def module(self) -> str:
        return self.id.partition(".")[0]

    @property
    def is_public(self) -> bool:
        return self.access == PUBLIC

    def property_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.properties)

    def properties_at(self, z: int) -> tuple[Property, ...]:
        """The properties served in tiles at zoom z (all of them unless a band says fewer)."""
        for band in self.zoom_properties:
            if band.minzoom <= z <= band.maxzoom:
                return tuple(p for p in self.properties if p.name in band.properties)
        return self.properties


class Registry:
    """The one explicit registry of layers; refuses duplicate ids."""

    def __init__(self, layers: Iterable[Layer] = ()) -> None:
        self._layers: dict[str, Layer] = {}
        for layer in layers:
            self.register(layer)

    def register(self, layer: Layer) -> None:
        if layer.id in self._layers:
            raise RegistryError(f"layer {layer.id} is declared twice")
        self._layers[layer.id] = layer

    def get(self, layer_id: str) -> Layer:
        try:
            return self._layers[layer_id]
        except KeyError:
            raise KeyError(layer_id) from None

    def __contains__(self, layer_id: object) -> bool:
        return layer_id in self._layers

    def __iter__(self) -> Iterator[Layer]:
        return iter(self._layers.values())

    def __len__(self) -> int:
        return len(self._layers)

    def ids(self) -> list[str]:
        return list(self._layers)

    def over_table(self, layer: Layer) -> tuple[Layer, ...]:
        """Every layer over the layer's table, itself included: they show the same rows, so a
        change of one is a change of all. In id order, so edits through different layers lock
        the layers' states in the same order and never deadlock."""
        return tuple(sorted((x for x in self if x.table == layer.table), key=lambda x: x.id))

    def validate(self, engine: Engine) -> list[str]:
        """Check every declaration against the live schema; return the list of problems found."""
        with engine.connect() as conn:
            rows = conn.execute(_COLUMNS_SQL, {"schemas": sorted({x.schema_name for x in self})})
            columns: dict[tuple[str, str], dict[str, str]] = {}
            for schema, table, column, data_type, udt in rows:
                columns.setdefault((schema, table), {})[column] = (
                    udt if data_type == "USER-DEFINED" else data_type
                )
            geometry = {
                (schema, table, column): (gtype, srid)
                for schema, table, column, gtype, srid in conn.execute(_GEOMETRY_SQL)
            }
        problems: list[str] = []
        for layer in self:
            problems.extend(_layer_problems(layer, columns, geometry))
        return problems

    def validate_or_raise(self, engine: Engine, on_invalid: str = "abort") -> None:
        problems = self.validate(engine)
        if not problems:
            return
        message = "layer registry does not match the database:\n  " + "\n  ".join(problems)
        if on_invalid == "abort":
            raise RegistryError(message)
        log.warning(message)


_COLUMNS_SQL = text(
    """
    SELECT table_schema, table_name, column_name, data_type, udt_name
      FROM information_schema.columns
     WHERE table_schema = ANY(:schemas)
    """
)

_GEOMETRY_SQL = text(
    "SELECT f_table_schema, f_table_name, f_geometry_column, type, srid FROM geometry_columns"
)


def _layer_problems(
    layer: Layer,
    columns: dict[tuple[str, str], dict[str, str]],
    geometry: dict[tuple[str, str, str], tuple[str, int]],
) -> Iterator[str]:
    table_columns = columns.get((layer.schema_name, layer.table_name))
    if table_columns is None:
        yield f"layer {layer.id}: table {layer.table} does not exist (run `geoplatform db upgrade`)"
        return
    for name in (layer.id_column, layer.geometry_column, layer.mercator_column):
        if name not in table_columns:
            yield f"layer {layer.id}: column {name} does not exist in {layer.table}"
    for prop in layer.properties:
        sql_type = table_columns.get(prop.name)
        if sql_type is None:
            yield f"layer {layer.id}: column {prop.name} does not exist in {layer.table}"
        elif sql_type not in _COMPATIBLE_SQL_TYPES[prop.type]:
            yield (
                f"layer {layer.id}: column {prop.name} is {sql_type} in the database "
                f"but declared {prop.type}"
            )
    geom = geometry.get((layer.schema_name, layer.table_name, layer.geometry_column))
    if layer.geometry_column in table_columns and geom is not None:
        gtype, srid = geom
        if srid != layer.srid:
            yield f"layer {layer.id}: {layer.geometry_column} has SRID {srid}, not {layer.srid}"
        if gtype.upper() != layer.geometry_type.upper():
            yield (
                f"layer {layer.id}: {layer.geometry_column} is {gtype}, "
                f"declared {layer.geometry_type}"
            )
