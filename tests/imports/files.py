"""Files as people send them, written with geopandas/pyogrio into a test's tmp_path."""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path

import geopandas as gpd
import pandas as pd
from shapely.geometry import LineString, Point, Polygon

SUZHOU = (120.62, 31.30)


def hydrants(count: int = 5, crs: str | None = "EPSG:4490") -> gpd.GeoDataFrame:
    """Hydrants around Suzhou with the properties a survey brings (short names: shapefiles
    keep ten characters)."""
    west, south = SUZHOU
    return gpd.GeoDataFrame(
        {
            "name": [f"H-{i}" for i in range(count)],
            "outlets": [1 + i % 6 for i in range(count)],
            "installed": [date(2019, 1 + i % 12, 1 + i % 28) for i in range(count)],
        },
        geometry=[Point(west + i * 0.001, south + i * 0.0007) for i in range(count)],
        crs=crs,
    )


def zones(crs: str = "EPSG:4490") -> gpd.GeoDataFrame:
    west, south = SUZHOU
    squares = [square(west + i * 0.02, south) for i in range(3)]
    return gpd.GeoDataFrame(
        {"name": ["north", "centre", "south"], "level": [1, 2, 3]}, geometry=squares, crs=crs
    )


def square(west: float, south: float, size: float = 0.01) -> Polygon:
    return Polygon(
        [(west, south), (west + size, south), (west + size, south + size), (west, south + size)]
    )


def bow_tie(west: float, south: float, size: float = 0.01) -> Polygon:
    """Self-intersecting: repairable into two triangles."""
    return Polygon(
        [(west, south), (west + size, south + size), (west + size, south), (west, south + size)]
    )


def a_line() -> LineString:
    west, south = SUZHOU
    return LineString([(west, south), (west + 0.01, south + 0.01)])


def write(frame: gpd.GeoDataFrame, path: Path) -> Path:
    """The frame in the format the suffix names; ``.zip``: a zipped shapefile."""
    if path.suffix == ".zip":
        folder = path.with_suffix("")
        folder.mkdir()
        frame.to_file(folder / f"{path.stem}.shp", driver="ESRI Shapefile")
        with zipfile.ZipFile(path, "w") as archive:
            for part in sorted(folder.iterdir()):
                archive.write(part, part.name)
        return path
    if path.suffix == ".csv":
        return write_csv(frame, path)
    driver = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".fgb": "FlatGeobuf", ".shp": None}
    frame.to_file(path, driver=driver[path.suffix] or "ESRI Shapefile")
    return path


def write_csv(frame: gpd.GeoDataFrame, path: Path, geometry: str = "wkt") -> Path:
    """A CSV with the geometry as WKT (``geometry="wkt"``) or as lon/lat columns."""
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    if geometry == "wkt":
        table["WKT"] = frame.geometry.to_wkt()
    else:
        table["lon"] = frame.geometry.x
        table["lat"] = frame.geometry.y
    table.to_csv(path, index=False)
    return path
