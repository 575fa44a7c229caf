"""Building floor-area density: the floor area (m²) of ``base.buildings`` on a square grid.

A building's floor area is its footprint area times its levels (``area_m2 * levels``). It is
split over the grid cells in proportion to the share of its footprint that lies in each cell:

    cell value = Σ over buildings b of  area_m2(b) × levels(b) × area(b ∩ cell) / area(b)

with areas measured in the city's projected CRS (``platform.city.projected_srid``). So the
grid's total equals the buildings' total floor area, and a building that straddles cells
contributes to each of them by its footprint inside it. The grid is aligned to multiples of the
resolution in that CRS, so rebuilds and other rasters of the same resolution line up.

``build_density_raster`` imports the grid as the raster layer ``building_density`` through the
same import path as ``geoplatform import-raster``, and skips the work when the buildings' data
version and the settings are those the existing raster was built from.
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from affine import Affine
from rasterio.enums import MergeAlg
from rasterio.features import rasterize
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from geoplatform import city
from geoplatform.registry import PUBLIC
from layers.base.layers import OSM_ATTRIBUTION
from tileserver.raster import Progress, RasterCatalogue, RasterInfo, import_raster

BUILDINGS_LAYER = "base.buildings"
DEFAULT_NAME = "building_density"
DEFAULT_RESOLUTION = 25.0
# Bumped whenever the rule above changes, so an unchanged database still gets a rebuild.
RULE = "footprint-share-v1"

_BUILDINGS = text(
    """
    SELECT id, area_m2 * levels AS floor_area_m2, geom
      FROM base.buildings
     ORDER BY id
    """
)
_BUILDINGS_VERSION = text("SELECT version FROM platform.layer_state WHERE layer_id = :layer_id")


class DensityError(Exception):
    """The base data needed for the density surface is missing."""


@dataclass(frozen=True)
class DensityGrid:
    """Floor area (m²) per cell; row 0 is the northernmost row, as in a GeoTIFF."""

    values: np.ndarray
    transform: Affine
    srid: int

    @property
    def total(self) -> float:
        return float(self.values.sum(dtype=np.float64))


@dataclass(frozen=True)
class DensityBuild:
    raster: RasterInfo
    built: bool  # False when the existing raster was already up to date
    total_floor_area_m2: float
    seconds: float


def floor_area_grid(buildings: gpd.GeoDataFrame, resolution: float) -> DensityGrid:
    """Grid of floor area per cell from footprints in a projected CRS (``floor_area_m2`` column).

    Footprints without area carry no floor area and are left out.
    """
    if buildings.crs is None or not buildings.crs.is_projected:
        raise DensityError("buildings must be in a projected CRS to be split by area")
    footprints = buildings.assign(footprint_m2=buildings.area)
    footprints = footprints[footprints["footprint_m2"] > 0]
    transform, width, height = _aligned_grid(footprints.total_bounds, resolution)
    if footprints.empty:
        return DensityGrid(np.zeros((height, width)), transform, buildings.crs.to_epsg())
    cells = _candidate_cells(footprints, transform, width, height)
    columns = ["floor_area_m2", "footprint_m2", footprints.geometry.name]
    pieces = gpd.overlay(footprints[columns], cells, keep_geom_type=True)
    shares = pieces["floor_area_m2"] * pieces.area / pieces["footprint_m2"]
    # A piece lies in one cell and its representative point strictly inside it, so burning
    # the points adds each share to exactly that cell.
    values = rasterize(
        zip(pieces.representative_point(), shares, strict=True),
        out_shape=(height, width),
        transform=transform,
        merge_alg=MergeAlg.add,
        dtype="float64",
    )
    return DensityGrid(values, transform, buildings.crs.to_epsg())


def _aligned_grid(bounds: np.ndarray, resolution: float) -> tuple[Affine, int, int]:
    """Transform and size of the smallest grid of whole cells on multiples of the resolution."""
    if not np.all(np.isfinite(bounds)):
        return Affine(resolution, 0, 0, 0, -resolution, 0), 1, 1
    minx, miny, maxx, maxy = bounds
    left = math.floor(minx / resolution) * resolution
    top = math.ceil(maxy / resolution) * resolution
    width = max(1, math.ceil((maxx - left) / resolution))
    height = max(1, math.ceil((top - miny) / resolution))
    return Affine(resolution, 0, left, 0, -resolution, top), width, height


def _candidate_cells(
    footprints: gpd.GeoDataFrame, transform: Affine, width: int, height: int
) -> gpd.GeoDataFrame:
    """Boxes of the cells within any footprint's bounding box.

    A superset of the cells a footprint overlaps; GDAL's all_touched rasterisation is not, as
    it misses cells that an edge cuts by a fraction of a metre.
    """
    minx, miny, maxx, maxy = footprints.bounds.to_numpy().T
    first_cols, first_rows = (np.floor(v).astype(int) for v in ~transform * (minx, maxy))
    last_cols, last_rows = (np.floor(v).astype(int) for v in ~transform * (maxx, miny))
    inside = np.zeros((height, width), dtype=bool)
    for r0, r1, c0, c1 in zip(first_rows, last_rows, first_cols, last_cols, strict=True):
        inside[r0 : r1 + 1, c0 : c1 + 1] = True
    rows, cols = np.nonzero(inside)
    west, north = transform * (cols, rows)
    east, south = transform * (cols + 1, rows + 1)
    boxes = shapely.box(west, south, east, north)
    return gpd.GeoDataFrame(geometry=boxes, crs=footprints.crs)


def city_projected_srid(conn: Connection) -> int:
    srid = city.projected_srid(conn)
    if srid is None:
        raise DensityError(
            "no city profile in platform.city; run `geoplatform base load-osm` first"
        )
    return srid


def read_buildings(conn: Connection, srid: int) -> gpd.GeoDataFrame:
    """Building footprints with their floor area (m²), projected to EPSG:srid."""
    buildings = gpd.read_postgis(_BUILDINGS, conn, geom_col="geom")
    return buildings.to_crs(epsg=srid)


def building_density(engine: Engine, resolution: float = DEFAULT_RESOLUTION) -> DensityGrid:
    """The density grid of the buildings in the database, in the city's projected CRS."""
    with engine.connect() as conn:
        srid = city_projected_srid(conn)
        buildings = read_buildings(conn, srid)
    return floor_area_grid(buildings, resolution)


def build_density_raster(
    engine: Engine,
    data_dir: Path,
    *,
    resolution: float = DEFAULT_RESOLUTION,
    name: str = DEFAULT_NAME,
    force: bool = False,
    progress: Progress | None = None,
    quiet: bool = True,
) -> DensityBuild:
    """Build the density grid and import it as raster layer NAME, unless it is up to date."""
    started = time.perf_counter()
    step = progress or (lambda _message: None)
    with engine.connect() as conn:
        srid = city_projected_srid(conn)
        version = conn.execute(_BUILDINGS_VERSION, {"layer_id": BUILDINGS_LAYER}).scalar()
    inputs = {
        "rule": RULE,
        "layer": BUILDINGS_LAYER,
        "layer_version": version,
        "resolution_m": resolution,
        "crs": f"EPSG:{srid}",
    }
    existing = RasterCatalogue(data_dir).find(name)
    if existing is not None and existing.provenance.get("inputs") == inputs and not force:
        total = existing.provenance["total_floor_area_m2"]
        return DensityBuild(existing, False, total, time.perf_counter() - started)
    step(f"rasterising building floor area at {resolution:g} m in EPSG:{srid}")
    grid = building_density(engine, resolution)
    provenance = {"builder": __name__, "inputs": inputs, "total_floor_area_m2": grid.total}
    info = _import_grid(grid, name, data_dir, provenance, step, quiet)
    return DensityBuild(info, True, grid.total, time.perf_counter() - started)


def _import_grid(
    grid: DensityGrid, name: str, data_dir: Path, provenance: dict, step: Progress, quiet: bool
) -> RasterInfo:
    # 0 is nodata so cells without buildings are transparent on the map; reading the band
    # without its mask still gives 0 there, and every total stays the same.
    profile = {
        "driver": "GTiff",
        "width": grid.values.shape[1],
        "height": grid.values.shape[0],
        "count": 1,
        "dtype": "float32",
        "crs": f"EPSG:{grid.srid}",
        "transform": grid.transform,
        "nodata": 0,
    }
    built = grid.values[grid.values > 0]
    # The 98th percentile keeps a few very large buildings from washing out the rest.
    top = float(np.percentile(built, 98)) if built.size else 1.0
    resolution = grid.transform.a
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=data_dir, prefix=".density-") as scratch:
        source = Path(scratch) / f"{name}.tif"
        with rasterio.open(source, "w", **profile) as dst:
            dst.write(grid.values.astype(np.float32), 1)
        return import_raster(
            source,
            name,
            data_dir,
            title=f"建筑面积密度 Building floor area per {resolution:g} m cell (m²)",
            access=PUBLIC,
            attribution=OSM_ATTRIBUTION,
            source_label=f"{BUILDINGS_LAYER}: area_m2 × levels, split by footprint share",
            colormap="ylorrd",
            rescale=((0.0, top),),
            overview_resampling="average",
            provenance=provenance,
            progress=step,
            quiet=quiet,
        )
