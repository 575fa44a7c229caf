"""Raster layers: import into COGs, PNG/WEBP tiles over HTTP, TileJSON, caching and access."""

from __future__ import annotations

import io
import json

import morecantile
import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from flask import g, request
from PIL import Image
from pyproj import Transformer
from rasterio.transform import from_origin
from rio_cogeo.cogeo import cog_validate
from sqlalchemy import text

from geoplatform.app import create_app
from geoplatform.auth import Principal
from geoplatform.db import make_engine
from layers.base.density import build_density_raster
from tileserver.raster import RasterCatalogue
from tileserver.raster_cli import import_raster_command

TMS = morecantile.tms.get("WebMercatorQuad")
# A 2 km x 1.6 km grid of 10 m cells over Vaduz in the demo city's UTM zone.
SAMPLE_ORIGIN = (538_000.0, 5_222_000.0)
SAMPLE_SHAPE = (160, 200)
_to_lonlat = Transformer.from_crs(32632, 4326, always_xy=True)


def write_geotiff(path, data: np.ndarray, origin=SAMPLE_ORIGIN, cell=10.0) -> None:
    profile = {
        "driver": "GTiff",
        "width": data.shape[1],
        "height": data.shape[0],
        "count": 1,
        "dtype": data.dtype.name,
        "crs": "EPSG:32632",
        "transform": from_origin(*origin, cell, cell),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)


def sample_values(seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).integers(1, 1000, SAMPLE_SHAPE, dtype=np.uint16)


def import_command(settings, *args):
    return CliRunner().invoke(import_raster_command, [str(a) for a in args], obj=settings)


@pytest.fixture(scope="module")
def raster_settings(demo_settings, demo_load, tmp_path_factory):
    """The demo database with a data directory of its own holding three rasters."""
    settings = demo_settings.model_copy(update={"data_dir": tmp_path_factory.mktemp("data")})
    sources = tmp_path_factory.mktemp("sources")
    write_geotiff(sources / "sample.tif", sample_values())
    for name, access in (("sample", "public"), ("restricted", "internal")):
        result = import_command(
            settings, sources / "sample.tif", "--name", name, "--access", access
        )
        assert result.exit_code == 0, result.output
    engine = make_engine(settings)
    try:
        build_density_raster(engine, settings.data_dir)
    finally:
        engine.dispose()
    return settings


@pytest.fixture(scope="module")
def raster_app(raster_settings):
    app = create_app(raster_settings)

    # Stands in for the authentication hook: a department named in a header signs in.
    @app.before_request
    def sign_in_department() -> None:
        department = request.headers.get("X-Department")
        if department:
            g.principal = Principal(department, "viewer")

    yield app
    app.extensions["geoplatform"].close()


@pytest.fixture
def raster_client(raster_app):
    return raster_app.test_client()


def tile_over(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    tile = TMS.tile(lon, lat, z)
    return tile.z, tile.x, tile.y


def densest_lonlat(settings) -> tuple[float, float]:
    with rasterio.open(RasterCatalogue(settings.data_dir).cog_path("building_density")) as src:
        values = src.read(1)
        row, col = np.unravel_index(np.argmax(values), values.shape)
        x, y = src.xy(row, col)
    return _to_lonlat.transform(x, y)


def rgba(response) -> np.ndarray:
    image = Image.open(io.BytesIO(response.data))
    assert image.size == (256, 256)
    return np.asarray(image.convert("RGBA"))


# --- import-raster ---------------------------------------------------------------------------


def test_import_writes_a_valid_cog_with_the_source_pixels(raster_settings, tmp_path):
    source = tmp_path / "source.tif"
    data = sample_values(seed=11)
    write_geotiff(source, data)
    settings = raster_settings.model_copy(update={"data_dir": tmp_path / "data"})
    result = import_command(
        settings, source, "--name", "fresh", "--title", "Sample", "--attribution", "test suite"
    )
    assert result.exit_code == 0, result.output
    catalogue = RasterCatalogue(settings.data_dir)
    cog = catalogue.cog_path("fresh")
    valid, errors, _ = cog_validate(cog, quiet=True)
    assert valid, errors
    with rasterio.open(cog) as dst, rasterio.open(source) as src:
        np.testing.assert_array_equal(dst.read(1), data)
        assert dst.crs == src.crs and dst.transform == src.transform
    sidecar = json.loads(catalogue.sidecar_path("fresh").read_text())
    assert sidecar["title"] == "Sample"
    assert sidecar["access"] == "public"
    assert sidecar["attribution"] == "test suite"
    assert sidecar["source"] == "source.tif"
    assert sidecar["statistics"]["b1"]["max"] == data.max()
    assert sorted(p.name for p in catalogue.directory.iterdir()) == ["fresh.json", "fresh.tif"]


@pytest.mark.parametrize("name", ["Sample", "1sample", "a" * 64, "with space", "a.b", "-x", ""])
def test_import_refuses_a_bad_name_and_writes_nothing(raster_settings, tmp_path, name):
    source = tmp_path / "source.tif"
    write_geotiff(source, sample_values())
    settings = raster_settings.model_copy(update={"data_dir": tmp_path / "data"})
    result = import_command(settings, source, "--name", name)
    assert result.exit_code != 0
    assert "must match ^[a-z][a-z0-9_-]{0,62}$" in result.output
    assert not (tmp_path / "data" / "rasters").exists()


def test_a_failed_import_leaves_the_existing_raster_untouched(raster_settings, tmp_path):
    settings = raster_settings.model_copy(update={"data_dir": tmp_path / "data"})
    good = tmp_path / "good.tif"
    write_geotiff(good, sample_values())
    assert import_command(settings, good, "--name", "kept").exit_code == 0
    catalogue = RasterCatalogue(settings.data_dir)
    before = catalogue.find("kept")
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"not a GeoTIFF")
    result = import_command(settings, broken, "--name", "kept")
    assert result.exit_code != 0
    assert "nothing was changed" in result.output
    assert catalogue.find("kept") == before
    assert sorted(p.name for p in catalogue.directory.iterdir()) == ["kept.json", "kept.tif"]


# --- tiles -----------------------------------------------------------------------------------


@pytest.mark.parametrize("image_format", ["png", "webp"])
def test_density_tile_over_the_city_centre_is_a_drawn_256px_image(
    raster_client, raster_settings, image_format
):
    z, x, y = tile_over(*densest_lonlat(raster_settings), 14)
    response = raster_client.get(f"/raster/building_density/{z}/{x}/{y}.{image_format}")
    assert response.status_code == 200
    assert response.mimetype == f"image/{image_format}"
    pixels = rgba(response)
    drawn = pixels[..., 3] > 0
    assert drawn.any() and not drawn.all()  # buildings drawn, empty cells transparent
    assert len(np.unique(pixels[drawn][:, :3], axis=0)) > 5
    assert response.headers["Cache-Control"].startswith("public, max-age=")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["ETag"]


def test_tile_across_the_raster_edge_is_transparent_outside_the_data(raster_client):
    west, north = _to_lonlat.transform(*SAMPLE_ORIGIN)
    z, x, y = tile_over(west - 1e-5, north + 1e-5, 15)
    pixels = rgba(raster_client.get(f"/raster/sample/{z}/{x}/{y}.png"))
    bounds = TMS.xy_bounds(morecantile.Tile(x, y, z))
    corner = Transformer.from_crs(32632, 3857, always_xy=True).transform(*SAMPLE_ORIGIN)
    size = (bounds.right - bounds.left) / 256
    corner_col = int((corner[0] - bounds.left) / size)
    corner_row = int((bounds.top - corner[1]) / size)
    assert (pixels[: corner_row - 1, :, 3] == 0).all()  # north of the raster
    assert (pixels[:, : corner_col - 1, 3] == 0).all()  # west of the raster
    assert (pixels[corner_row + 1 :, corner_col + 1 :, 3] == 255).all()


def test_tile_outside_the_raster_is_no_content(raster_client):
    response = raster_client.get("/raster/building_density/14/0/0.png")
    assert response.status_code == 204
    assert response.data == b""
    assert response.headers["ETag"]


def test_if_none_match_answers_not_modified(raster_client, raster_settings):
    z, x, y = tile_over(*densest_lonlat(raster_settings), 13)
    url = f"/raster/building_density/{z}/{x}/{y}.png"
    etag = raster_client.get(url).headers["ETag"]
    again = raster_client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["ETag"] == etag
    assert raster_client.get(url.replace(".png", ".webp")).headers["ETag"] != etag


def test_etag_follows_the_cog_content(raster_client, raster_settings, tmp_path):
    west, north = _to_lonlat.transform(*SAMPLE_ORIGIN)
    z, x, y = tile_over(west + 0.005, north - 0.005, 14)
    source = tmp_path / "changed.tif"
    write_geotiff(source, sample_values())
    assert import_command(raster_settings, source, "--name", "replaced").exit_code == 0
    before = raster_client.get(f"/raster/replaced/{z}/{x}/{y}.png").headers["ETag"]
    write_geotiff(source, sample_values(seed=99))
    assert import_command(raster_settings, source, "--name", "replaced").exit_code == 0
    after = raster_client.get(
        f"/raster/replaced/{z}/{x}/{y}.png", headers={"If-None-Match": before}
    )
    assert after.status_code == 200
    assert after.headers["ETag"] != before


def test_unknown_raster_is_not_found(raster_client):
    for url in (
        "/raster/nowhere/14/8000/5000.png",
        "/raster/nowhere.json",
        "/raster/Bad.Name.json",
    ):
        response = raster_client.get(url)
        assert response.status_code == 404, url
        assert response.json["code"] == "NotFound"
        assert response.json["description"]


@pytest.mark.parametrize(
    "path",
    ["abc/1/1.png", "25/0/0.png", "3/8/0.png", "3/0/8.png", "3/-1/0.png", "3/1/1.jpg", "3/1/x.png"],
)
def test_bad_tile_address_is_a_bad_request(raster_client, path):
    response = raster_client.get(f"/raster/building_density/{path}")
    assert response.status_code == 400
    assert response.json["code"] == "InvalidParameterValue"
    assert response.json["description"]


# --- access ----------------------------------------------------------------------------------


def test_internal_raster_is_hidden_from_anonymous_callers(raster_client):
    west, north = _to_lonlat.transform(*SAMPLE_ORIGIN)
    z, x, y = tile_over(west + 0.005, north - 0.005, 14)
    unknown = raster_client.get(f"/raster/nowhere/{z}/{x}/{y}.png")
    hidden = raster_client.get(f"/raster/restricted/{z}/{x}/{y}.png")
    assert hidden.status_code == 404
    assert hidden.json["code"] == unknown.json["code"]
    assert raster_client.get("/raster/restricted.json").status_code == 404
    names = [r["name"] for r in raster_client.get("/raster").json["rasters"]]
    assert "restricted" not in names and "sample" in names


def test_internal_raster_is_served_privately_to_a_department(raster_client):
    west, north = _to_lonlat.transform(*SAMPLE_ORIGIN)
    z, x, y = tile_over(west + 0.005, north - 0.005, 14)
    signed_in = {"X-Department": "planning"}
    response = raster_client.get(f"/raster/restricted/{z}/{x}/{y}.png", headers=signed_in)
    assert response.status_code == 200
    assert response.headers["Cache-Control"].startswith("private")
    names = [r["name"] for r in raster_client.get("/raster", headers=signed_in).json["rasters"]]
    assert "restricted" in names


# --- metadata --------------------------------------------------------------------------------


def test_tilejson_describes_the_density_raster(raster_client, demo_engine):
    document = raster_client.get("/raster/building_density.json").json
    assert document["tilejson"] == "3.0.0"
    assert document["tiles"] == ["http://localhost/raster/building_density/{z}/{x}/{y}.png"]
    west, south, east, north = document["bounds"]
    assert west < 9.5209 < east and south < 47.1410 < north  # Vaduz
    assert 0 <= document["minzoom"] <= document["maxzoom"] <= 24
    assert document["attribution"] == "© OpenStreetMap contributors"
    assert document["crs"] == "EPSG:32632"
    with demo_engine.connect() as conn:
        total = conn.execute(text("SELECT sum(area_m2 * levels) FROM base.buildings")).scalar_one()
    assert document["statistics"]["b1"]["sum"] == pytest.approx(total, rel=1e-6)


def test_listing_links_each_readable_raster(raster_client):
    response = raster_client.get("/raster")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    rasters = {r["name"]: r for r in response.json["rasters"]}
    assert {"building_density", "sample"} <= set(rasters)
    link = rasters["building_density"]["links"][0]
    assert link["href"] == "http://localhost/raster/building_density.json"
