"""Every row of a file checked against the layer it goes into, without writing anything.

Decisions:

- The CRS must be known: the file's own, or the one the caller names. Named and declared both,
  they must be the same CRS (axis order aside); a file that says one thing and a caller who
  says another is a mistake to show, not to settle by guessing.
- Geometries are reprojected into the layer's storage CRS (geopandas/pyproj, longitude first)
  and stored 2D (heights are dropped and counted in a note).
- A Multi* layer takes the single type too, promoted; any other type is refused, with the
  count of each type in the file when it mixes them.
- An invalid geometry is repaired with ``shapely.make_valid``; the repair is refused when it
  empties the geometry or turns it into a type the layer does not take (a bow-tie into a
  Polygon layer becomes two polygons). Repairs are counted.
- File columns match declared properties by name, in any case (shapefiles write names in
  upper case); other columns are listed as ignored, the layer's id among them: the database
  numbers new features.
- Values are converted to the declared type: from the file's own type, or from text (CSV)
  in the forms the feature API takes (numbers, true/false, YYYY-MM-DD, RFC 3339 with a zone).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError, ProjError
from shapely.geometry.base import BaseGeometry

from geoplatform.imports.read import Source
from geoplatform.imports.report import ImportReport
from geoplatform.imports.rules import TableRules
from geoplatform.registry import Layer, Property

_MULTI = {
    "Point": shapely.MultiPoint,
    "LineString": shapely.MultiLineString,
    "Polygon": shapely.MultiPolygon,
}
_INTEGER = re.compile(r"^[+-]?\d+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


@dataclass(frozen=True)
class CheckedRows:
    """The rows that passed, ready to stage: property values in ``columns`` order, then the
    1-based row number, then the geometry as WKB in the layer's CRS."""

    columns: tuple[str, ...]
    rows: list[tuple]


class WrongValue(ValueError):
    """A value that does not convert to its property's type; the message says what was sent."""


def source_crs(source: Source, named: str | None) -> CRS | str:
    """The CRS the file's coordinates are in, or a problem (a sentence) when it is not known."""
    given = None
    if named:
        try:
            given = CRS.from_user_input(named)
        except CRSError:
            return f"--crs {named!r} is not a CRS pyproj knows (give it as EPSG:4326, say)"
    if source.crs is None and given is None:
        return (
            "the file declares no CRS; name the CRS of its coordinates with --crs (the field "
            "crs over HTTP), EPSG:4490 or EPSG:4326 for longitude and latitude, say"
        )
    if source.crs is not None and given is not None and not _same_crs(source.crs, given):
        return (
            f"--crs {named} contradicts the file's own CRS, {_crs_name(source.crs)}; "
            "leave --crs out to use the file's, or fix the file"
        )
    return given or source.crs


def check_rows(
    source: Source,
    crs: CRS,
    layer: Layer,
    rules: TableRules,
    report: ImportReport,
    progress: Callable[[int], None] = lambda done: None,
) -> CheckedRows:
    """The rows that pass; every refusal and whole-file problem goes into ``report``."""
    report.read = len(source.frame)
    try:
        geometries = _in_storage_crs(source.frame, crs, layer)
    except ProjError as exc:
        report.problems.append(
            f"the coordinates cannot be transformed from {_crs_name(crs)} to "
            f"EPSG:{layer.srid}: {exc}"
        )
        return CheckedRows((), [])
    matched = _matched_columns(source, layer, report)
    for name in sorted(rules.required - set(matched.values())):
        report.problems.append(
            f"the file has no column {name!r}: {layer.id} needs a value in every row"
        )
    columns = tuple(matched.values())
    declared = {p.name: p for p in layer.properties}
    properties = [declared[column] for column in columns]
    cells = [source.frame[file_column].tolist() for file_column in matched]
    rows = []
    heights = 0
    for position, geometry in enumerate(geometries):
        wkb, has_z = _checked_geometry(source, position, geometry, layer, report)
        heights += has_z
        values = [column[position] for column in cells]
        checked = _checked_values(position + 1, properties, values, rules, report)
        if wkb is not None and checked is not None:
            rows.append((*checked, position + 1, wkb))
        if (position + 1) % 1000 == 0:
            progress(position + 1)
    progress(len(geometries))
    _note_mixed_types(report, layer)
    if heights:
        report.notes.append(f"{heights:,} geometries had heights (Z); stored without them")
    return CheckedRows(columns, rows)


def _checked_values(
    row: int, properties: list[Property], values: list, rules: TableRules, report: ImportReport
) -> list | None:
    """The row's values converted to their types, or None when one does not convert."""
    converted = []
    for prop, value in zip(properties, values, strict=True):
        try:
            converted.append(_checked_value(prop, value, rules))
        except WrongValue as wrong:
            report.refuse(row, prop.name, str(wrong))
    return converted if len(converted) == len(properties) else None


# --- CRS -----------------------------------------------------------------------------------


def _same_crs(a: CRS, b: CRS) -> bool:
    if a.equals(b, ignore_axis_order=True):
        return True
    # A shapefile's .prj names the CRS in ESRI WKT, which seldom compares equal to the EPSG one.
    epsg = a.to_epsg(min_confidence=70)
    return epsg is not None and epsg == b.to_epsg(min_confidence=70)


def _crs_name(crs: CRS) -> str:
    epsg = crs.to_epsg(min_confidence=70)
    return f"EPSG:{epsg} ({crs.name})" if epsg else crs.name


def _in_storage_crs(frame, crs: CRS, layer: Layer) -> np.ndarray:
    series = frame.geometry.set_crs(crs, allow_override=True)
    if not _same_crs(crs, CRS.from_epsg(layer.srid)):
        series = series.to_crs(epsg=layer.srid)
    return np.asarray(series.values, dtype=object)


# --- geometry ------------------------------------------------------------------------------


def _checked_geometry(
    source: Source,
    position: int,
    geometry: BaseGeometry | None,
    layer: Layer,
    report: ImportReport,
) -> tuple[bytes | None, bool]:
    """The geometry as WKB ready to store (None when refused) and whether it had heights."""
    row = position + 1
    if position in source.geometry_errors:
        report.refuse(row, *source.geometry_errors[position])
        return None, False
    column = source.geometry_columns[0] if source.geometry_columns else "geometry"
    if geometry is not None:
        report.geometry_types[geometry.geom_type] += 1
    problem = _geometry_problem(geometry, layer)
    if problem is not None:
        report.refuse(row, column, problem)
        return None, False
    has_z = bool(shapely.has_z(geometry))
    if has_z:
        geometry = shapely.force_2d(geometry)
    if not geometry.is_valid:
        fixed = shapely.make_valid(geometry)
        if fixed.is_empty or not _accepts(layer, fixed.geom_type):
            became = "nothing" if fixed.is_empty else f"a {fixed.geom_type}"
            reason = shapely.is_valid_reason(geometry)
            report.refuse(row, column, f"invalid geometry ({reason}); repair makes it {became}")
            return None, has_z
        report.repaired += 1
        geometry = fixed
    return shapely.to_wkb(_promoted(geometry, layer)), has_z


def _geometry_problem(geometry: BaseGeometry | None, layer: Layer) -> str | None:
    """Why the geometry cannot go into the layer whatever a repair does, or None."""
    if geometry is None:
        return "no geometry"
    kind = geometry.geom_type
    if geometry.is_empty:
        return f"empty geometry ({kind} EMPTY)"
    if not _accepts(layer, kind):
        return f"{kind}: {layer.id} takes {_accepted(layer)}"
    if not _in_range(geometry, layer.srid):
        return (
            f"coordinates out of range in EPSG:{layer.srid} after reprojection: "
            "is the file's CRS the right one?"
        )
    return None


def _accepts(layer: Layer, kind: str) -> bool:
    expected = layer.geometry_type
    return expected in ("Geometry", kind) or expected == f"Multi{kind}"


def _accepted(layer: Layer) -> str:
    expected = layer.geometry_type
    if expected.startswith("Multi"):
        return f"{expected} or {expected.removeprefix('Multi')}"
    return expected


def _promoted(geometry: BaseGeometry, layer: Layer) -> BaseGeometry:
    if layer.geometry_type == f"Multi{geometry.geom_type}":
        return _MULTI[geometry.geom_type]([geometry])
    return geometry


def _in_range(geometry: BaseGeometry, srid: int) -> bool:
    bounds = geometry.bounds
    if not all(math.isfinite(v) for v in bounds):
        return False
    west, south, east, north = bounds
    return not _is_geographic(srid) or (-180 <= west <= east <= 180 and -90 <= south <= north <= 90)


@cache
def _is_geographic(srid: int) -> bool:
    return CRS.from_epsg(srid).is_geographic


def _note_mixed_types(report: ImportReport, layer: Layer) -> None:
    kinds = report.geometry_types
    if len(kinds) > 1 and not all(_accepts(layer, kind) for kind in kinds):
        counts = ", ".join(f"{kind} {n:,}" for kind, n in kinds.most_common())
        report.problems.append(
            f"the file mixes geometry types ({counts}); {layer.id} takes {_accepted(layer)}"
        )


# --- properties ----------------------------------------------------------------------------


def _matched_columns(source: Source, layer: Layer, report: ImportReport) -> dict[str, str]:
    """File column -> declared property, for the columns that match one."""
    declared = {name.lower(): name for name in layer.property_names()}
    matched: dict[str, str] = {}
    for column in source.frame.columns:
        if column == source.frame.geometry.name:
            continue
        name = declared.get(str(column).lower())
        if name is None or name in matched.values():
            report.ignored_columns.append(str(column))
        else:
            matched[column] = name
    if report.ignored_columns:
        report.notes.append(
            f"columns not declared by {layer.id}, ignored: {', '.join(report.ignored_columns)}"
        )
    return matched


def _checked_value(prop: Property, value: Any, rules: TableRules) -> Any:
    """The value to store; WrongValue saying why it cannot be."""
    if _is_null(value):
        if prop.name in rules.required:
            raise WrongValue(f"empty, but {prop.name} is required")
        if prop.name in rules.not_null:
            raise WrongValue(
                f"empty, but {prop.name} may not be; leave the column out to take its default"
            )
        return None
    converted = _CONVERT[prop.type](value)
    bounds = rules.integer_range(prop.name) if prop.type == "integer" else None
    if bounds and not bounds[0] <= converted <= bounds[1]:
        sql_type = rules.sql_types[prop.name]
        raise WrongValue(f"{converted} does not fit the column ({sql_type})")
    return converted


def _is_null(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _wrong(expected: str, value: Any) -> WrongValue:
    shown = repr(value) if isinstance(value, str) else f"{value} ({type(value).__name__})"
    return WrongValue(f"expected {expected}, got {shown}")


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        return str(value)
    raise _wrong("text", value)


def _integer(value: Any) -> int:
    if isinstance(value, bool | np.bool_):
        raise _wrong("an integer", value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return int(value)
    if isinstance(value, str) and _INTEGER.match(value.strip()):
        return int(value.strip())
    raise _wrong("an integer", value)


def _number(value: Any) -> float:
    if isinstance(value, bool | np.bool_):
        raise _wrong("a number", value)
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise _wrong("a number", value) from None
    else:
        raise _wrong("a number", value)
    if not math.isfinite(number):
        raise _wrong("a finite number", value)
    return number


def _boolean(value: Any) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer) and int(value) in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise _wrong("true or false", value)


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        if value.time() != datetime.min.time():
            raise _wrong("a date without a time", value)
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DATE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _wrong("a date (YYYY-MM-DD)", value)


def _datetime(value: Any) -> datetime:
    if isinstance(value, str) and _DATETIME.match(value.strip()):
        value = datetime.fromisoformat(value.strip().upper().replace("Z", "+00:00"))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise WrongValue(f"{value.isoformat()} has no time zone; which one is meant?")
        return value.to_pydatetime() if isinstance(value, pd.Timestamp) else value
    raise _wrong("a date and time with a zone (RFC 3339)", value)


def _json(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        try:
            json.loads(value)
        except json.JSONDecodeError as exc:
            raise WrongValue(f"not JSON: {exc}") from None
        return value
    raise _wrong("JSON", value)


_CONVERT: dict[str, Callable[[Any], Any]] = {
    "string": _string,
    "integer": _integer,
    "number": _number,
    "boolean": _boolean,
    "date": _date,
    "datetime": _datetime,
    "json": _json,
}
