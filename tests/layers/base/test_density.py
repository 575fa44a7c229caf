"""The floor-area density surface, checked against the buildings independently of its code."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from rio_cogeo.cogeo import cog_validate
from shapely import box
from sqlalchemy import text

from layers.base.density import (
    DensityError,
    build_density_raster,
    building_density,
    floor_area_grid,
)
from layers.base.density_cli import build_density_raster_command
from tileserver.raster import RasterCatalogue

RESOLUTION = 25.0
# Projected by PostGIS, so the check does not share the code path (pyproj) of the grid.
BUILDINGS_IN_UTM = text(
    """
    SELECT id, area_m2 * levels AS floor_area_m2, ST_Transform(geom, 32632) AS geom
      FROM base.buildings
    """
)


@pytest.fixture(scope="module")
def grid(demo_engine):
    return building_density(demo_engine, RESOLUTION)


@pytest.fixture(scope="module")
def buildings(demo_engine) -> gpd.GeoDataFrame:
    with demo_engine.connect() as conn:
        return gpd.read_postgis(BUILDINGS_IN_UTM, conn, geom_col="geom", crs=32632)


def sql_total_floor_area(engine) -> float:
    with engine.connect() as conn:
        return conn.execute(text("SELECT sum(area_m2 * levels) FROM base.buildings")).scalar_one()


def cell_box(grid, row: int, col: int):
    west, north = grid.transform * (col, row)
    east, south = grid.transform * (col + 1, row + 1)
    return box(west, south, east, north)


def expected_cell_value(buildings: gpd.GeoDataFrame, cell) -> float:
    """Each touching building's floor area times the share of its footprint inside the cell."""
    touching = buildings[buildings.intersects(cell)]
    inside = touching.intersection(cell).area
    return float((touching["floor_area_m2"] * inside / touching.area).sum())


def test_a_footprint_is_split_by_the_share_of_its_area_in_each_cell():
    # 30 m x 10 m, two levels: 10 m of its width lies in the first 25 m cell, 20 m in the next.
    footprint = gpd.GeoDataFrame(
        {"floor_area_m2": [600.0]}, geometry=[box(15, 5, 45, 15)], crs=32632
    )
    grid = floor_area_grid(footprint, RESOLUTION)
    np.testing.assert_allclose(grid.values, [[200.0, 400.0]])
    assert (grid.transform.c, grid.transform.f, grid.transform.a) == (0.0, 25.0, 25.0)


def test_unprojected_buildings_are_refused():
    footprint = gpd.GeoDataFrame({"floor_area_m2": [1.0]}, geometry=[box(9, 47, 9.1, 47.1)])
    with pytest.raises(DensityError, match="projected"):
        floor_area_grid(footprint.set_crs(4326), RESOLUTION)


def test_grid_is_in_the_city_crs_on_whole_cells(demo_engine, grid):
    with demo_engine.connect() as conn:
        srid = conn.execute(text("SELECT projected_srid FROM platform.city")).scalar_one()
    assert grid.srid == srid == 32632
    assert grid.transform.a == RESOLUTION and grid.transform.e == -RESOLUTION
    assert grid.transform.c % RESOLUTION == 0 and grid.transform.f % RESOLUTION == 0


def test_total_equals_the_buildings_floor_area_in_sql(demo_engine, grid):
    total = sql_total_floor_area(demo_engine)
    assert total > 1_000_000
    assert grid.total == pytest.approx(total, rel=1e-9)


def test_cells_equal_the_footprint_shares_of_the_buildings_touching_them(grid, buildings):
    densest = np.unravel_index(np.argmax(grid.values), grid.values.shape)
    largest = buildings.loc[buildings.area.idxmax()]
    inverse = ~grid.transform
    col, row = (int(v) for v in inverse * largest.geom.representative_point().coords[0])
    straddling = _cell_of_a_building_across_a_cell_edge(grid, buildings)
    empty = tuple(int(i[0]) for i in np.nonzero(grid.values == 0))
    cells = [tuple(int(i) for i in densest), (row, col), straddling, empty]
    for row, col in cells:
        expected = expected_cell_value(buildings, cell_box(grid, row, col))
        assert grid.values[row, col] == pytest.approx(expected, rel=1e-6, abs=1e-6), (row, col)
    assert grid.values[densest] > 1000
    assert grid.values[empty] == 0


def _cell_of_a_building_across_a_cell_edge(grid, buildings) -> tuple[int, int]:
    """A cell holding part, not all, of a sizeable building."""
    for building in buildings.sort_values("floor_area_m2", ascending=False).itertuples():
        west, _, _, north = building.geom.bounds
        col, row = (int(v) for v in ~grid.transform * (west, north))
        cell = cell_box(grid, row, col)
        share = building.geom.intersection(cell).area / building.geom.area
        if 0.1 < share < 0.9:
            return row, col
    raise AssertionError("no building crosses a cell edge")


def test_build_imports_a_cog_with_the_grid_values_and_skips_an_unchanged_rebuild(
    demo_engine, grid, tmp_path
):
    first = build_density_raster(demo_engine, tmp_path)
    catalogue = RasterCatalogue(tmp_path)
    cog = catalogue.cog_path("building_density")
    assert first.built
    assert cog_validate(cog, quiet=True)[0]
    with rasterio.open(cog) as src:
        values = src.read(1)
        assert src.crs.to_epsg() == 32632
        assert src.transform == grid.transform
    np.testing.assert_array_equal(values, grid.values.astype(np.float32))
    assert values.sum(dtype=np.float64) == pytest.approx(
        sql_total_floor_area(demo_engine), rel=1e-6
    )
    with demo_engine.connect() as conn:
        version = conn.execute(
            text("SELECT version FROM platform.layer_state WHERE layer_id = 'base.buildings'")
        ).scalar_one()
    assert first.raster.provenance["inputs"]["layer_version"] == version
    assert first.raster.access == "public"

    modified = cog.stat().st_mtime_ns
    second = build_density_raster(demo_engine, tmp_path)
    assert not second.built
    assert cog.stat().st_mtime_ns == modified
    assert second.total_floor_area_m2 == first.total_floor_area_m2


def test_a_raster_built_from_another_buildings_version_is_rebuilt(demo_engine, tmp_path):
    build_density_raster(demo_engine, tmp_path, resolution=100)
    sidecar = RasterCatalogue(tmp_path).sidecar_path("building_density")
    data = json.loads(sidecar.read_text())
    data["provenance"]["inputs"]["layer_version"] -= 1
    sidecar.write_text(json.dumps(data))
    assert build_density_raster(demo_engine, tmp_path, resolution=100).built


def test_command_builds_then_reports_up_to_date(demo_settings, demo_load, tmp_path):
    settings = demo_settings.model_copy(update={"data_dir": tmp_path})
    args = ["--resolution", "100", "--name", "density_100"]
    first = CliRunner().invoke(build_density_raster_command, args, obj=settings)
    assert first.exit_code == 0, first.output
    assert "built raster density_100" in first.output
    assert (tmp_path / "rasters" / "density_100.tif").is_file()
    second = CliRunner().invoke(build_density_raster_command, args, obj=settings)
    assert second.exit_code == 0, second.output
    assert "up to date" in second.output


def test_command_refuses_a_bad_name(demo_settings, demo_load, tmp_path):
    settings = demo_settings.model_copy(update={"data_dir": tmp_path})
    result = CliRunner().invoke(build_density_raster_command, ["--name", "Bad Name"], obj=settings)
    assert result.exit_code != 0
    assert "must match" in result.output
    assert not (tmp_path / "rasters").exists() or not any((tmp_path / "rasters").iterdir())
