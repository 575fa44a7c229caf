"""The proof that a module plugs in through the contract alone: the parks module, which lives in
this folder and nowhere else, shows up in every place a module does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mapbox_vector_tile
import morecantile
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from geoplatform import migrate
from geoplatform.app import create_app
from geoplatform.config import load_settings
from geoplatform.db import make_engine
from tests.conftest import DEMO_OSM
from tests.modules.parks import CONFORMANCE, MODULE
from tests.modules.parks.models import metadata

MODULES = [*load_settings().modules, "tests.modules.parks"]
GEOPLATFORM = str(Path(sys.executable).with_name("geoplatform"))
REPO_ROOT = Path(__file__).resolve().parents[3]
TMS = morecantile.tms.get("WebMercatorQuad")


def geoplatform(settings, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "GEOPLATFORM_MODULES": ",".join(MODULES),
        "GEOPLATFORM_DATA_DIR": str(settings.data_dir),
        "GEOPLATFORM_OSM_PATH": str(DEMO_OSM),
        # The module is enabled by its package path, found from the checkout.
        "PYTHONPATH": str(REPO_ROOT),
    }
    return subprocess.run(
        [GEOPLATFORM, *args], env=env, capture_output=True, text=True, timeout=300, cwd=REPO_ROOT
    )


@pytest.fixture(scope="module")
def parks_city(make_database, tmp_path_factory):
    """A database set up as a newcomer's `make setup` does, with the parks module enabled."""
    settings = make_database(
        "parks", revision=None, modules=MODULES, data_dir=tmp_path_factory.mktemp("parks_data")
    )
    upgrade = geoplatform(settings, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    demo = geoplatform(settings, "demo")
    assert demo.returncode == 0, demo.stderr
    return settings, demo


@pytest.fixture(scope="module")
def parks_app(parks_city):
    settings, _ = parks_city
    app = create_app(settings)
    yield app
    app.extensions["geoplatform"].close()


def scalar(settings, sql: str):
    engine = make_engine(settings)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar_one()
    finally:
        engine.dispose()


def test_the_demo_command_runs_the_modules_demo_after_the_ones_it_requires(parks_city):
    settings, demo = parks_city
    parks = scalar(settings, "SELECT count(*) FROM parks.parks")
    expected = scalar(
        settings, "SELECT count(*) FROM base.landuse WHERE osm_class = 'park' AND area_m2 >= 500"
    )
    assert parks == expected > 0
    assert f"{parks} parks of at least 500 m²" in demo.stderr
    # Its rule reads the base layers, so it must come after them.
    assert demo.stderr.index("base:") < demo.stderr.index("parks:")


def test_the_demo_again_changes_nothing(parks_city):
    settings, _ = parks_city
    before = scalar(
        settings,
        "SELECT md5(string_agg(name || area_m2, ',' ORDER BY landuse_id)) FROM parks.parks",
    )
    again = geoplatform(settings, "demo", "--only", "parks")
    assert again.returncode == 0, again.stderr
    after = scalar(
        settings,
        "SELECT md5(string_agg(name || area_m2, ',' ORDER BY landuse_id)) FROM parks.parks",
    )
    assert before == after


def test_its_branch_is_migrated_and_its_department_synced(parks_city):
    settings, _ = parks_city
    engine = make_engine(settings)
    try:
        assert "parks_0001" in migrate.head_revisions(settings)
        assert migrate.current_revisions(engine) == migrate.head_revisions(settings)
        with engine.connect() as conn:
            name = conn.execute(
                text("SELECT name_en FROM platform.departments WHERE code = 'parks_bureau'")
            ).scalar_one()
            context = MigrationContext.configure(conn, opts={"include_schemas": True})
            differences = [d for d in compare_metadata(context, metadata) if _about_parks(d)]
    finally:
        engine.dispose()
    assert name == "Parks Bureau"
    assert differences == []


def _about_parks(difference) -> bool:
    """Whether an autogenerate difference concerns the parks schema (the others have their own
    models)."""
    subject = difference[1]
    table = getattr(subject, "table", subject)
    return getattr(table, "schema", None) == "parks"


def test_its_layer_is_a_collection_with_the_demos_features(parks_city, parks_app):
    settings, _ = parks_city
    client = parks_app.test_client()
    ids = [c["id"] for c in client.get("/collections").json["collections"]]
    assert "parks.parks" in ids
    items = client.get("/collections/parks.parks/items?limit=1000").json
    assert items["numberMatched"] == scalar(settings, "SELECT count(*) FROM parks.parks")


def test_its_layer_has_tiles_and_tilejson(parks_city, parks_app):
    settings, _ = parks_city
    client = parks_app.test_client()
    tilejson = client.get("/tiles/parks.parks.json").json
    assert tilejson["vector_layers"][0]["id"] == "parks.parks"
    lon, lat = (
        scalar(
            settings,
            f"SELECT ST_{axis}(ST_PointOnSurface(geom)) FROM parks.parks "
            "ORDER BY area_m2 DESC LIMIT 1",
        )
        for axis in ("X", "Y")
    )
    tile = TMS.tile(lon, lat, 14)
    response = client.get(f"/tiles/parks.parks/{tile.z}/{tile.x}/{tile.y}.mvt")
    assert response.status_code == 200
    assert len(mapbox_vector_tile.decode(response.data)["parks.parks"]["features"]) >= 1


def test_its_routes_are_under_its_name_and_in_the_openapi_document(parks_app):
    client = parks_app.test_client()
    assert client.get("/parks/count").json["parks"] > 0
    paths = client.get("/api").get_json(force=True)["paths"]
    assert {"/parks/", "/parks/count"} <= set(paths)
    assert paths["/parks/count"]["get"]["tags"] == ["parks"]


def test_its_conformance_class_is_declared(parks_app):
    assert CONFORMANCE in parks_app.test_client().get("/conformance").json["conformsTo"]


def test_its_page_is_in_the_site_menu(parks_app):
    client = parks_app.test_client()
    page = client.get("/parks/")
    assert page.status_code == 200 and "公园 Parks" in page.get_data(as_text=True)
    home = client.get("/", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert 'href="/parks/"' in home


def test_its_settings_are_read_with_its_prefix(parks_city, monkeypatch):
    settings, _ = parks_city
    monkeypatch.setenv("GEOPLATFORM_PARKS_MIN_AREA_M2", "1e9")
    from geoplatform.platform import create_platform

    platform = create_platform(settings)
    try:
        assert platform.settings_of("parks").min_area_m2 == 1e9
        summary = MODULE.demo(platform, lambda stage, done, total: None)
    finally:
        platform.close()
    assert summary == "0 parks of at least 1e+09 m²"
    assert scalar(settings, "SELECT count(*) FROM parks.parks") == 0
    # Put the demo back for the other tests of this module's scope.
    assert geoplatform(settings, "demo", "--only", "parks").returncode == 0


def test_its_commands_are_a_group_named_after_it(parks_city):
    settings, _ = parks_city
    result = geoplatform(settings, "parks", "count")
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == scalar(settings, "SELECT count(*) FROM parks.parks")
