"""CQL2 filters (OGC API Features Part 3) parsed by pygeofilter and translated to SQLAlchemy.

pygeofilter turns CQL2 text or JSON into its AST; the translation below walks that AST and
builds a SQLAlchemy condition over the layer's declared properties and its geometry, with every
literal a bound parameter typed as the property it is compared with. A literal of the wrong type
(``levels = 'three'``) is the caller's mistake and answers 400 before any SQL runs, rather than a
PostgreSQL type error.

Supported: comparisons (``= <> < <= > >=``), ``LIKE``, ``IN``, ``BETWEEN``, ``IS NULL``,
``AND``/``OR``/``NOT``, ``CASEI``, property-to-property comparisons, and the spatial functions
``S_INTERSECTS S_DISJOINT S_CONTAINS S_WITHIN S_TOUCHES S_CROSSES S_OVERLAPS S_EQUALS`` with WKT,
GeoJSON, ``BBOX(...)`` and ``ENVELOPE(...)`` literals in ``filter-crs``. Temporal and array
functions, arithmetic and other functions answer 400 naming what is not supported.

Two quirks of pygeofilter 0.4 are worked around here, not patched: its CQL2 JSON reader takes a
``{"bbox": [...]}`` literal's numbers in the wrong order and expects ``between``'s bounds nested
in a list (an older draft), so the JSON is normalised before it is read; its CQL2 text grammar
reads a ``BBOX(...)`` literal as a function call named ``bbox``, which the translation accepts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import shapely
from lark.exceptions import LarkError
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_json import parse as parse_cql2_json
from pygeofilter.parsers.cql2_json.parser import walk_cql_json
from pygeofilter.parsers.cql2_text import parse as parse_cql2_text
from shapely.errors import ShapelyError
from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    Float,
    Text,
    and_,
    bindparam,
    false,
    func,
    not_,
    or_,
    true,
)
from sqlalchemy.types import TypeEngine

from geoplatform.crs import CGCS2000
from geoplatform.errors import InvalidParameter
from geoplatform.features.crs import Crs, check_coordinates

CQL2_TEXT = "cql2-text"
CQL2_JSON = "cql2-json"
FILTER_LANGUAGES = (CQL2_TEXT, CQL2_JSON)
GEOMETRY = "geometry"

_SPATIAL = {
    ast.GeometryIntersects: func.ST_Intersects,
    ast.GeometryDisjoint: func.ST_Disjoint,
    ast.GeometryContains: func.ST_Contains,
    ast.GeometryWithin: func.ST_Within,
    ast.GeometryTouches: func.ST_Touches,
    ast.GeometryCrosses: func.ST_Crosses,
    ast.GeometryOverlaps: func.ST_Overlaps,
    ast.GeometryEquals: func.ST_Equals,
}
_COMPARISONS = {
    ast.Equal: lambda a, b: a == b,
    ast.NotEqual: lambda a, b: a != b,
    ast.LessThan: lambda a, b: a < b,
    ast.LessEqual: lambda a, b: a <= b,
    ast.GreaterThan: lambda a, b: a > b,
    ast.GreaterEqual: lambda a, b: a >= b,
}
SQL_TYPES: dict[str, TypeEngine] = {
    "string": Text(),
    "integer": BigInteger(),
    "number": Float(),
    "boolean": Boolean(),
    "date": Date(),
    "datetime": DateTime(timezone=True),
}
# PostgreSQL's bigint, the SQL type integer values are bound as.
BIGINT = range(-(2**63), 2**63)
# How deeply AND/OR/NOT groups, functions and comparisons may nest (a chain of one operator,
# a AND b AND c ..., is one level however long). Far more than a written filter needs; much deeper
# ones would exhaust Python's recursion while the filter is translated and compiled to SQL.
MAX_NESTING = 32
# Types whose values compare with each other.
_FAMILIES = {
    "integer": "numeric",
    "number": "numeric",
    "date": "temporal",
    "datetime": "temporal",
}


def parse_filter(text: str, language: str) -> ast.Node:
    """The filter's AST, or a 400 with the parser's own message."""
    try:
        if language == CQL2_JSON:
            node = parse_cql2_json(_normalise_json(json.loads(text)))
        else:
            node = parse_cql2_text(text)
    except RecursionError:
        raise InvalidParameter(f"filter: nested too deeply to read as {language}") from None
    except LarkError as exc:
        # Lark appends the whole list of tokens it expected; the first line says where it broke.
        raise InvalidParameter(f"filter: invalid {language}: {str(exc).splitlines()[0]}") from None
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise InvalidParameter(f"filter: invalid {language}: {exc}") from None
    if _nesting(node) > MAX_NESTING:
        raise InvalidParameter(f"filter: nested more than {MAX_NESTING} levels deep")
    return node


def _nesting(root: object) -> int:
    """How many levels deep the filter's nodes go, counted without recursion."""
    deepest, pending = 0, [(root, 1)]
    while pending:
        node, depth = pending.pop()
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in _children(node))
    return deepest


def _children(node: object) -> list:
    if isinstance(node, ast.And | ast.Or):
        return _chain(node)
    if not isinstance(node, ast.Node):
        return []
    members = [m for v in vars(node).values() for m in (v if isinstance(v, list) else [v])]
    return [m for m in members if isinstance(m, ast.Node)]


def _chain(node: ast.And | ast.Or) -> list:
    """The operands of a chain of one operator (a AND b AND c), in order, without recursion: the
    parsers nest such a chain one level per operator, so a long one is deep."""
    operands, pending = [], [node]
    while pending:
        current = pending.pop()
        if type(current) is type(node):
            pending += [current.rhs, current.lhs]
        else:
            operands.append(current)
    return operands


def _normalise_json(node: Any) -> Any:
    if isinstance(node, list):
        return [_normalise_json(item) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"bbox"}:
        return _bbox_polygon(node["bbox"])
    node = {key: _normalise_json(value) for key, value in node.items()}
    args = node.get("args")
    if node.get("op") == "between" and isinstance(args, list) and len(args) == 3:
        node["args"] = [args[0], [args[1], args[2]]]
    return node


def _bbox_polygon(numbers: list) -> dict:
    if len(numbers) not in (4, 6) or not all(_is_number(n) for n in numbers):
        raise ValueError(f"a bbox literal is 4 or 6 numbers, got {numbers!r}")
    half = len(numbers) // 2
    x1, y1, x2, y2 = numbers[0], numbers[1], numbers[half], numbers[half + 1]
    ring = [[x1, y1], [x2, y1], [x2, y2], [x1, y2], [x1, y1]]
    return {"type": "Polygon", "coordinates": [ring]}


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class Queryable:
    """A column a filter may name, with its declared type (or ``geometry``)."""

    column: ColumnElement
    type: str


@dataclass(frozen=True)
class _Operand:
    sql: ColumnElement | None  # None: a literal not bound yet (its type comes from the other side)
    type: str
    value: object = None


class FilterTranslator:
    """Builds the SQL condition of one filter over one layer's queryables."""

    def __init__(self, layer_id: str, queryables: dict[str, Queryable], crs: Crs) -> None:
        self.layer_id = layer_id
        self.queryables = queryables
        self.crs = crs

    def condition(self, node: object) -> ColumnElement[bool]:
        if isinstance(node, ast.And):
            return and_(*(self.condition(operand) for operand in _chain(node)))
        if isinstance(node, ast.Or):
            return or_(*(self.condition(operand) for operand in _chain(node)))
        if isinstance(node, ast.Not):
            return not_(self.condition(node.sub_node))
        if isinstance(node, ast.Include):
            return false() if node.not_ else true()
        if type(node) in _COMPARISONS:
            return self._comparison(node)
        if isinstance(node, ast.Between):
            return self._between(node)
        if isinstance(node, ast.Like):
            return self._like(node)
        if isinstance(node, ast.In):
            return self._in(node)
        if isinstance(node, ast.IsNull):
            operand = self._operand(node.lhs)
            if operand.sql is None:
                raise InvalidParameter("filter: IS NULL needs a property")
            return operand.sql.is_not(None) if node.not_ else operand.sql.is_(None)
        if type(node) in _SPATIAL:
            return self._spatial(node)
        if isinstance(node, ast.BBox):
            geometry = self._geometry(self._operand(node.lhs))
            numbers = [node.minx, node.miny, node.maxx, node.maxy]
            return func.ST_Intersects(geometry, self._envelope(numbers))
        raise InvalidParameter(f"filter: {_describe(node)} is not supported")

    def _comparison(self, node: ast.Comparison) -> ColumnElement[bool]:
        lhs, rhs = self._operand(node.lhs), self._operand(node.rhs)
        if GEOMETRY in (lhs.type, rhs.type):
            raise InvalidParameter("filter: compare geometries with the spatial functions (S_...)")
        left, right = self._bind_pair(lhs, rhs)
        return _COMPARISONS[type(node)](left, right)

    def _between(self, node: ast.Between) -> ColumnElement[bool]:
        operand = self._property(node.lhs, "BETWEEN")
        if _FAMILIES.get(operand.type) not in ("numeric", "temporal"):
            raise InvalidParameter(
                f"filter: BETWEEN needs a number, date or time, not {operand.type}"
            )
        low = self._bind(self._operand(node.low), operand.type)
        high = self._bind(self._operand(node.high), operand.type)
        condition = operand.sql.between(low, high)
        return not_(condition) if node.not_ else condition

    def _like(self, node: ast.Like) -> ColumnElement[bool]:
        operand = self._property(node.lhs, "LIKE")
        if operand.type != "string":
            raise InvalidParameter(f"filter: LIKE needs a string property, not {operand.type}")
        pattern_node = node.pattern
        if isinstance(pattern_node, dict):  # CASEI('...') as the pattern in CQL2 JSON
            pattern_node = walk_cql_json(pattern_node)
        literal = pattern_node
        if isinstance(pattern_node, ast.Function) and pattern_node.arguments:
            literal = pattern_node.arguments[0]
        if isinstance(literal, str) and _ends_with_escape(literal):
            # PostgreSQL refuses such a pattern, but only once a row's text reaches its end.
            raise InvalidParameter(f"filter: LIKE pattern {literal!r} ends with the escape \\")
        pattern = self._bind(self._operand(pattern_node), "string")
        # CQL2's wildcards are SQL's (% and _) and so is its escape character (backslash).
        condition = operand.sql.ilike(pattern) if node.nocase else operand.sql.like(pattern)
        return not_(condition) if node.not_ else condition

    def _in(self, node: ast.In) -> ColumnElement[bool]:
        operand = self._property(node.lhs, "IN")
        items = [self._bind(self._operand(item), operand.type) for item in node.sub_nodes]
        if not items:
            # Nothing is in an empty list, everything is outside it (SQL has no empty IN).
            return true() if node.not_ else false()
        return operand.sql.not_in(items) if node.not_ else operand.sql.in_(items)

    def _spatial(self, node: ast.SpatialComparisonPredicate) -> ColumnElement[bool]:
        lhs = self._geometry(self._operand(node.lhs))
        rhs = self._geometry(self._operand(node.rhs))
        return _SPATIAL[type(node)](lhs, rhs)

    def _operand(self, node: object) -> _Operand:
        if isinstance(node, ast.Attribute):
            return self._attribute(node.name)
        if isinstance(node, ast.Function):
            return self._function(node)
        if isinstance(node, values.Geometry | values.Envelope):
            return _Operand(self._geometry_literal(node.__geo_interface__), GEOMETRY)
        if isinstance(node, bool):
            return _Operand(None, "boolean", node)
        if isinstance(node, int) and node not in BIGINT:
            raise InvalidParameter(f"filter: {node} is out of the 64-bit integer range")
        if _is_number(node):
            return _Operand(None, "integer" if isinstance(node, int) else "number", node)
        if isinstance(node, str):
            if "\x00" in node:  # PostgreSQL text cannot hold it
                raise InvalidParameter("filter: a string may not contain a NUL character")
            return _Operand(None, "string", node)
        if isinstance(node, datetime):
            return _Operand(None, "datetime", node)
        if isinstance(node, date):
            return _Operand(None, "date", node)
        raise InvalidParameter(f"filter: {_describe(node)} is not supported")

    def _attribute(self, name: str) -> _Operand:
        queryable = self.queryables.get(name)
        if queryable is None:
            raise InvalidParameter(f"filter: collection {self.layer_id} has no queryable {name!r}")
        return _Operand(queryable.column, queryable.type)

    def _function(self, node: ast.Function) -> _Operand:
        name = node.name.lower()
        if name == "lower":  # pygeofilter's name for CQL2's CASEI
            if len(node.arguments) != 1:
                raise InvalidParameter(f"filter: CASEI takes one argument, got {node.arguments!r}")
            (argument,) = node.arguments
            operand = self._operand(argument)
            if operand.type != "string":
                raise InvalidParameter(f"filter: CASEI needs a string, not {operand.type}")
            return _Operand(func.lower(self._bind(operand, "string")), "string")
        if name == "bbox":
            numbers = node.arguments
            if len(numbers) not in (4, 6) or not all(_is_number(n) for n in numbers):
                raise InvalidParameter(f"filter: BBOX needs 4 or 6 numbers, got {numbers!r}")
            half = len(numbers) // 2
            corners = [numbers[0], numbers[1], numbers[half], numbers[half + 1]]
            return _Operand(self._envelope(corners), GEOMETRY)
        raise InvalidParameter(f"filter: function {node.name!r} is not supported")

    def _property(self, node: object, operator: str) -> _Operand:
        operand = self._operand(node)
        if operand.sql is None or operand.type == GEOMETRY:
            raise InvalidParameter(f"filter: {operator} needs a property or CASEI(property)")
        return operand

    def _bind_pair(self, lhs: _Operand, rhs: _Operand) -> tuple[ColumnElement, ColumnElement]:
        if lhs.sql is not None:
            return lhs.sql, self._bind(rhs, lhs.type)
        if rhs.sql is not None:
            return self._bind(lhs, rhs.type), rhs.sql
        return self._bind(lhs, rhs.type), self._bind(rhs, lhs.type)

    def _bind(self, operand: _Operand, expected: str) -> ColumnElement:
        if not _compatible(operand.type, expected):
            shown = repr(operand.value) if operand.sql is None else f"a {operand.type} property"
            raise InvalidParameter(f"filter: cannot compare a {expected} with {shown}")
        if operand.sql is not None:
            return operand.sql
        return bindparam(None, operand.value, type_=SQL_TYPES[operand.type])

    def _geometry(self, operand: _Operand) -> ColumnElement:
        if operand.type != GEOMETRY:
            shown = repr(operand.value) if operand.sql is None else f"a {operand.type} property"
            raise InvalidParameter(f"filter: spatial functions need geometries, not {shown}")
        return operand.sql

    def _geometry_literal(self, geojson: dict) -> ColumnElement:
        try:
            geometry = shapely.geometry.shape(geojson)
        except (ShapelyError, ValueError, TypeError, KeyError, IndexError, AttributeError):
            raise InvalidParameter(f"filter: not a GeoJSON geometry: {geojson!r}") from None
        self._check_coordinates(shapely.get_coordinates(geometry).tolist())
        text = bindparam(None, json.dumps(geojson), type_=Text())
        return self._to_storage(func.ST_SetSRID(func.ST_GeomFromGeoJSON(text), self.crs.srid))

    def _envelope(self, corners: list[float]) -> ColumnElement:
        x1, y1, x2, y2 = corners
        self._check_coordinates([(x1, y1), (x2, y1), (x2, y2), (x1, y2)])
        bound = [bindparam(None, float(n), type_=Float()) for n in corners]
        return self._to_storage(func.ST_MakeEnvelope(*bound, self.crs.srid))

    def _check_coordinates(self, points: list) -> None:
        if self.crs.lat_first:
            points = [(y, x) for x, y in points]
        check_coordinates(self.crs, points, "filter")

    def _to_storage(self, geometry: ColumnElement) -> ColumnElement:
        if self.crs.lat_first:
            geometry = func.ST_FlipCoordinates(geometry)
        if self.crs.srid != CGCS2000:
            geometry = func.ST_Transform(geometry, CGCS2000)
        return geometry


def _ends_with_escape(pattern: str) -> bool:
    return (len(pattern) - len(pattern.rstrip("\\"))) % 2 == 1


def _compatible(actual: str, expected: str) -> bool:
    if actual == expected:
        return True
    family = _FAMILIES.get(actual)
    return family is not None and family == _FAMILIES.get(expected)


def _describe(node: object) -> str:
    for family, label in _UNSUPPORTED_FAMILIES:
        if isinstance(node, family):
            return f"{label} ({type(node).__name__})"
    if isinstance(node, ast.Node):
        return type(node).__name__
    return f"the value {node!r}"


_UNSUPPORTED_FAMILIES = (
    (ast.TemporalPredicate, "a temporal function"),
    (ast.ArrayPredicate, "an array function"),
    (ast.Arithmetic, "arithmetic"),
    (ast.SpatialDistancePredicate, "a distance function"),
)
