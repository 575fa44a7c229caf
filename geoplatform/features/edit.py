"""Creating, replacing, updating and deleting features (OGC API – Features Part 4), no Flask.

Each change is one transaction holding the change, its audit row and the version bump of every
layer over the edited table (``record_edit``, which invalidates their tiles, keeps their counts
and extents, and notifies every worker): all or nothing. Changes of an existing feature first
lock its row (``SELECT … FOR UPDATE``) and compare the caller's If-Match with the row's ETag
computed there, so two edits sent with the same ETag serialise on the lock and the second finds
the tag changed: one applies, the other is refused (412) and leaves a ``rejected`` audit row.

Geometry arrives in CRS84 unless the request names another CRS (OGC API – Features Part 2
``Content-Crs``): those the read side serves (``geoplatform.features.crs``: CRS84, EPSG:4490,
EPSG:3857 and the city's projected CRS), with coordinates in each CRS's authority axis order
(latitude first for EPSG:4490, northing first for the CGCS2000 Gauss-Krüger zones). PostGIS
transforms the geometry into the layer's CRS, judges it with ``ST_IsValid`` and promotes a single
geometry to the layer's Multi* type with ``ST_Multi``. Features come back as the read side serves
them by default: the stored lon/lat, as CRS84.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from pyproj import CRS
from sqlalchemy import Engine, TextClause, exc, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from geoplatform import audit, city
from geoplatform.audit import Action, Actor
from geoplatform.db import transaction
from geoplatform.errors import InvalidParameter, NotFound, PreconditionFailed
from geoplatform.features.crs import CRS84, Crs, CrsResolver
from geoplatform.features.etag import format_etag, row_etag
from geoplatform.features.validate import FeatureDraft, merge_patch
from geoplatform.layer_state import record_edit
from geoplatform.registry import Layer

_DIALECT = postgresql.dialect()
_quote = _DIALECT.identifier_preparer.quote
# The same expression the read side sends as ETag, so a GET's tag is what If-Match must name.
_ETAG_SQL = str(row_etag("t").compile(dialect=_DIALECT))
# json_build_object takes at most 100 arguments: 50 properties a call.
_PAIRS_PER_CALL = 50


class StaleEdit(PreconditionFailed):
    """If-Match does not name the feature's current version; carries the current ETag."""

    def __init__(self, message: str, current_etag: str, current: dict) -> None:
        super().__init__(message)
        self.current_etag = current_etag
        self.current = current


@dataclass(frozen=True)
class Edited:
    """A feature after a change: its id, its new ETag (quoted) and itself as GeoJSON."""

    fid: str
    etag: str
    feature: dict


# --- the CRS of a request -------------------------------------------------------------------


def content_crs(header: str | None, resolver: CrsResolver) -> Crs:
    """The CRS a ``Content-Crs: <uri>`` header names; CRS84 without one; 400 if unsupported."""
    if header is None or not header.strip():
        return CRS84
    uri = header.strip().removeprefix("<").removesuffix(">").strip()
    return resolver.resolve("Content-Crs", uri)


def city_projected_srid(engine: Engine) -> int | None:
    """The projected CRS of the loaded city (None before any city is loaded)."""
    with engine.connect() as conn:
        return city.projected_srid(conn)


# --- SQL, built from the declaration: identifiers from the registry, values bound -----------


def _table(layer: Layer) -> str:
    return f"{_quote(layer.schema_name)}.{_quote(layer.table_name)}"


def _feature_sql(layer: Layer) -> str:
    """GeoJSON Feature of row ``t``: id, geometry in the layer's CRS, the declared properties."""
    pairs = [f"'{p.name}', t.{_quote(p.name)}" for p in layer.properties]
    calls = [
        f"json_build_object({', '.join(pairs[i : i + _PAIRS_PER_CALL])})"
        for i in range(0, len(pairs), _PAIRS_PER_CALL)
    ]
    if not calls:
        properties = "json_build_object()"
    elif len(calls) == 1:
        properties = calls[0]
    else:
        properties = "(" + " || ".join(f"{c}::jsonb" for c in calls) + ")::json"
    return (
        f"json_build_object('type', 'Feature', 'id', t.{_quote(layer.id_column)}, "
        # Options 0: no "crs" member, which RFC 7946 removed from GeoJSON.
        f"'geometry', ST_AsGeoJSON(t.{_quote(layer.geometry_column)}, 9, 0)::json, "
        f"'properties', {properties})"
    )


def _returning(layer: Layer) -> str:
    return (
        f"RETURNING t.{_quote(layer.id_column)}::text AS fid, {_ETAG_SQL} AS etag, "
        f"{_feature_sql(layer)} AS feature"
    )


@cache
def _lock_sql(layer: Layer) -> TextClause:
    return text(
        f"""SELECT {_ETAG_SQL} AS etag, {_feature_sql(layer)} AS feature
              FROM {_table(layer)} AS t
             WHERE t.{_quote(layer.id_column)} = :fid
               FOR UPDATE"""
    )


@cache
def _exists_sql(layer: Layer) -> TextClause:
    return text(f"SELECT 1 FROM {_table(layer)} AS t WHERE t.{_quote(layer.id_column)} = :fid")


# Bounded: the column sets come from request bodies.
@lru_cache(maxsize=256)
def _insert_sql(layer: Layer, columns: tuple[str, ...]) -> TextClause:
    names = ", ".join(_quote(c) for c in (layer.geometry_column, *columns))
    values = ", ".join(["ST_GeomFromEWKB(:geometry)", *(f":p_{c}" for c in columns)])
    return text(f"INSERT INTO {_table(layer)} AS t ({names}) VALUES ({values}) {_returning(layer)}")


@lru_cache(maxsize=256)
def _update_sql(layer: Layer, columns: tuple[str, ...], set_geometry: bool) -> TextClause:
    geom = _quote(layer.geometry_column)
    assignments = [f"{_quote(c)} = :p_{c}" for c in columns]
    if set_geometry:
        assignments.insert(0, f"{geom} = ST_GeomFromEWKB(:geometry)")
    if not assignments:
        # A patch that changes nothing still takes its turn (and its audit row and version).
        assignments = [f"{geom} = t.{geom}"]
    return text(
        f"""UPDATE {_table(layer)} AS t
               SET {", ".join(assignments)}
             WHERE t.{_quote(layer.id_column)} = :fid
            {_returning(layer)}"""
    )


@cache
def _delete_sql(layer: Layer) -> TextClause:
    return text(f"DELETE FROM {_table(layer)} AS t WHERE t.{_quote(layer.id_column)} = :fid")


# The request's geometry in the layer's CRS, with what the checks need. ST_GeomFromGeoJSON reads
# the structure (checked beforehand, so it does not fail); the CRS is the request's, not GeoJSON's.
_PREPARE_GEOMETRY = text(
    """
    SELECT ST_AsEWKB(CASE WHEN :promote THEN ST_Multi(g) ELSE g END) AS ewkb,
           ST_IsValid(g) AS valid,
           ST_IsValidReason(g) AS reason,
           ST_IsEmpty(g) AS empty,
           ST_XMin(g) AS xmin, ST_YMin(g) AS ymin, ST_XMax(g) AS xmax, ST_YMax(g) AS ymax
      FROM (SELECT ST_Transform(
                       CASE WHEN :lat_first THEN ST_FlipCoordinates(source) ELSE source END,
                       :target_srid) AS g
              FROM (SELECT ST_SetSRID(ST_GeomFromGeoJSON(:geojson), :source_srid) AS source) AS s
           ) AS transformed
    """
)


# --- the changes ------------------------------------------------------------------------------


def create_feature(
    engine: Engine,
    layer: Layer,
    draft: FeatureDraft,
    crs: Crs,
    actor: Actor,
    readers: tuple[Layer, ...],
) -> Edited:
    """``readers``, here and below: every layer over the edited table (``Registry.over_table``,
    the layer included), whose versions, counts and extents the edit changes."""
    columns = tuple(draft.properties)
    with _writing(layer), transaction(engine) as conn:
        params = _property_params(draft.properties)
        params["geometry"] = _prepare_geometry(conn, layer, draft, crs)
        row = conn.execute(_insert_sql(layer, columns), params).one()
        edited = Edited(row.fid, format_etag(row.etag), row.feature)
        audit.record(conn, actor, layer.id, edited.fid, "create", "ok", None, edited.feature)
        _record(conn, readers, str(edited.fid), existed=False)
    return edited


def replace_feature(
    engine: Engine,
    layer: Layer,
    fid: str,
    draft: FeatureDraft,
    if_match: set[str],
    crs: Crs,
    actor: Actor,
    readers: tuple[Layer, ...],
) -> Edited:
    def write(conn: Connection, current: dict) -> Edited:
        return _update(conn, layer, fid, draft.properties, draft, crs)

    return _change_existing(engine, layer, fid, if_match, actor, "replace", write, readers)


def update_feature(
    engine: Engine,
    layer: Layer,
    fid: str,
    patch: FeatureDraft,
    if_match: set[str],
    crs: Crs,
    actor: Actor,
    readers: tuple[Layer, ...],
) -> Edited:
    json_properties = {p.name for p in layer.properties if p.type == "json"}

    def write(conn: Connection, current: dict) -> Edited:
        stored = current["properties"]
        values = {
            name: _merged_json(stored.get(name), value) if name in json_properties else value
            for name, value in patch.properties.items()
        }
        return _update(conn, layer, fid, values, patch, crs)

    return _change_existing(engine, layer, fid, if_match, actor, "update", write, readers)


def delete_feature(
    engine: Engine,
    layer: Layer,
    fid: str,
    if_match: set[str],
    actor: Actor,
    readers: tuple[Layer, ...],
) -> None:
    def write(conn: Connection, current: dict) -> None:
        conn.execute(_delete_sql(layer), {"fid": fid})

    _change_existing(engine, layer, fid, if_match, actor, "delete", write, readers)


def feature_exists(engine: Engine, layer: Layer, fid: str) -> bool:
    with engine.connect() as conn:
        try:
            return conn.execute(_exists_sql(layer), {"fid": fid}).first() is not None
        except exc.DataError:
            # An id that cannot be one of this table's (letters for an integer id) names nothing.
            return False


def _change_existing(
    engine: Engine,
    layer: Layer,
    fid: str,
    if_match: set[str],
    actor: Actor,
    action: Action,
    write: Callable[[Connection, dict], Edited | None],
    readers: tuple[Layer, ...],
) -> Edited | None:
    try:
        with _writing(layer), transaction(engine) as conn:
            etag, current = _lock(conn, layer, fid)
            if "*" not in if_match and etag not in if_match:
                raise StaleEdit(
                    f"feature {fid} of {layer.id} has changed since the version If-Match names; "
                    f"its current ETag is {etag}",
                    etag,
                    current,
                )
            edited = write(conn, current)
            canonical = str(current["id"])
            after = edited.feature if edited else None
            audit.record(conn, actor, layer.id, canonical, action, "ok", current, after)
            _record(conn, readers, canonical, existed=True)
    except StaleEdit as stale:
        with transaction(engine) as conn:
            fid_text = str(stale.current["id"])
            audit.record(conn, actor, layer.id, fid_text, action, "rejected", stale.current, None)
        raise
    return edited


def _record(conn: Connection, readers: tuple[Layer, ...], fid: str, existed: bool) -> None:
    for reader in readers:
        record_edit(conn, reader, fid, existed)


def _lock(conn: Connection, layer: Layer, fid: str) -> tuple[str, dict]:
    """The feature's ETag (quoted) and GeoJSON, its row locked until the transaction ends."""
    try:
        row = conn.execute(_lock_sql(layer), {"fid": fid}).first()
    except exc.DataError:
        row = None
    if row is None:
        raise NotFound(f"no feature {fid} in collection {layer.id}")
    return format_etag(row.etag), row.feature


def _update(
    conn: Connection,
    layer: Layer,
    fid: str,
    values: dict[str, Any],
    draft: FeatureDraft,
    crs: Crs,
) -> Edited:
    params = _property_params(values)
    params["fid"] = fid
    set_geometry = draft.geometry is not None
    if set_geometry:
        params["geometry"] = _prepare_geometry(conn, layer, draft, crs)
    row = conn.execute(_update_sql(layer, tuple(values), set_geometry), params).one()
    return Edited(row.fid, format_etag(row.etag), row.feature)


def _merged_json(stored: Any, patch: Any) -> str | None:
    merged = merge_patch(stored, patch)
    return None if merged is None else json.dumps(merged, ensure_ascii=False)


def _property_params(values: dict[str, Any]) -> dict[str, Any]:
    return {f"p_{name}": value for name, value in values.items()}


def _prepare_geometry(conn: Connection, layer: Layer, draft: FeatureDraft, crs: Crs) -> bytes:
    """The draft's geometry as EWKB in the layer's CRS; 400 when it is invalid or out of reach."""
    params = {
        "geojson": json.dumps(draft.geometry),
        "source_srid": crs.srid,
        "lat_first": crs.lat_first,
        "target_srid": layer.srid,
        "promote": draft.promote,
    }
    try:
        row = conn.execute(_PREPARE_GEOMETRY, params).one()
    except exc.DBAPIError as error:
        raise InvalidParameter(
            f"geometry cannot be read in {crs.uri}: {_primary_message(error)}"
        ) from None
    if row.empty:
        raise InvalidParameter("geometry is empty")
    if _is_geographic(layer.srid) and not (
        -180 <= row.xmin <= row.xmax <= 180 and -90 <= row.ymin <= row.ymax <= 90
    ):
        raise InvalidParameter(_out_of_range(crs))
    if not row.valid:
        raise InvalidParameter(f"geometry is not valid: {row.reason}")
    return row.ewkb


@cache
def _is_geographic(srid: int) -> bool:
    return CRS.from_epsg(srid).is_geographic


def _out_of_range(crs: Crs) -> str:
    message = "geometry: longitude must lie within [-180, 180] and latitude within [-90, 90]"
    if crs.lat_first and _is_geographic(crs.srid):
        # The usual cause: lon/lat sent in a CRS whose authority puts latitude first.
        message += f"; {crs.uri} lists latitude first"
    return message


@contextmanager
def _writing(layer: Layer) -> Iterator[None]:
    """Turn the database's refusals of a row (NOT NULL, CHECK, range) into a 400 naming why."""
    try:
        yield
    except exc.IntegrityError as error:
        diag = getattr(error.orig, "diag", None)
        column = getattr(diag, "column_name", None)
        if error.orig is not None and error.orig.sqlstate == "23502" and column:
            if column == layer.id_column:
                raise InvalidParameter(f"{layer.id} does not number new features itself") from None
            raise InvalidParameter(f"property {column!r}: may not be null") from None
        raise InvalidParameter(
            f"the feature breaks a rule of {layer.id}: {_primary_message(error)}"
        ) from None
    except exc.DataError as error:
        raise InvalidParameter(
            f"a value does not fit its column in {layer.id}: {_primary_message(error)}"
        ) from None


def _primary_message(error: exc.DBAPIError) -> str:
    diag = getattr(error.orig, "diag", None)
    return getattr(diag, "message_primary", None) or str(error.orig).splitlines()[0]
