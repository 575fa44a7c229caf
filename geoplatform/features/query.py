"""The SQL of the feature endpoints, built with SQLAlchemy Core from layer declarations.

A page of features is one statement: PostgreSQL selects the page through the geometry's GiST
index, writes every feature as GeoJSON text (``json_build_object``, ``ST_AsGeoJSON``) and joins
them into the ``features`` array, and counts the matches only when the page itself cannot tell
(a short page at offset 0 is the whole answer). Python never sees a feature as an object: it
wraps the array it gets back in the FeatureCollection's few other members. Page and count come
from one statement, so one snapshot.

Statements run on an autocommit ``ReadPool`` (see ``geoplatform.reads``): one round trip, no
BEGIN/ROLLBACK, each statement prepared once per connection. Identifiers come only from the
registry; every value is a bound parameter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    MetaData,
    Select,
    Table,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import JSON, JSONB, aggregate_order_by
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlalchemy.types import NullType

from geoplatform import city
from geoplatform.crs import CGCS2000, WEB_MERCATOR
from geoplatform.features.cql import GEOMETRY, SQL_TYPES, FilterTranslator, Queryable
from geoplatform.features.crs import Crs
from geoplatform.features.etag import row_etag
from geoplatform.features.params import ItemsQuery, TimeInterval, queryable_properties
from geoplatform.reads import Reads
from geoplatform.registry import Layer

ALIAS = "t"
# json_build_object takes at most 100 arguments (PostgreSQL's FUNC_MAX_ARGS): 50 pairs.
_PAIRS_PER_CALL = 50
# PostgreSQL's own $n placeholders, which the read pool's raw cursors send as they are.
_DIALECT = psycopg_dialect(paramstyle="numeric_dollar")


@dataclass(frozen=True)
class Statement:
    sql: str
    params: tuple


@dataclass(frozen=True)
class Page:
    features: str  # the GeoJSON array of the page's features, as PostgreSQL wrote it
    returned: int
    matched: int
    timestamp: datetime


@dataclass(frozen=True)
class StoredFeature:
    geojson: str
    etag: str  # md5 of the stored row, as ``row_etag`` computes it


def compile_statement(statement: Select) -> Statement:
    """The statement's SQL and its parameter values in ``$n`` order.

    Compiling costs about a millisecond, most of a small page's time in Python; the SQL depends
    only on the statement's structure, so it is compiled once per structure (SQLAlchemy's cache
    key, as its engine does) and each request only extracts its values. No parameter expands
    (every IN item is its own bound parameter), so a cached SQL text fits any values.
    """
    key = statement._generate_cache_key()
    if key is None:  # an element SQLAlchemy cannot key: compile this one as it is
        compiled = statement.compile(dialect=_DIALECT)
        params = compiled.construct_params()
    else:
        compiled = _COMPILED.get(key.key)
        if compiled is None:
            if len(_COMPILED) >= _COMPILED_MAX:
                _COMPILED.clear()
            compiled = _COMPILED[key.key] = statement.compile(dialect=_DIALECT, cache_key=key)
        params = compiled.construct_params(extracted_parameters=key.bindparams)
    return Statement(compiled.string, tuple(params[name] for name in compiled.positiontup))


def plain_statement(layer: Layer, query: ItemsQuery) -> Statement | None:
    """The page statement of a query without filter, datetime or property values, from a SQL
    text compiled once per shape; None for other queries.

    Such a query differs from another of its shape only in bbox, limit and offset, all bound
    under fixed names, so the SQL and every other value stay. Building the SQLAlchemy statement
    just to find its cache key cost 1.7 ms of a 5 ms page of 100 roads; this path skips it.
    """
    if query.filter is not None or query.datetime is not None or query.equals:
        return None
    shape = (layer, query.crs, query.bbox_crs, query.bbox is None, query.properties)
    shape += (query.sortby, query.offset == 0)
    template = _PLAIN.get(shape)
    if template is None:
        template = _PLAIN[shape] = _plain_template(layer, query)
        if len(_PLAIN) > _COMPILED_MAX:
            _PLAIN.clear()
    if template is False:
        return None
    sql, names, constants = template
    values = {**constants, **_per_request(query)}
    return Statement(sql, tuple(values[name] for name in names))


def _per_request(query: ItemsQuery) -> dict[str, object]:
    values = {"limit": query.limit, "limit_again": query.limit}
    values |= {"offset": query.offset, "offset_again": query.offset}
    if query.bbox is not None:
        values |= {f"bbox_{i}": value for i, value in enumerate(query.bbox)}
    return values


def _plain_template(layer: Layer, query: ItemsQuery):
    """(sql, parameter names in $n order, the values that do not vary), or False when a
    parameter outside ``_per_request`` turns out to vary with them: then there is no template."""
    compiled = items_statement(layer, query).compile(dialect=_DIALECT)
    other = replace(
        query,
        limit=query.limit + 1,
        offset=query.offset + 1 if query.offset else 0,
        bbox=None if query.bbox is None else tuple(v + 0.5 for v in query.bbox),
    )
    again = items_statement(layer, other).compile(dialect=_DIALECT)
    varying = set(_per_request(query))
    constants = {k: v for k, v in compiled.construct_params().items() if k not in varying}
    others = {k: v for k, v in again.construct_params().items() if k not in varying}
    if compiled.string != again.string or constants != others:
        return False
    return compiled.string, compiled.positiontup, constants


# Per process, bounded: one entry per statement structure (layer, CRS, parameters given, the
# shape of a filter), not per request.
_COMPILED: dict = {}
_COMPILED_MAX = 1024
_PLAIN: dict = {}


@lru_cache(maxsize=256)
def feature_table(layer: Layer):
    """The layer's table as SQLAlchemy sees it, aliased ``t`` (the name ``row_etag`` expects)."""
    columns = [
        Column(layer.id_column, BigInteger),
        Column(layer.geometry_column, NullType),
        Column(layer.mercator_column, NullType),
        *(Column(p.name, SQL_TYPES.get(p.type, NullType())) for p in layer.properties),
    ]
    table = Table(layer.table_name, MetaData(), *columns, schema=layer.schema_name)
    return table.alias(ALIAS)


def queryables(layer: Layer) -> dict[str, Queryable]:
    """What a filter may name: the declared scalar properties and the geometry."""
    t = feature_table(layer)
    geometry = Queryable(t.c[layer.geometry_column], GEOMETRY)
    named = {p.name: Queryable(t.c[p.name], p.type) for p in queryable_properties(layer)}
    return {**named, GEOMETRY: geometry, layer.geometry_column: geometry}


def items_statement(layer: Layer, query: ItemsQuery) -> Select:
    t = feature_table(layer)
    fid = t.c[layer.id_column]
    names = layer.property_names() if query.properties is None else query.properties
    sort_columns = [t.c[key.name] for key in query.sortby]
    page = (
        select(
            fid.label("_fid"),
            output_geometry(layer, query.crs).label("_geometry"),
            *(t.c[name].label(f"_p{i}") for i, name in enumerate(names)),
            *(column.label(f"_s{i}") for i, column in enumerate(sort_columns)),
        )
        .where(*conditions(layer, query))
        .order_by(*_order(query, sort_columns), fid)
        .limit(bindparam("limit", query.limit, type_=BigInteger))
        .offset(bindparam("offset", query.offset, type_=BigInteger))
        .cte("page")
    )
    properties = [(name, page.c[f"_p{i}"]) for i, name in enumerate(names)]
    feature = _feature_json(page.c._fid, page.c._geometry, properties, query.crs.digits)
    in_page_order = [*_order(query, [page.c[f"_s{i}"] for i in range(len(sort_columns))])]
    features = func.string_agg(
        cast(feature, Text), aggregate_order_by(literal_column("','"), *in_page_order, page.c._fid)
    )
    returned = func.count()
    return select(
        _key("[").op("||")(func.coalesce(features, _key(""))).op("||")(_key("]")),
        returned,
        _matched(layer, query, returned),
        func.now(),
    ).select_from(page)


def _matched(layer: Layer, query: ItemsQuery, returned: ColumnElement) -> ColumnElement:
    """numberMatched: from the page when it is the last one, else a count (an InitPlan that
    PostgreSQL runs only when the CASE reaches it)."""
    t = feature_table(layer)
    counted = select(func.count()).select_from(t).where(*conditions(layer, query))
    limit = bindparam("limit_again", query.limit, type_=BigInteger)
    offset = bindparam("offset_again", query.offset, type_=BigInteger)
    last_page = returned < limit if query.offset == 0 else and_(returned > 0, returned < limit)
    return case((last_page, offset + returned), else_=counted.scalar_subquery())


def _order(query: ItemsQuery, columns: list[ColumnElement]) -> list[ColumnElement]:
    pairs = zip(query.sortby, columns, strict=True)
    return [column.desc() if key.descending else column.asc() for key, column in pairs]


def item_statement(layer: Layer, feature_id: int, crs: Crs) -> Select:
    t = feature_table(layer)
    properties = [(p.name, t.c[p.name]) for p in layer.properties]
    feature = _feature_json(
        t.c[layer.id_column], output_geometry(layer, crs), properties, crs.digits
    )
    return select(cast(feature, Text), row_etag(ALIAS)).where(
        t.c[layer.id_column] == bindparam("fid", feature_id, type_=BigInteger)
    )


def output_geometry(layer: Layer, crs: Crs) -> ColumnElement:
    """The geometry in the requested CRS and its authority axis order.

    Web Mercator is read from the stored copy, so the most common reprojection costs nothing.
    """
    t = feature_table(layer)
    if crs.srid == WEB_MERCATOR:
        geometry = t.c[layer.mercator_column]
    elif crs.srid == CGCS2000:
        geometry = t.c[layer.geometry_column]
    else:
        geometry = func.ST_Transform(t.c[layer.geometry_column], crs.srid)
    return func.ST_FlipCoordinates(geometry) if crs.lat_first else geometry


def conditions(layer: Layer, query: ItemsQuery) -> list[ColumnElement[bool]]:
    t = feature_table(layer)
    found: list[ColumnElement[bool]] = []
    if query.bbox is not None:
        found.append(_bbox_condition(layer, query))
    if query.datetime is not None and layer.temporal:
        prop_type = next(p.type for p in layer.properties if p.name == layer.temporal)
        found.extend(_time_conditions(t.c[layer.temporal], prop_type, query.datetime))
    for name, value in query.equals:
        found.append(t.c[name] == bindparam(None, value, type_=t.c[name].type))
    if query.filter is not None:
        translator = FilterTranslator(layer.id, queryables(layer), query.filter_crs)
        found.append(translator.condition(query.filter))
    return found


def _bbox_condition(layer: Layer, query: ItemsQuery) -> ColumnElement[bool]:
    geometry = feature_table(layer).c[layer.geometry_column]
    # Named, so that a compiled page statement can take the next request's box (plain_statement).
    corners = [
        bindparam(f"bbox_{i}", value, type_=SQL_TYPES["number"])
        for i, value in enumerate(query.bbox)
    ]
    envelope = func.ST_MakeEnvelope(*corners, query.bbox_crs.srid)
    if query.bbox_crs.srid != CGCS2000:
        envelope = func.ST_Transform(envelope, CGCS2000)
    intersects = func.ST_Intersects(geometry, envelope)
    if query.bbox_crs.srid not in (CGCS2000, WEB_MERCATOR):
        return intersects
    # The envelope is a longitude/latitude rectangle (Web Mercator keeps meridians and parallels
    # straight), so a feature whose own box lies inside it intersects it: the box test (~) is
    # exact and spares ST_Intersects, which halves the time of a large bbox.
    return and_(geometry.op("&&")(envelope), or_(envelope.op("~")(geometry), intersects))


def _time_conditions(column, prop_type: str, interval: TimeInterval) -> list[ColumnElement]:
    start, end = interval.start, interval.end
    if prop_type == "date":
        start, end = _as_date(start), _as_date(end)
        if interval.is_instant:
            return [column == _bind(start)]
        return [c for c in (_at_least(column, start), _at_most(column, end)) if c is not None]
    if interval.is_instant and isinstance(start, datetime):
        return [column == _bind(start)]
    # On a time column a date bound stands for its whole day, as a person means "2024-05-01".
    found = [] if start is None else [column >= _bind(_day_start(start))]
    if isinstance(end, datetime):
        found.append(column <= _bind(end))
    elif end is not None:
        found.append(column < _bind(_day_start(end) + timedelta(days=1)))
    return found


def _as_date(value: date | None) -> date | None:
    return value.date() if isinstance(value, datetime) else value


def _day_start(value: date) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _at_least(column, start: date | None) -> ColumnElement | None:
    return None if start is None else column >= _bind(start)


def _at_most(column, end: date | None) -> ColumnElement | None:
    return None if end is None else column <= _bind(end)


def _bind(value: date) -> ColumnElement:
    kind = "datetime" if isinstance(value, datetime) else "date"
    return bindparam(None, value, type_=SQL_TYPES[kind])


def _feature_json(
    fid: ColumnElement, geometry: ColumnElement, properties: list, digits: int
) -> ColumnElement:
    # Option 0: no "crs" member in every geometry (PostGIS adds one for SRIDs other than 4326).
    geojson = cast(func.ST_AsGeoJSON(geometry, digits, 0), JSON)
    return func.json_build_object(
        _key("type"),
        _key("Feature"),
        _key("id"),
        fid,
        _key("geometry"),
        geojson,
        _key("properties"),
        _properties_json(properties),
    )


def _properties_json(properties: list[tuple[str, ColumnElement]]) -> ColumnElement:
    chunks = [
        func.json_build_object(*_pairs(properties[i : i + _PAIRS_PER_CALL]))
        for i in range(0, max(len(properties), 1), _PAIRS_PER_CALL)
    ]
    if len(chunks) == 1:
        return chunks[0]
    merged = cast(chunks[0], JSONB)
    for chunk in chunks[1:]:
        merged = merged.op("||")(cast(chunk, JSONB))
    return cast(merged, JSON)


def _pairs(properties: list[tuple[str, ColumnElement]]) -> list[ColumnElement]:
    return [arg for name, column in properties for arg in (_key(name), column)]


def _key(name: str) -> ColumnElement:
    # Keys are property names from validated declarations ([a-z_][a-z0-9_]*) or fixed words.
    return literal_column(f"'{name}'")


class FeatureStore:
    """Reads pages and single features of registered layers."""

    def __init__(self, reads: Reads) -> None:
        self.reads = reads

    def page(self, layer: Layer, query: ItemsQuery) -> Page:
        statement = plain_statement(layer, query)
        if statement is None:
            statement = compile_statement(items_statement(layer, query))
        features, returned, matched, timestamp = self.reads.rows(statement.sql, statement.params)[0]
        return Page(features, returned, matched, timestamp)

    def feature(self, layer: Layer, feature_id: int, crs: Crs) -> StoredFeature | None:
        statement = compile_statement(item_statement(layer, feature_id, crs))
        rows = self.reads.rows(statement.sql, statement.params)
        return StoredFeature(*rows[0]) if rows else None

    def projected_srid(self) -> int | None:
        return self.reads.value(city.PROJECTED_SRID_SQL)

    def close(self) -> None:
        self.reads.close()


def with_member(document: str, name: str, value_json: str) -> str:
    """A JSON object's text with one more member (given as JSON text), without parsing the
    possibly large rest."""
    return f"{document[:-1]},{json.dumps(name)}:{value_json}}}"
