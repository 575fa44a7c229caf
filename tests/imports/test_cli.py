"""``geoplatform import`` as an operator runs it: the summary of a good file, and for each kind of
bad file a non-zero exit, a message naming the row, the column and the reason, and a layer left
exactly as it was (rows and version)."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner

from geoplatform.cli import cli
from geoplatform.imports.cli import import_command
from tests.imports import files
from tests.imports.conftest import snapshot

HYDRANTS = "editable.hydrants"
ZONES = "editable.zones"
VALVES = "survey.valves"


def geoplatform_import(settings, *args: str):
    return CliRunner().invoke(import_command, list(args), obj=settings, catch_exceptions=False)


def refused(settings, engine, layer_id: str, *args: str) -> str:
    """Run an import that must be refused; the output, once the layer is known unchanged."""
    before = snapshot(engine, layer_id)
    result = geoplatform_import(settings, *args, "--layer", layer_id)
    assert result.exit_code == 1, result.output
    assert "nothing was changed" in result.output
    assert snapshot(engine, layer_id) == before
    return result.output


@pytest.fixture
def some_hydrants(settings, engine, empty_layers, tmp_path):
    """Ten hydrants in the layer, imported as an operator would."""
    path = files.write(files.hydrants(10), tmp_path / "ten.gpkg")
    assert geoplatform_import(settings, str(path), "--layer", HYDRANTS).exit_code == 0
    assert snapshot(engine, HYDRANTS).rows == 10


def test_a_good_file_prints_the_summary(settings, engine, empty_layers, tmp_path):
    path = files.write(files.hydrants(5), tmp_path / "five.geojson")

    result = geoplatform_import(settings, str(path), "--layer", HYDRANTS)

    assert result.exit_code == 0, result.output
    assert "five.geojson into editable.hydrants (append)" in result.output
    assert "0 -> 5" in result.output
    assert snapshot(engine, HYDRANTS).rows == 5


# GDAL warns of the file's header, then fails to open it: the failure is what is checked.
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_broken_file_is_refused(settings, engine, some_hydrants, tmp_path):
    path = tmp_path / "broken.gpkg"
    path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)

    output = refused(settings, engine, HYDRANTS, str(path))

    assert "broken.gpkg cannot be read" in output


def test_an_unsupported_file_is_refused(settings, engine, some_hydrants, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hydrants: three by the station\n")

    output = refused(settings, engine, HYDRANTS, str(path))

    assert "notes.txt: not a supported format" in output


def test_a_crs_that_contradicts_the_files_is_refused(settings, engine, some_hydrants, tmp_path):
    path = files.write(files.hydrants(3), tmp_path / "hydrants.gpkg")

    output = refused(settings, engine, HYDRANTS, str(path), "--crs", "EPSG:4549")

    assert "--crs EPSG:4549 contradicts the file's own CRS, EPSG:4490" in output


def test_a_file_without_crs_needs_one_named(settings, engine, some_hydrants, tmp_path):
    path = files.write_csv(files.hydrants(3), tmp_path / "hydrants.csv")

    output = refused(settings, engine, HYDRANTS, str(path))

    assert "the file declares no CRS; name the CRS of its coordinates with --crs" in output


def test_a_missing_required_column_is_refused(settings, engine, some_hydrants, tmp_path):
    path = files.write(files.hydrants(3).drop(columns="name"), tmp_path / "nameless.gpkg")

    output = refused(settings, engine, HYDRANTS, str(path))

    assert "the file has no column 'name': editable.hydrants needs a value in every row" in output


def test_an_empty_required_value_is_refused_with_its_row(settings, engine, some_hydrants, tmp_path):
    source = files.hydrants(4)
    source.loc[2, "name"] = None
    path = files.write(source, tmp_path / "hydrants.gpkg")

    output = refused(settings, engine, HYDRANTS, str(path))

    assert "row 3, name: empty, but name is required" in output


def test_a_value_of_the_wrong_type_is_refused_with_its_row_and_column(
    settings, engine, some_hydrants, tmp_path
):
    path = tmp_path / "hydrants.csv"
    path.write_text(
        "name,outlets,installed,lon,lat\n"
        "H-1,2,2020-01-01,120.61,31.31\n"
        "H-2,many,2020-01-02,120.62,31.32\n"
        "H-3,2,the day before,120.63,31.33\n"
    )

    output = refused(settings, engine, HYDRANTS, str(path), "--crs", "EPSG:4490")

    assert "row 2, outlets: expected an integer, got 'many'" in output
    assert "row 3, installed: expected a date (YYYY-MM-DD), got 'the day before'" in output


def test_a_code_not_in_the_code_list_is_refused(settings, engine, empty_layers, tmp_path):
    valves = gpd.GeoDataFrame(
        {"code": ["V-1", "V-2", "V-3"], "material": ["DI", "GOLD", None]},
        geometry=files.hydrants(3).geometry,
        crs="EPSG:4490",
    )
    path = files.write(valves, tmp_path / "valves.gpkg")

    output = refused(settings, engine, VALVES, str(path))

    assert "row 2, material: 'GOLD' is not a code of survey.materials" in output
    assert "row 3" not in output  # no material is no code to check


def test_a_value_breaking_a_rule_of_the_table_is_refused(settings, engine, some_hydrants, tmp_path):
    source = files.hydrants(3)
    source.loc[1, "outlets"] = 9
    path = files.write(source, tmp_path / "hydrants.gpkg")

    output = refused(settings, engine, HYDRANTS, str(path))

    assert "row 2, outlets: breaks the rule hydrants_outlets_check" in output


def test_mixed_geometry_types_are_refused_with_their_counts(
    settings, engine, some_hydrants, tmp_path
):
    source = files.hydrants(3)
    source.loc[1, "geometry"] = files.a_line()
    path = files.write(source, tmp_path / "mixed.geojson")

    output = refused(settings, engine, HYDRANTS, str(path))

    assert "the file mixes geometry types (Point 2, LineString 1)" in output
    assert "row 2, geometry: LineString: editable.hydrants takes Point" in output


def test_lines_into_a_polygon_layer_are_refused(settings, engine, empty_layers, tmp_path):
    source = files.zones()
    source.geometry = [files.a_line()] * 3
    path = files.write(source, tmp_path / "lines.gpkg")

    output = refused(settings, engine, ZONES, str(path))

    assert "row 1, geometry: LineString: editable.zones takes MultiPolygon or Polygon" in output


def test_empty_and_collapsing_geometries_are_refused(settings, engine, empty_layers, tmp_path):
    west, south = files.SUZHOU
    flat = shapely.Polygon([(west, south), (west + 0.01, south), (west + 0.02, south)])
    path = tmp_path / "zones.csv"
    path.write_text(
        "name,level,wkt\n"
        f'north,1,"{files.square(west, south).wkt}"\n'
        "centre,2,POLYGON EMPTY\n"
        f'south,3,"{flat.wkt}"\n'
        "east,4,POLYGON ((1 2, 3\n"
    )

    output = refused(settings, engine, ZONES, str(path), "--crs", "EPSG:4490")

    assert "row 2, wkt: empty geometry (Polygon EMPTY)" in output
    assert "row 3, wkt: invalid geometry" in output and "repair makes it a" in output
    assert "row 4, wkt: not WKT" in output


def test_the_refused_rows_are_listed_up_to_a_cap_with_the_total(
    settings, engine, some_hydrants, tmp_path
):
    source = files.hydrants(150)
    source["outlets"] = "many"
    path = files.write(source, tmp_path / "hydrants.gpkg")

    output = refused(settings, engine, HYDRANTS, str(path))

    assert "150 of 150 rows refused" in output
    assert "row 100, outlets" in output and "row 101, outlets" not in output
    assert "and 50 more refused rows" in output


def test_a_replace_that_removes_most_of_the_layer_needs_force(
    settings, engine, some_hydrants, tmp_path
):
    path = files.write(files.hydrants(2), tmp_path / "two.gpkg")

    output = refused(settings, engine, HYDRANTS, str(path), "--mode", "replace")
    assert "this would remove more than 50% of a layer (editable.hydrants 10 -> 2 rows)" in output
    assert "repeat with --force" in output

    before = snapshot(engine, HYDRANTS)
    forced = geoplatform_import(
        settings, str(path), "--layer", HYDRANTS, "--mode", "replace", "--force"
    )
    assert forced.exit_code == 0, forced.output
    after = snapshot(engine, HYDRANTS)
    assert after.rows == 2
    assert after.version > before.version
    assert "10 -> 2" in forced.output


def test_a_replace_that_keeps_most_of_the_layer_goes_through(
    settings, engine, some_hydrants, tmp_path
):
    path = files.write(files.hydrants(8), tmp_path / "eight.gpkg")

    result = geoplatform_import(settings, str(path), "--layer", HYDRANTS, "--mode", "replace")

    assert result.exit_code == 0, result.output
    assert snapshot(engine, HYDRANTS).rows == 8


def test_an_unknown_layer_is_named(settings, tmp_path):
    path = files.write(files.hydrants(1), tmp_path / "one.gpkg")

    result = geoplatform_import(settings, str(path), "--layer", "editable.nothing")

    assert result.exit_code == 2
    assert "no layer 'editable.nothing'" in result.output


def test_a_file_of_several_layers_needs_the_one_named(settings, engine, empty_layers, tmp_path):
    path = tmp_path / "survey.gpkg"
    files.hydrants(2).to_file(path, layer="hydrants", driver="GPKG")
    files.zones().to_file(path, layer="zones", driver="GPKG")

    output = refused(settings, engine, HYDRANTS, str(path))
    assert "survey.gpkg holds 2 layers ('hydrants', 'zones')" in output

    chosen = geoplatform_import(
        settings, str(path), "--layer", HYDRANTS, "--source-layer", "hydrants"
    )
    assert chosen.exit_code == 0, chosen.output
    assert snapshot(engine, HYDRANTS).rows == 2


def test_the_command_is_part_of_geoplatform(settings):
    result = CliRunner().invoke(cli, ["import", "--help"], obj=settings)

    assert result.exit_code == 0
    assert "--layer" in result.output and "--mode [append|replace]" in result.output


def test_a_rule_only_the_database_knows_refuses_the_whole_file(
    settings, engine, empty_layers, tmp_path
):
    valves = gpd.GeoDataFrame(
        {"code": ["V-1", "V-2", "V-1"], "material": ["DI", "PE", "CI"]},
        geometry=files.hydrants(3).geometry,
        crs="EPSG:4490",
    )
    path = files.write(valves, tmp_path / "valves.gpkg")

    output = refused(settings, engine, VALVES, str(path))

    assert "the database refuses the rows: duplicate key value violates unique constraint" in output
    assert "uq_valves_code" in output
