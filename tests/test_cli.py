"""The `geoplatform` command as a person runs it, in subprocesses, and served over real HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from geoplatform.db import make_engine
from tests.conftest import DEMO_OSM, count_rows
from tests.layers.base.test_load_synthetic import small_town
from tests.layers.base.test_load_transactional import block_ends
from tests.pgcluster import free_port

GEOPLATFORM = str(Path(sys.executable).with_name("geoplatform"))
REPO_ROOT = Path(__file__).resolve().parent.parent


def run(settings, *args, extra_env=None, timeout=120):
    env = {**os.environ, "DATABASE_URL": settings.database_url, **(extra_env or {})}
    return subprocess.run(
        [GEOPLATFORM, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
    )


def test_layers_lists_every_layer_with_its_row_count(demo_settings, demo_load):
    result = run(demo_settings, "layers")
    assert result.returncode == 0, result.stderr
    for layer in demo_load.layers:
        line = next(row for row in result.stdout.splitlines() if f" {layer.layer} " in row)
        assert f"{layer.rows:,}" in line


def test_load_osm_reports_missing_file_and_changes_nothing(demo_settings, demo_load):
    result = run(demo_settings, "base", "load-osm", "/nowhere/city.osm.pbf")
    assert result.returncode == 1
    assert "OSM file not found: /nowhere/city.osm.pbf; nothing was changed" in result.stderr


def test_load_osm_again_is_a_fast_no_op(demo_settings, demo_load):
    started = time.monotonic()
    result = run(demo_settings, "base", "load-osm")
    assert result.returncode == 0, result.stderr
    assert "is already loaded" in result.stderr
    assert "base.buildings" in result.stderr  # the summary table is printed again
    assert time.monotonic() - started < 30


def test_load_osm_of_a_partial_download_exits_1_and_changes_nothing(
    demo_settings, demo_load, tmp_path
):
    data = DEMO_OSM.read_bytes()
    cut = tmp_path / "partial.osm.pbf"
    cut.write_bytes(data[: block_ends(DEMO_OSM)[18]])
    before = count_rows_of(demo_settings, "base.roads")
    result = run(demo_settings, "base", "load-osm", str(cut), "--force")
    assert result.returncode == 1
    assert "partial.osm.pbf ends early" in result.stderr
    assert "nothing was changed" in result.stderr
    assert count_rows_of(demo_settings, "base.roads") == before == 4658


def test_load_osm_refusing_a_shrink_shows_the_counts(demo_settings, demo_load, tmp_path):
    town = tmp_path / "town.osm.pbf"
    small_town(town)
    result = run(demo_settings, "base", "load-osm", str(town))
    assert result.returncode == 1
    assert "refused: the load would change" in result.stderr
    assert "base.roads" in result.stderr and "4,658" in result.stderr
    assert "repeat with --force" in result.stderr
    assert count_rows_of(demo_settings, "base.roads") == 4658


def count_rows_of(settings, table: str) -> int:
    engine = make_engine(settings)
    try:
        return count_rows(engine, table)
    finally:
        engine.dispose()


def test_bad_setting_is_a_clear_error(demo_settings):
    result = run(demo_settings, "layers", extra_env={"GEOPLATFORM_PORT": "http"})
    assert result.returncode == 2
    assert "GEOPLATFORM_PORT: Input should be a valid integer" in result.stderr


def test_serve_answers_over_http(demo_settings, demo_load):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": demo_settings.database_url}
    server = subprocess.Popen(
        [GEOPLATFORM, "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        body = _get_when_up(f"http://127.0.0.1:{port}/healthz", server)
        assert '"status":"ok"' in body.replace(" ", "")
        collections = _get_when_up(f"http://127.0.0.1:{port}/collections", server)
        assert "base.buildings" in collections
    finally:
        server.terminate()
        server.wait(timeout=20)
        server.stdout.close()


def test_serve_refuses_a_registry_that_does_not_match(demo_settings, demo_load):
    result = run(
        demo_settings,
        "serve",
        "--port",
        str(free_port()),
        extra_env={
            "GEOPLATFORM_MODULES": "base,tests.fixtures.broken",
            "PYTHONPATH": str(REPO_ROOT),
        },
    )
    assert result.returncode == 2
    assert "layer broken.roads: column speed_limit does not exist in base.roads" in result.stderr


def _get_when_up(url: str, server: subprocess.Popen, wait: float = 30) -> str:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"server exited: {server.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"no answer from {url} within {wait} s")


def test_serve_refuses_more_workers_than_the_server_has_connections_for(demo_settings, demo_load):
    # 200 workers x (3 x 5 + 1) connections is far beyond PostgreSQL's default of 100.
    result = run(demo_settings, "serve", "--workers", "200", "--port", str(free_port()))
    assert result.returncode == 1
    assert "200 workers may open 3200 connections (16 each with GEOPLATFORM_DB_POOL_SIZE=5)" in (
        result.stderr
    )
    assert "lower GEOPLATFORM_WORKERS or GEOPLATFORM_DB_POOL_SIZE" in result.stderr
