"""A file into a GeoDataFrame through pyogrio: the format told by the name or the first bytes.

GeoPackage, Shapefile (plain ``.shp`` with its sidecars, or zipped), GeoJSON and FlatGeobuf are
read by GDAL with their geometry and CRS. A CSV is read by GDAL as text, and its geometry built
here from a WKT column or from x/y columns, so that a cell that is not WKT or not a number is
reported with its row and column (GDAL would leave the geometry empty without a word). A CSV
has no CRS of its own: the import needs ``--crs``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely
from pyproj import CRS

from geoplatform.imports.report import UnreadableFile

FORMATS = {
    ".gpkg": "GPKG",
    ".shp": "ESRI Shapefile",
    ".zip": "ESRI Shapefile (zipped)",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".fgb": "FlatGeobuf",
    ".csv": "CSV",
}
# What the first bytes of a file without a telling name say it is.
_MAGIC = (
    (b"SQLite format 3\x00", ".gpkg"),
    (b"PK\x03\x04", ".zip"),
    (b"fgb\x03", ".fgb"),
    (b"{", ".geojson"),
)
# Column names a CSV's geometry is looked for under when none is named (compared in lower case).
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "wkt_geom", "shape")
X_NAMES = ("lon", "lng", "long", "longitude", "x", "easting")
Y_NAMES = ("lat", "latitude", "y", "northing")
_READ_ERRORS = (
    pyogrio.errors.DataSourceError,
    pyogrio.errors.DataLayerError,
    pyogrio.errors.FieldError,
    pyogrio.errors.GeometryError,
    pyogrio.errors.FeatureError,
    pyogrio.errors.CRSError,
)


@dataclass(frozen=True)
class CsvGeometry:
    """Where a CSV keeps its geometry; None everywhere: look for the usual names."""

    wkt_column: str | None = None
    x_column: str | None = None
    y_column: str | None = None


@dataclass
class Source:
    """A file as read: its rows, the CRS it declares (None when it declares none), and the rows
    whose geometry could not be built, by position, with the column at fault and why."""

    frame: gpd.GeoDataFrame
    format: str
    crs: CRS | None
    geometry_errors: dict[int, tuple[str, str]] = field(default_factory=dict)
    geometry_columns: tuple[str, ...] = ()


def suffix_of(name: str, head: bytes) -> str:
    """The file's format as one of FORMATS' suffixes, from its name or else its first bytes."""
    suffix = Path(name).suffix.lower()
    if suffix in FORMATS:
        return suffix
    for magic, guessed in _MAGIC:
        if head.lstrip()[: len(magic)] == magic:
            return guessed
    supported = ", ".join(sorted(set(FORMATS.values())))
    raise UnreadableFile(f"{name}: not a supported format (supported: {supported})")


def read_source(
    path: Path,
    source_layer: str | None = None,
    csv: CsvGeometry = CsvGeometry(),
    name: str | None = None,
) -> Source:
    """The file's rows, or UnreadableFile naming why GDAL could not read it. ``name`` is the
    file's name in messages (an upload's, where ``path`` is a temporary file)."""
    name = name or path.name
    if not path.is_file():
        raise UnreadableFile(f"file not found: {path}")
    with path.open("rb") as handle:
        suffix = suffix_of(name, handle.read(32))
    if suffix != path.suffix.lower():
        raise UnreadableFile(f"{name}: looks like {FORMATS[suffix]}; name it *{suffix}")
    try:
        layer = _source_layer(path, name, source_layer)
        if suffix == ".csv":
            return _read_csv(path, name, layer, csv)
        frame = pyogrio.read_dataframe(path, layer=layer)
    except _READ_ERRORS as exc:
        raise UnreadableFile(f"{name} cannot be read as {FORMATS[suffix]}: {exc}") from None
    if not isinstance(frame, gpd.GeoDataFrame):
        raise UnreadableFile(f"{name}: the layer {layer!r} has no geometry")
    return Source(frame, FORMATS[suffix], frame.crs)


def _source_layer(path: Path, name: str, wanted: str | None) -> str:
    names = [str(layer) for layer, _ in pyogrio.list_layers(path)]
    if not names:
        raise UnreadableFile(f"{name} holds no layer")
    if wanted is not None:
        if wanted not in names:
            raise UnreadableFile(
                f"{name} has no layer {wanted!r}; it has {', '.join(map(repr, names))}"
            )
        return wanted
    if len(names) > 1:
        raise UnreadableFile(
            f"{name} holds {len(names)} layers ({', '.join(map(repr, names))}): "
            "name the one to import (--source-layer)"
        )
    return names[0]


def _read_csv(path: Path, name: str, layer: str, wanted: CsvGeometry) -> Source:
    # All text: the checks convert each cell to its property's type and name the ones that
    # do not convert; GDAL's type guessing would turn a column with one stray letter to text.
    table = pyogrio.read_dataframe(
        path, layer=layer, read_geometry=False, EMPTY_STRING_AS_NULL="YES"
    )
    columns = [str(c) for c in table.columns]
    wkt = _column(columns, wanted.wkt_column, WKT_NAMES, "--wkt-column")
    x = _column(columns, wanted.x_column, X_NAMES, "--x-column")
    y = _column(columns, wanted.y_column, Y_NAMES, "--y-column")
    if wanted.wkt_column is None and (wanted.x_column or wanted.y_column):
        wkt = None
    if wkt is not None:
        geometries, errors = _from_wkt(table[wkt].tolist(), wkt)
        used: tuple[str, ...] = (wkt,)
    elif x is not None and y is not None:
        geometries, errors = _from_xy(table[x].tolist(), table[y].tolist(), x, y)
        used = (x, y)
    else:
        raise UnreadableFile(
            f"{name}: no geometry column found; name a WKT column (--wkt-column) or the "
            f"coordinate columns (--x-column, --y-column); the file has {', '.join(columns)}"
        )
    frame = gpd.GeoDataFrame(table.drop(columns=list(used)), geometry=geometries, crs=None)
    return Source(frame, "CSV", None, errors, used)


def _column(
    columns: Sequence[str], named: str | None, usual: Sequence[str], option: str
) -> str | None:
    if named is not None:
        if named not in columns:
            raise UnreadableFile(
                f"{option} {named!r} is not a column of the file; it has {', '.join(columns)}"
            )
        return named
    by_lower = {c.lower(): c for c in columns}
    return next((by_lower[name] for name in usual if name in by_lower), None)


def _from_wkt(cells: list, column: str) -> tuple[list, dict[int, tuple[str, str]]]:
    geometries: list = []
    errors: dict[int, tuple[str, str]] = {}
    for position, cell in enumerate(cells):
        geometry = None
        if _is_blank(cell):
            errors[position] = (column, "no geometry: the cell is empty")
        else:
            try:
                geometry = shapely.from_wkt(str(cell))
            except shapely.errors.ShapelyError as exc:
                errors[position] = (column, f"not WKT: {_first_line(exc)}")
        geometries.append(geometry)
    return geometries, errors


def _from_xy(xs: list, ys: list, x_column: str, y_column: str):
    geometries: list = []
    errors: dict[int, tuple[str, str]] = {}
    for position, (x, y) in enumerate(zip(xs, ys, strict=True)):
        x_value, y_value = _coordinate(x), _coordinate(y)
        if x_value is None:
            errors[position] = (x_column, f"not a coordinate: {_shown(x)}")
        elif y_value is None:
            errors[position] = (y_column, f"not a coordinate: {_shown(y)}")
        geometries.append(
            None if x_value is None or y_value is None else shapely.Point(x_value, y_value)
        )
    return geometries, errors


def _coordinate(cell) -> float | None:
    if _is_blank(cell):
        return None
    try:
        value = float(str(cell).strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _is_blank(cell) -> bool:
    return cell is None or (not isinstance(cell, str) and pd.isna(cell)) or str(cell).strip() == ""


def _shown(cell) -> str:
    return "an empty cell" if _is_blank(cell) else repr(str(cell))


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
