"""PMTiles export: the archive holds exactly the tiles the live endpoint serves, and no secrets."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from pmtiles.reader import MmapSource, Reader, all_tiles
from pmtiles.tile import Compression, TileType

from layers.base.layers import BUILDINGS, ROADS
from tileserver.cli import export_pmtiles_command
from tileserver.seed import layers_extent, tiles_over

REPO_ROOT = Path(__file__).resolve().parents[2]
GEOPLATFORM = str(Path(sys.executable).with_name("geoplatform"))
LAYERS = "base.roads,base.buildings"
MINZOOM, MAXZOOM = 0, 14


@pytest.fixture(scope="module")
def archive(demo_settings, demo_load, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pmtiles") / "city.pmtiles"
    result = CliRunner().invoke(
        export_pmtiles_command,
        ["--layers", LAYERS, "--minzoom", str(MINZOOM), "--maxzoom", str(MAXZOOM), str(out)],
        obj=demo_settings,
    )
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.stdout
    return out


@pytest.fixture(scope="module")
def reader(archive):
    with archive.open("rb") as file:
        yield Reader(MmapSource(file))


@pytest.fixture(scope="module")
def live_tiles(demo_app, demo_engine) -> dict[tuple[int, int, int], bytes | None]:
    """Every tile of the export range from the endpoint: raw MVT bytes, None when 204."""
    client = demo_app.test_client()
    bbox = layers_extent(demo_engine, (ROADS, BUILDINGS))
    tiles = {}
    for tile in tiles_over(bbox, MINZOOM, MAXZOOM):
        response = client.get(f"/tiles/{LAYERS}/{tile.z}/{tile.x}/{tile.y}.mvt")
        assert response.status_code in (200, 204), response.data
        tiles[tile.z, tile.x, tile.y] = response.data if response.status_code == 200 else None
    return tiles


def test_archive_tiles_equal_the_live_endpoint_byte_for_byte(reader, live_tiles):
    served = {zxy: data for zxy, data in live_tiles.items() if data is not None}
    zooms = Counter(z for z, _, _ in served)
    assert len(zooms) >= 5, f"the demo city should have tiles at several zooms, got {zooms}"
    assert zooms[13] > 5 and zooms[14] > 10
    for (z, x, y), data in served.items():
        stored = reader.get(z, x, y)
        assert stored is not None, f"tile {z}/{x}/{y} is served but missing from the archive"
        assert gzip.decompress(stored) == data, f"tile {z}/{x}/{y} differs"


def test_archive_has_no_empty_tiles_and_nothing_outside_the_range(archive, live_tiles):
    with archive.open("rb") as file:
        stored = {zxy for zxy, _ in all_tiles(MmapSource(file))}
    assert stored == {zxy for zxy, data in live_tiles.items() if data is not None}


def test_header_describes_the_archive(reader, live_tiles, demo_engine):
    header = reader.header()
    served = [zxy for zxy, data in live_tiles.items() if data is not None]
    assert header["addressed_tiles_count"] == len(served)
    assert header["tile_type"] == TileType.MVT
    assert header["tile_compression"] == Compression.GZIP
    assert header["clustered"]
    assert header["min_zoom"] == min(z for z, _, _ in served)
    assert header["max_zoom"] == MAXZOOM
    west, south, east, north = layers_extent(demo_engine, (ROADS, BUILDINGS))
    bounds = [header[k] / 1e7 for k in ("min_lon_e7", "min_lat_e7", "max_lon_e7", "max_lat_e7")]
    assert bounds == pytest.approx([west, south, east, north], abs=1e-7)
    assert west < header["center_lon_e7"] / 1e7 < east
    assert south < header["center_lat_e7"] / 1e7 < north


def test_metadata_is_our_tilejson(reader, client, live_tiles):
    metadata = reader.metadata()
    tilejson = client.get(f"/tiles/{LAYERS}.json").json
    assert metadata["vector_layers"] == tilejson["vector_layers"]
    assert [x["id"] for x in metadata["vector_layers"]] == ["base.roads", "base.buildings"]
    assert metadata["attribution"] == "© OpenStreetMap contributors"
    assert metadata["bounds"] == pytest.approx(tilejson["bounds"])
    header = reader.header()
    assert (metadata["minzoom"], metadata["maxzoom"]) == (header["min_zoom"], header["max_zoom"])
    assert metadata["center"][2] == header["center_zoom"] == 12
    assert "tiles" not in metadata  # the archive is its own source


def test_bbox_limits_the_archive(demo_settings, demo_load, tmp_path):
    out = tmp_path / "centre.pmtiles"
    # A box around Vaduz's centre: one z14 tile or a few, never the whole city.
    result = CliRunner().invoke(
        export_pmtiles_command,
        ["--layers", "base.buildings", "--minzoom", "14", "--maxzoom", "14"]
        + ["--bbox", "9.519,47.138,9.523,47.142", str(out)],
        obj=demo_settings,
    )
    assert result.exit_code == 0, result.output
    with out.open("rb") as file:
        stored = [zxy for zxy, _ in all_tiles(MmapSource(file))]
    assert 1 <= len(stored) <= 4
    assert {z for z, _, _ in stored} == {14}


def test_an_empty_range_writes_nothing(demo_settings, demo_load, tmp_path):
    out = tmp_path / "empty.pmtiles"
    result = CliRunner().invoke(
        export_pmtiles_command,
        ["--layers", "base.buildings", "--minzoom", "0", "--maxzoom", "5", str(out)],
        obj=demo_settings,
    )
    assert result.exit_code == 1
    assert "every tile in the range is empty; no archive was written" in result.output
    assert list(tmp_path.iterdir()) == []


def _export(settings, *args, out: Path):
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "GEOPLATFORM_MODULES": "base,tests.fixtures.internal",
        "PYTHONPATH": str(REPO_ROOT),
    }
    return subprocess.run(
        [GEOPLATFORM, "export-pmtiles", "--minzoom", "12", "--maxzoom", "12", *args, str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )


@pytest.mark.parametrize(
    ("layers", "named"),
    [
        ("internal.roads", "internal.roads is not public"),
        ("base.roads,internal.water_only", "internal.water_only is not public"),
    ],
)
def test_export_refuses_what_is_not_public(demo_settings, demo_load, tmp_path, layers, named):
    out = tmp_path / "leak.pmtiles"
    result = _export(demo_settings, "--layers", layers, out=out)
    assert result.returncode == 1
    assert named in result.stderr
    assert "Pass --allow-internal to export anyway." in result.stderr
    assert "base.roads is" not in result.stderr
    assert not out.exists()


def test_export_of_internal_layers_when_explicitly_allowed(demo_settings, demo_load, tmp_path):
    out = tmp_path / "internal.pmtiles"
    # The fixture layer shares base.roads but has no recorded extent of its own.
    args = ("--layers", "internal.roads", "--allow-internal", "--bbox", "9.50,47.12,9.54,47.16")
    result = _export(demo_settings, *args, out=out)
    assert result.returncode == 0, result.stderr
    with out.open("rb") as file:
        assert Reader(MmapSource(file)).metadata()["vector_layers"][0]["id"] == "internal.roads"
