"""Checking a GeoJSON Feature sent for writing against its layer's declaration (no database).

What is checked here is what can be said without PostGIS: the body is UTF-8 JSON, it is a Feature,
its geometry is well-formed GeoJSON of the layer's type, and its properties are declared ones of
the declared types. Every refusal is an ``InvalidParameter`` naming the field and the problem.
Validity of the geometry (self-intersections and the like) is PostGIS's to judge; see
``geoplatform.features.edit``.

Decisions:

- A Multi* layer accepts the single type too (a Polygon for a MultiPolygon layer); it is stored
  promoted with ``ST_Multi``. A single-type layer does not accept a Multi* geometry.
- Positions have exactly two coordinates: layers store 2D geometry, and dropping a height
  silently would change what the caller sent.
- ``id`` in a created feature's body is ignored (the database assigns it); in a replacement or a
  patch it may be left out, but if sent it must equal the id in the path.
- Properties left out of a replacement become null; ``"properties": null`` is the same as ``{}``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from geoplatform.errors import InvalidParameter
from geoplatform.registry import Layer, Property

# Nesting depth of positions in ``coordinates`` for each GeoJSON geometry type.
_DEPTH = {
    "Point": 0,
    "MultiPoint": 1,
    "LineString": 1,
    "MultiLineString": 2,
    "Polygon": 2,
    "MultiPolygon": 3,
}
_BIGINT = 2**63
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# RFC 3339 date-time: a full date, a time and a mandatory offset.
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


@dataclass(frozen=True)
class FeatureDraft:
    """A checked feature: its geometry as GeoJSON and its properties as values to bind.

    ``geometry`` is None only in a patch that leaves the geometry as it is; ``promote`` says the
    geometry is the single form of the layer's Multi* type. ``properties`` hold the declared
    properties the body sent (all of them for a replacement), as Python values of the declared
    types; json properties of a patch hold the patch, still to be merged with the stored value.
    """

    geometry: dict | None
    promote: bool
    properties: dict[str, Any]


def parse_json(body: bytes) -> Any:
    """The JSON value of a request body; 400 for an empty, non-UTF-8 or malformed one."""
    if not body.strip():
        raise InvalidParameter("request body is empty; send a GeoJSON Feature")
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidParameter(
            f"request body is not UTF-8: byte 0x{body[exc.start]:02x} at offset {exc.start}"
        ) from None
    try:
        return json.loads(decoded, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise InvalidParameter(f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidParameter("request body is not valid JSON: nested too deeply") from None


def _no_constant(name: str) -> None:
    # Python's json reads NaN and Infinity, which JSON (RFC 8259) does not have.
    raise InvalidParameter(f"request body is not valid JSON: {name} is not a JSON value")


def feature_for_create(layer: Layer, document: Any) -> FeatureDraft:
    """A new feature: geometry required, properties sent checked (the rest take their defaults)."""
    _check_feature_object(document)
    geometry, promote = _required_geometry(layer, document)
    return FeatureDraft(geometry, promote, _checked_properties(layer, document.get("properties")))


def feature_for_replace(layer: Layer, document: Any, fid: str) -> FeatureDraft:
    """A replacement: as a new feature, and every declared property not sent becomes null."""
    _check_feature_object(document)
    _check_id(document, fid)
    geometry, promote = _required_geometry(layer, document)
    properties = dict.fromkeys(layer.property_names())
    properties.update(_checked_properties(layer, document.get("properties")))
    return FeatureDraft(geometry, promote, properties)


def feature_for_patch(layer: Layer, document: Any, fid: str) -> FeatureDraft:
    """A JSON merge patch (RFC 7396) of a feature.

    A geometry in the patch replaces the stored one as a whole (coordinates are not merged
    member by member); ``"geometry": null`` is refused as every feature has a geometry. A null
    property becomes null; json properties are merged into their stored value later, by
    ``merge_patch``.
    """
    if not isinstance(document, dict):
        raise InvalidParameter(f"a merge patch must be a JSON object, got {_shown(document)}")
    if "type" in document and document["type"] != "Feature":
        raise InvalidParameter(f"type must be 'Feature', got {_shown(document['type'])}")
    _check_id(document, fid)
    geometry, promote = None, False
    if "geometry" in document:
        geometry, promote = _required_geometry(layer, document)
    if "properties" not in document:
        properties: dict[str, Any] = {}
    elif document["properties"] is None:
        # Removing the member "properties" removes every property (RFC 7396 section 2).
        properties = dict.fromkeys(layer.property_names())
    else:
        properties = _checked_properties(layer, document["properties"], raw_json=True)
    return FeatureDraft(geometry, promote, properties)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 section 2, MergePatch(Target, Patch)."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = merge_patch(result.get(name), value)
    return result


def _check_feature_object(document: Any) -> None:
    if not isinstance(document, dict):
        raise InvalidParameter(f"body must be a GeoJSON Feature object, got {_shown(document)}")
    kind = document.get("type")
    if kind != "Feature":
        raise InvalidParameter(
            f"body must be a GeoJSON Feature (type 'Feature'), got {_shown(kind)}"
        )


def _check_id(document: dict, fid: str) -> None:
    if "id" in document and document["id"] is not None and str(document["id"]) != fid:
        raise InvalidParameter(
            f"id {_shown(document['id'])} in the body does not match {fid!r} in the path"
        )


def _required_geometry(layer: Layer, document: dict) -> tuple[dict, bool]:
    geometry = document.get("geometry")
    if geometry is None:
        raise InvalidParameter(f"geometry is required: every feature of {layer.id} has one")
    check_geometry_structure(geometry)
    return geometry, _promotes(layer, geometry["type"])


def _promotes(layer: Layer, given: str) -> bool:
    """Whether ``given`` is stored promoted to the layer's Multi* type; 400 when it is not taken."""
    expected = layer.geometry_type
    if expected == "Geometry" or given == expected:
        return False
    if expected.startswith("Multi") and given == expected.removeprefix("Multi"):
        return True
    accepted = expected
    if expected.startswith("Multi"):
        accepted = f"{expected} or {expected.removeprefix('Multi')}"
    raise InvalidParameter(f"geometry: expected {accepted}, got {given}")


def check_geometry_structure(geometry: Any) -> None:
    """Well-formed GeoJSON (RFC 7946 section 3.1), so that PostGIS can read it."""
    if not isinstance(geometry, dict):
        raise InvalidParameter(
            f"geometry must be a GeoJSON geometry object, got {_shown(geometry)}"
        )
    kind = geometry.get("type")
    if kind == "GeometryCollection":
        members = geometry.get("geometries")
        if not isinstance(members, list) or not members:
            raise InvalidParameter("geometry: a GeometryCollection needs a non-empty 'geometries'")
        for member in members:
            check_geometry_structure(member)
        return
    if kind not in _DEPTH:
        raise InvalidParameter(f"geometry: unknown type {_shown(kind)}")
    if "coordinates" not in geometry:
        raise InvalidParameter(f"geometry: a {kind} needs 'coordinates'")
    _check_coordinates(kind, geometry["coordinates"])


def _check_coordinates(kind: str, coordinates: Any) -> None:
    if kind == "Point":
        _check_position(coordinates)
    elif kind == "LineString":
        _check_line(coordinates)
    elif kind == "Polygon":
        _check_polygon(coordinates)
    else:
        single = kind.removeprefix("Multi")
        if not isinstance(coordinates, list) or not coordinates:
            raise InvalidParameter(f"geometry: a {kind} needs a non-empty array of {single}s")
        for part in coordinates:
            _check_coordinates(single, part)


def _check_position(position: Any) -> None:
    if not (
        isinstance(position, list)
        and len(position) == 2
        and all(_is_number(x) and math.isfinite(x) for x in position)
    ):
        raise InvalidParameter(
            f"geometry: a position must be [x, y], two numbers, got {_shown(position)}"
        )


def _check_line(line: Any) -> None:
    if not isinstance(line, list) or len(line) < 2:
        raise InvalidParameter("geometry: a LineString needs at least 2 positions")
    for position in line:
        _check_position(position)


def _check_polygon(rings: Any) -> None:
    if not isinstance(rings, list) or not rings:
        raise InvalidParameter("geometry: a Polygon needs at least one ring")
    for ring in rings:
        if not isinstance(ring, list) or len(ring) < 4:
            raise InvalidParameter("geometry: a polygon ring needs at least 4 positions")
        for position in ring:
            _check_position(position)
        if ring[0] != ring[-1]:
            raise InvalidParameter(
                "geometry: a polygon ring must be closed (its last position equal to its first)"
            )


def _checked_properties(layer: Layer, properties: Any, raw_json: bool = False) -> dict[str, Any]:
    if properties is None:
        return {}
    if not isinstance(properties, dict):
        raise InvalidParameter(f"properties must be an object, got {_shown(properties)}")
    declared = {p.name: p for p in layer.properties}
    unknown = [name for name in properties if name not in declared]
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        noun = "property" if len(unknown) == 1 else "properties"
        raise InvalidParameter(
            f"unknown {noun} {names}: {layer.id} has {', '.join(declared) or 'no properties'}"
        )
    return {
        name: value if raw_json and declared[name].type == "json" else _value(declared[name], value)
        for name, value in properties.items()
    }


def _value(prop: Property, value: Any) -> Any:
    """The value to store for ``prop``; 400 naming the property when it is not of its type."""
    if value is None:
        return None
    checked = _CONVERT[prop.type](value)
    if checked is _WRONG:
        raise InvalidParameter(
            f"property {prop.name!r}: expected {_EXPECTED[prop.type]}, got {_shown(value)}"
        )
    return checked


_WRONG = object()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _string(value: Any) -> Any:
    return value if isinstance(value, str) else _WRONG


def _integer(value: Any) -> Any:
    is_integer = isinstance(value, int) and not isinstance(value, bool)
    return value if is_integer and -_BIGINT <= value < _BIGINT else _WRONG


def _number(value: Any) -> Any:
    return value if _is_number(value) and math.isfinite(value) else _WRONG


def _boolean(value: Any) -> Any:
    return value if isinstance(value, bool) else _WRONG


def _date(value: Any) -> Any:
    if not (isinstance(value, str) and _DATE.match(value)):
        return _WRONG
    try:
        return date.fromisoformat(value)
    except ValueError:
        return _WRONG


def _datetime(value: Any) -> Any:
    if not (isinstance(value, str) and _DATETIME.match(value)):
        return _WRONG
    try:
        return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return _WRONG


def _json(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False)


_CONVERT = {
    "string": _string,
    "integer": _integer,
    "number": _number,
    "boolean": _boolean,
    "date": _date,
    "datetime": _datetime,
    "json": _json,
}
_EXPECTED = {
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "date": "date (YYYY-MM-DD)",
    "datetime": "datetime (RFC 3339 with a time zone)",
    "json": "JSON",
}


def _shown(value: Any) -> str:
    """A value as a message quotes it: strings in quotes, JSON literals as JSON."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return json.dumps(value) if len(json.dumps(value)) <= 60 else "an array"
    return json.dumps(value)
